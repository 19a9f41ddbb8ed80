/* Depthwise-convolution kernels for the avx512 path. */
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")
#define FC_VBYTES 64
#define FC_DW_ROWS fc_depthwise_rows__avx512
#define FC_DW_GRAD fc_depthwise_grad__avx512
#include "conv/depthwise_kernels.inc"

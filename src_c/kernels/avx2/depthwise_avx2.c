/* Depthwise-convolution kernels for the avx2 path. */
#pragma GCC target("avx2,fma")
#define FC_VBYTES 32
#define FC_DW_ROWS fc_depthwise_rows__avx2
#define FC_DW_GRAD fc_depthwise_grad__avx2
#include "conv/depthwise_kernels.inc"

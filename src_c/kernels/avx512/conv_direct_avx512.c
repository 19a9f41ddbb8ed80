/* Direct-convolution kernels for the avx512 path. */
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")
#define FC_VBYTES 64
#define FC_DIRECT_ROWS fc_conv_direct_rows__avx512
#define FC_DIRECT_DW fc_conv_direct_dw__avx512
#include "conv/direct_kernels.inc"

/* Direct-convolution kernels for the avx2 path. */
#pragma GCC target("avx2,fma")
#define FC_VBYTES 32
#define FC_DIRECT_ROWS fc_conv_direct_rows__avx2
#define FC_DIRECT_DW fc_conv_direct_dw__avx2
#include "conv/direct_kernels.inc"

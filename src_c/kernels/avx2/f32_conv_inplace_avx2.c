/* The im2col forward's in-place product (weights broadcast from their rows), avx2. */
#pragma GCC target("avx2,fma")
#include "kernels/avx2/avx2.h"
#define FC_VBYTES 32
#define FC_CONV_INPLACE_MR 6
#define FC_CONV_INPLACE_UKERNEL fc_f32_conv_inplace_ukernel_6x2v__avx2
#include "kernels/f32_conv_inplace.inc"

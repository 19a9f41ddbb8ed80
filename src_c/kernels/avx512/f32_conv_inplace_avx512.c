/* The im2col forward's in-place product (weights broadcast from their rows), avx512. */
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")
#include "kernels/avx512/avx512.h"
#define FC_VBYTES 64
#define FC_CONV_INPLACE_MR 12
#define FC_CONV_INPLACE_UKERNEL fc_f32_conv_inplace_ukernel_12x2v__avx512
#include "kernels/f32_conv_inplace.inc"

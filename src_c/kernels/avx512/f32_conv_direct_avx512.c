/* Direct-convolution micro-kernels, avx512. */
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")
#include "kernels/avx512/avx512.h"
#define FC_VBYTES 64
#define FC_CONV_DIRECT_UKERNEL fc_f32_conv_direct_ukernel_8x32__avx512
#define FC_CONV_DIRECT_BWD_WEIGHTS_UKERNEL fc_f32_conv_direct_bwd_weights_ukernel_8x3__avx512
#include "kernels/f32_conv_direct.inc"

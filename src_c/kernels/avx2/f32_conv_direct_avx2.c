/* Direct-convolution micro-kernels, avx2. */
#pragma GCC target("avx2,fma")
#include "kernels/avx2/avx2.h"
#define FC_VBYTES 32
#define FC_CONV_DIRECT_UKERNEL fc_f32_conv_direct_ukernel_8x16__avx2
#define FC_CONV_DIRECT_BWD_WEIGHTS_UKERNEL fc_f32_conv_direct_bwd_weights_ukernel_4x3__avx2
#include "kernels/f32_conv_direct.inc"

/* Depthwise-convolution micro-kernels, avx2. */
#pragma GCC target("avx2,fma")
#include "kernels/avx2/avx2.h"
#define FC_VBYTES 32
#define FC_DEPTHWISE_UKERNEL fc_f32_depthwise_ukernel_2x16__avx2
#define FC_DEPTHWISE_BWD_WEIGHTS_UKERNEL fc_f32_depthwise_bwd_weights_ukernel_16x8__avx2
#define FC_DEPTHWISE_LANES_UKERNEL fc_f32_depthwise_lanes_ukernel_8__avx2
#define FC_DEPTHWISE_LANES_BWW_UKERNEL fc_f32_depthwise_lanes_bww_ukernel_8__avx2
#include "kernels/f32_depthwise.inc"

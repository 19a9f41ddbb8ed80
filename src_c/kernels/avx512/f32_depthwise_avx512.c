/* Depthwise-convolution micro-kernels, avx512. */
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")
#include "kernels/avx512/avx512.h"
#define FC_VBYTES 64
#define FC_DEPTHWISE_UKERNEL fc_f32_depthwise_ukernel_2x64__avx512
#define FC_DEPTHWISE_BWD_WEIGHTS_UKERNEL fc_f32_depthwise_bwd_weights_ukernel_16x16__avx512
#define FC_DEPTHWISE_LANES_UKERNEL fc_f32_depthwise_lanes_ukernel_16__avx512
#define FC_DEPTHWISE_LANES_BWW_UKERNEL fc_f32_depthwise_lanes_bww_ukernel_16__avx512
#include "kernels/f32_depthwise.inc"

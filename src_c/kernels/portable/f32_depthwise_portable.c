/* Depthwise-convolution micro-kernels, portable. */
#include "kernels/portable/portable.h"
#define FC_VBYTES 16
#define FC_DEPTHWISE_UKERNEL fc_f32_depthwise_ukernel_2x8__portable
#define FC_DEPTHWISE_BWD_WEIGHTS_UKERNEL fc_f32_depthwise_bwd_weights_ukernel_16x4__portable
#define FC_DEPTHWISE_LANES_UKERNEL fc_f32_depthwise_lanes_ukernel_4__portable
#define FC_DEPTHWISE_LANES_BWW_UKERNEL fc_f32_depthwise_lanes_bww_ukernel_4__portable
#include "kernels/f32_depthwise.inc"

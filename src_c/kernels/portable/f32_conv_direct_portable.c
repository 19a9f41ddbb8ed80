/* Direct-convolution micro-kernels, portable. */
#include "kernels/portable/portable.h"
#define FC_VBYTES 16
#define FC_CONV_DIRECT_UKERNEL fc_f32_conv_direct_ukernel_8x8__portable
#define FC_CONV_DIRECT_BWD_WEIGHTS_UKERNEL fc_f32_conv_direct_bwd_weights_ukernel_4x3__portable
#include "kernels/f32_conv_direct.inc"

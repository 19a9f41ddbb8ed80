/* Flat-tap direct-convolution kernel (first layers), portable. */
#include "kernels/portable/portable.h"
#define FC_VBYTES 16
#define FC_CONV_SMALLC_UKERNEL fc_f32_conv_smallc_ukernel_4x12__portable
#include "kernels/f32_conv_smallc.inc"

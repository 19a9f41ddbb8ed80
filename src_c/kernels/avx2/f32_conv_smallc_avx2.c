/* Flat-tap direct-convolution kernel (first layers), avx2. */
#pragma GCC target("avx2,fma")
#include "kernels/avx2/avx2.h"
#define FC_VBYTES 32
#define FC_CONV_SMALLC_UKERNEL fc_f32_conv_smallc_ukernel_4x24__avx2
#include "kernels/f32_conv_smallc.inc"

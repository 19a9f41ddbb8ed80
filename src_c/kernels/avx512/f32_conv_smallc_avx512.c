/* Flat-tap direct-convolution kernel (first layers), avx512. */
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")
#include "kernels/avx512/avx512.h"
#define FC_VBYTES 64
#define FC_CONV_SMALLC_UKERNEL fc_f32_conv_smallc_ukernel_8x48__avx512
#include "kernels/f32_conv_smallc.inc"

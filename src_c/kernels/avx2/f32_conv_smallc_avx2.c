/* Flat-tap direct-convolution kernel (first layers), avx2. */
#pragma GCC target("avx2,fma")
#include "kernels/avx2/avx2.h"
#define FC_VBYTES 32
/* Two taps a loop iteration: the loop's counter, compare and branch once per 24 FMAs
 * instead of 12 (25 instructions a tap before). Zen 3, one thread, callgrind: ResNet's
 * 7x7/2 first layer 34.5M -> 31.8M instructions a call, AlexNet's 11x11/4 32.3M ->
 * 29.5M; fastest of 3000 calls, ResNet's layer on 96x96 and 224x224 inputs 73-74 ->
 * 78-80 and 69-71 -> 72-74 GFLOP/s (peak 95). AVX-512's kernel (24 accumulators)
 * keeps one tap: not measured there. */
#define FC_SMALLC_UNROLL "GCC unroll 2"
#define FC_CONV_SMALLC_UKERNEL fc_f32_conv_smallc_ukernel_4x24__avx2
#include "kernels/f32_conv_smallc.inc"

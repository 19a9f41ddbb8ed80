/* Blocked-layout (NCHW8c) direct-convolution micro-kernel, avx2: 2 blocks x 6 pixels
 * of accumulators (12 of the 16 ymm registers). */
#pragma GCC target("avx2,fma")
#include "kernels/avx2/avx2.h"
#define FC_BLOCKED_NP 6
#define FC_CONV_BLOCKED_UKERNEL fc_f32_conv_blocked_ukernel_16x6__avx2
#include "kernels/f32_conv_blocked.inc"

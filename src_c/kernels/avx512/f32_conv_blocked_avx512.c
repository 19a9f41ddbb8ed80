/* Blocked-layout (NCHW8c) direct-convolution micro-kernel, avx512: the 8-channel body
 * on ymm registers, 2 blocks x 10 pixels of accumulators (20 of the 32 registers
 * AVX-512VL gives). 10, not 12 or 14: on Zen 4, one thread, ResNet-18's 3x3 layers at
 * batch 1 ran at 110-112 GFLOP/s with 10 pixels, 104-111 with 12, 98-100 with 14 (the
 * compiler's register moves and spills grow with the tile) and 108-110 with 8. */
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")
#include "kernels/avx512/avx512.h"
#define FC_BLOCKED_NP 10
#define FC_CONV_BLOCKED_UKERNEL fc_f32_conv_blocked_ukernel_16x10__avx512
#include "kernels/f32_conv_blocked.inc"

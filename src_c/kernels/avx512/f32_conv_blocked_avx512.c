/* Blocked-layout (NCHW8c) direct-convolution micro-kernel, avx512: the 8-channel body
 * on ymm registers, 2 blocks x 12 pixels of accumulators (24 of the 32 registers
 * AVX-512VL gives). */
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")
#include "kernels/avx512/avx512.h"
#define FC_BLOCKED_NP 12
#define FC_CONV_BLOCKED_UKERNEL fc_f32_conv_blocked_ukernel_16x12__avx512
#include "kernels/f32_conv_blocked.inc"

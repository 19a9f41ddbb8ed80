/* Blocked-layout (NCHW8c) direct-convolution micro-kernel, avx2: 2 blocks x 6 pixels
 * of accumulators (12 of the 16 ymm registers). */
#pragma GCC target("avx2,fma")
#include "kernels/avx2/avx2.h"
#define FC_BLOCKED_NP 6
/* The C reduction (a last single block, segments of more than BLK_ASM_TAPS taps, builds
 * without the assembly below) unrolled twice, with a loop of its own for 1x1 layers
 * (f32_conv_blocked.inc): on Zen 3,
 * one thread, single layers of the inference plan, GFLOP/s against a peak of 103:
 * ResNet-50's 1x1 layers 70-76 -> 83-88 (64 -> 256 at 56x56: 64 -> 75), 3x3 64@56
 * 89 -> 91, 256@14 94 -> 96. Unrolled 4 times: 59-84 (spills again); once: 3x3
 * layers 5-9% slower. */
#define FC_BLOCKED_UNROLL "GCC unroll 2"
#define FC_BLOCKED_1X1_LOOP 1
/* Without the output prefetch on 1x1 layers: ResNet-50 batch 1, one thread, the 16
 * groups of its 1x1 layers, fastest of five alternating runs: 55.7 -> 53.2 ms, 15 of 16
 * faster (3x3 layers lost without it: 512 @ 7x7 2.78 -> 3.12 ms). */
#define FC_BLOCKED_PREFETCH_1X1 0
/* (the assembly needs the tile size as a constant: an optimizing build) */
#if defined(__x86_64__) && defined(__OPTIMIZE__) && !defined(FC_BLOCKED_NO_ASM)
#include "kernels/avx2/blocked_pair_asm.h"
#define FC_BLOCKED_PAIR_ASM 1
#define BLK_ASM_TAPS 64 /* segments of more taps run the C loop */
#define BLK_ASM_BLOCKS 2 /* output blocks of its tile: a pair */
#endif
#define FC_CONV_BLOCKED_UKERNEL fc_f32_conv_blocked_ukernel_16x6__avx2
#include "kernels/f32_conv_blocked.inc"

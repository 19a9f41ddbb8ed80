/* Blocked-layout (NCHW8c) direct-convolution micro-kernel, avx512: 10 pixels x two
 * pairs of blocks, a pair one zmm (FC_BLOCKED_WIDE: 20 accumulators). 10 pixels, not 12
 * or 14: on Zen 4, one thread, ResNet-18's 3x3 layers at batch 1 ran at 110-112
 * GFLOP/s with 10, 104-111 with 12, 98-100 with 14 (the compiler's register moves and
 * spills grow with the tile) and 108-110 with 8 (ymm pairs); zmm pairs with 12 and 16
 * measured no faster than 10. zmm pairs against ymm, ResNet-18 batch 1, 1 thread, CPU
 * time, medians of three alternating runs: the plan 37.9 -> 36.6 ms, 512 @ 7x7 8.9 ->
 * 8.2 ms (three layers), 256 @ 14x14 6.8 -> 6.6 (quads: kernels/f32_conv_blocked.inc). */
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")
#include "kernels/avx512/avx512.h"
#define FC_BLOCKED_NP 10
#define FC_BLOCKED_WIDE 1
/* (the assembly needs the tile size as a constant: an optimizing build) */
#if defined(__x86_64__) && defined(__OPTIMIZE__) && !defined(FC_BLOCKED_NO_ASM)
#include "kernels/avx512/blocked_quad_asm.h"
#define FC_BLOCKED_QUAD_ASM 1
#define BLK_ASM_TAPS 64 /* segments of more taps run the C loop */
#define BLK_ASM_BLOCKS 4 /* output blocks of its tile: a quad */
#endif
#define FC_CONV_BLOCKED_UKERNEL fc_f32_conv_blocked_ukernel_16x10__avx512
#include "kernels/f32_conv_blocked.inc"

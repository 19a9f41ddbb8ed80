/* The reduction of the AVX-512 blocked kernel's quad tile (kernels/f32_conv_blocked.inc:
 * NP pixels x two pairs of output blocks, a pair one zmm) in assembly, for the
 * included kernel file only. GCC's code for the same loop spilled a pixel pointer and
 * copied rotated accumulators; here the 20 accumulators, 10 pixel origins, the tap's
 * weights and four broadcasts stay in named registers for the whole reduction: input
 * blocks in the outer loop, the segment's taps (a list of a few entries) inside; a
 * layer of one tap runs a loop of its own, three instructions around the FMAs.
 * Intel Xeon (Sapphire Rapids class), one core, benchmarks/blocked_kernel: quad tiles
 * 54-59% -> 65-69% of the FMA peak on 64 input channels, 64-71% -> 75-85% on long
 * reductions; ResNet-50 batch 1, one thread, the inference plan's steps, fastest of
 * three alternating runs: 56.8 -> 53.9 ms. Built only when optimizing (the tile size
 * must be a constant), x86-64, and not with -DFC_BLOCKED_NO_ASM (for comparisons). */
#ifndef FC_BLOCKED_QUAD_ASM_H
#define FC_BLOCKED_QUAD_ASM_H

/* zmm0..9 the first pair's pixels, zmm10..19 the second's */
#define BLK_JOB_ACC 20
#define BLK_JOB_NP 10
#include "kernels/blocked_asm_job.h"
BLK_JOB_LAYOUT(0, 80, 88, 96, 104, 112, 120);

/* Registers: pixel p's origin in R (rsi, r8..r15, rdi), its accumulators zmm<p> and
 * zmm1<p>; rax the tap's weights, rbx `second`, rcx the tap's offset, rdx the tap
 * list; xmm28 x_cb, xmm29 the input blocks left, xmm30 the list's start, xmm31 the
 * job. Channel i of the tap: weights in W0, W1, pixel p broadcast into T. */
#define BQ_PX(i, p, R, T, W0, W1)                                              \
    ".if " #p " < %c[np]\n\t"                                                  \
    "vbroadcastss " #i "*4(%%" R ",%%rcx), %%zmm" #T "\n\t"                    \
    "vfmadd231ps %%zmm" #T ", %%zmm" #W0 ", %%zmm" #p "\n\t"                   \
    "vfmadd231ps %%zmm" #T ", %%zmm" #W1 ", %%zmm1" #p "\n\t"                  \
    ".endif\n\t"
#define BQ_CH(i, W0, W1)                                                       \
    "vmovups " #i "*64(%%rax), %%zmm" #W0 "\n\t"                               \
    "vmovups " #i "*64(%%rax,%%rbx), %%zmm" #W1 "\n\t"                         \
    BQ_PX(i, 0, "rsi", 22, W0, W1) BQ_PX(i, 1, "r8", 23, W0, W1)               \
    BQ_PX(i, 2, "r9", 24, W0, W1) BQ_PX(i, 3, "r10", 25, W0, W1)               \
    BQ_PX(i, 4, "r11", 22, W0, W1) BQ_PX(i, 5, "r12", 23, W0, W1)              \
    BQ_PX(i, 6, "r13", 24, W0, W1) BQ_PX(i, 7, "r14", 25, W0, W1)              \
    BQ_PX(i, 8, "r15", 22, W0, W1) BQ_PX(i, 9, "rdi", 23, W0, W1)
/* for each pixel p: OP with its registers */
#define BQ_ZERO(p) ".if " #p " < %c[np]\n\tvpxord %%zmm" #p ", %%zmm" #p ", %%zmm" #p \
    "\n\tvpxord %%zmm1" #p ", %%zmm1" #p ", %%zmm1" #p "\n\t.endif\n\t"
#define BQ_ORIGIN(p, R) ".if " #p " < %c[np]\n\tmov 8*" #p "(%%rdi), %%" R "\n\t.endif\n\t"
#define BQ_NEXT(p, R) ".if " #p " < %c[np]\n\tadd %%rcx, %%" R "\n\t.endif\n\t"
#define BQ_EACH(M)                                                             \
    M(0, "rsi") M(1, "r8") M(2, "r9") M(3, "r10") M(4, "r11") M(5, "r12")      \
    M(6, "r13") M(7, "r14") M(8, "r15") M(9, "rdi")
#define BQ_EACH1(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9)

/* acc[0..9] (the first pair's pixels), acc[10..19] (the second's) = the reduction over
 * job->cb input blocks and the tap list, NP (1..10) pixels: the accumulators leave the
 * assembly as register outputs, not through memory, so the epilogue starts from
 * them. */
typedef float blk_asm_acc __attribute__((vector_size(64)));
static inline __attribute__((always_inline)) void
blk_asm_reduce(blk_asm_job *job, blk_asm_acc *acc, const int NP) {
    register blk_asm_acc a0 __asm__("zmm0"), a1 __asm__("zmm1"), a2 __asm__("zmm2"),
        a3 __asm__("zmm3"), a4 __asm__("zmm4"), a5 __asm__("zmm5"), a6 __asm__("zmm6"),
        a7 __asm__("zmm7"), a8 __asm__("zmm8"), a9 __asm__("zmm9"), a10 __asm__("zmm10"),
        a11 __asm__("zmm11"), a12 __asm__("zmm12"), a13 __asm__("zmm13"),
        a14 __asm__("zmm14"), a15 __asm__("zmm15"), a16 __asm__("zmm16"),
        a17 __asm__("zmm17"), a18 __asm__("zmm18"), a19 __asm__("zmm19");
    __asm__ volatile(
        "vmovq %%rdi, %%xmm31\n\t"
        "vmovq 96(%%rdi), %%xmm28\n\t"
        "vmovq 104(%%rdi), %%xmm29\n\t"
        "vmovq 112(%%rdi), %%xmm30\n\t"
        "mov 80(%%rdi), %%rax\n\t"
        "mov 88(%%rdi), %%rbx\n\t"
        "mov 120(%%rdi), %%rcx\n\t"
        BQ_EACH1(BQ_ZERO)
        BQ_EACH(BQ_ORIGIN)
        "test %%rcx, %%rcx\n\t"
        "jnz 5f\n"
        "3:\n\t"                          /* an input block */
        "vmovq %%xmm30, %%rdx\n\t"
        "1:\n\t"                          /* a tap */
        "mov (%%rdx), %%rcx\n\t"
        "test %%rcx, %%rcx\n\t"
        "js 2f\n\t"
        BQ_CH(0, 20, 21) BQ_CH(1, 26, 27) BQ_CH(2, 20, 21) BQ_CH(3, 26, 27)
        BQ_CH(4, 20, 21) BQ_CH(5, 26, 27) BQ_CH(6, 20, 21) BQ_CH(7, 26, 27)
        "add 8(%%rdx), %%rax\n\t"
        "add $16, %%rdx\n\t"
        "jmp 1b\n"
        "2:\n\t"                          /* the next input block */
        "vmovq %%xmm28, %%rcx\n\t"
        BQ_EACH(BQ_NEXT)
        "vmovq %%xmm29, %%rcx\n\t"
        "sub $1, %%rcx\n\t"
        "vmovq %%rcx, %%xmm29\n\t"
        "jnz 3b\n\t"
        "jmp 6f\n"
        "5:\n\t"                          /* one tap: rcx runs up to 0 */
        "vmovq %%xmm28, %%rdx\n"
        "4:\n\t"
        BQ_CH(0, 20, 21) BQ_CH(1, 26, 27) BQ_CH(2, 20, 21) BQ_CH(3, 26, 27)
        BQ_CH(4, 20, 21) BQ_CH(5, 26, 27) BQ_CH(6, 20, 21) BQ_CH(7, 26, 27)
        "add $512, %%rax\n\t"           /* the next block's weights: one tap on */
        "add %%rdx, %%rcx\n\t"
        "jnz 4b\n"
        "6:\n\t"
        "vmovq %%xmm31, %%rdi\n\t"
        : "+D"(job), "=v"(a0), "=v"(a1), "=v"(a2), "=v"(a3), "=v"(a4), "=v"(a5), "=v"(a6),
          "=v"(a7), "=v"(a8), "=v"(a9), "=v"(a10), "=v"(a11), "=v"(a12), "=v"(a13),
          "=v"(a14), "=v"(a15), "=v"(a16), "=v"(a17), "=v"(a18), "=v"(a19)
        : [np] "i"(NP)
        : "rax", "rbx", "rcx", "rdx", "rsi", "r8", "r9", "r10", "r11", "r12", "r13", "r14",
          "r15", "memory", "cc", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25",
          "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31");
    acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3, acc[4] = a4, acc[5] = a5;
    acc[6] = a6, acc[7] = a7, acc[8] = a8, acc[9] = a9, acc[10] = a10, acc[11] = a11;
    acc[12] = a12, acc[13] = a13, acc[14] = a14, acc[15] = a15, acc[16] = a16;
    acc[17] = a17, acc[18] = a18, acc[19] = a19;
}
#undef BQ_PX
#undef BQ_CH
#undef BQ_ZERO
#undef BQ_ORIGIN
#undef BQ_NEXT
#undef BQ_EACH
#undef BQ_EACH1

#endif

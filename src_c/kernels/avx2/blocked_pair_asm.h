/* The reduction of the AVX2 blocked kernel's pair tile (kernels/f32_conv_blocked.inc:
 * NP pixels x two output blocks, 12 ymm accumulators) in assembly, for the included
 * kernel file only. GCC's loop, unrolled twice to keep the accumulators in its 16
 * registers, addressed the broadcasts through an index register and spent 44
 * instructions on 24 FMAs plus a block's loop overhead; here the 8 channels of a tap
 * are one straight run (20 instructions for 12 FMAs, weights and broadcasts at fixed
 * offsets), the 6 pixel origins, the weights and the tap list in named registers, input
 * blocks in the outer loop and the segment's taps inside; a layer of one tap runs a
 * loop of its own, three instructions around the FMAs. The job and its tap list are
 * the AVX-512 quad's (avx512/blocked_quad_asm.h) with one pair instead of two.
 * Built only when optimizing (the tile size must be a constant), x86-64, and not with
 * -DFC_BLOCKED_NO_ASM (for comparisons). */
#ifndef FC_BLOCKED_PAIR_ASM_H
#define FC_BLOCKED_PAIR_ASM_H

/* ymm0..5 the first block's pixels, ymm6..11 the second's */
#define BLK_JOB_ACC 12
#define BLK_JOB_NP 6
#include "kernels/blocked_asm_job.h"
BLK_JOB_LAYOUT(0, 48, 56, 64, 72, 80, 88);

/* Registers: pixel p's origin in R (rsi, r8..r12), its accumulators ymm<p> and
 * ymm<6+p>; rax the tap's weights, rcx the tap's offset, rdx the tap list, r13 x_cb,
 * r14 the input blocks left, r15 the list's start, rdi the job. Channel i of the tap:
 * its weights in ymm12, ymm13, pixel p broadcast into T (ymm14, ymm15 in turn). */
#define BP_PX(i, p, q, R, T)                                                   \
    ".if " #p " < %c[np]\n\t"                                                  \
    "vbroadcastss " #i "*4(%%" R ",%%rcx), %%ymm" #T "\n\t"                    \
    "vfmadd231ps %%ymm" #T ", %%ymm12, %%ymm" #p "\n\t"                        \
    "vfmadd231ps %%ymm" #T ", %%ymm13, %%ymm" #q "\n\t"                        \
    ".endif\n\t"
#define BP_CH(i)                                                               \
    "vmovups " #i "*64(%%rax), %%ymm12\n\t"                                    \
    "vmovups " #i "*64+32(%%rax), %%ymm13\n\t"                                 \
    BP_PX(i, 0, 6, "rsi", 14) BP_PX(i, 1, 7, "r8", 15) BP_PX(i, 2, 8, "r9", 14) \
    BP_PX(i, 3, 9, "r10", 15) BP_PX(i, 4, 10, "r11", 14) BP_PX(i, 5, 11, "r12", 15)
#define BP_TAP BP_CH(0) BP_CH(1) BP_CH(2) BP_CH(3) BP_CH(4) BP_CH(5) BP_CH(6) BP_CH(7)
/* for each pixel p: OP with its registers */
#define BP_ZERO(p, q) ".if " #p " < %c[np]\n\tvxorps %%ymm" #p ", %%ymm" #p ", %%ymm" #p \
    "\n\tvxorps %%ymm" #q ", %%ymm" #q ", %%ymm" #q "\n\t.endif\n\t"
#define BP_ORIGIN(p, R) ".if " #p " < %c[np]\n\tmov 8*" #p "(%%rdi), %%" R "\n\t.endif\n\t"
#define BP_NEXT(p, R) ".if " #p " < %c[np]\n\tadd %%r13, %%" R "\n\t.endif\n\t"
#define BP_EACH(M) M(0, "rsi") M(1, "r8") M(2, "r9") M(3, "r10") M(4, "r11") M(5, "r12")
#define BP_EACH2(M) M(0, 6) M(1, 7) M(2, 8) M(3, 9) M(4, 10) M(5, 11)

/* acc[0..5] (the first block's pixels), acc[6..11] (the second's) = the reduction over
 * job->cb input blocks and the tap list, NP (1..6) pixels: the accumulators leave the
 * assembly as register outputs, not through memory, so the epilogue starts from
 * them. */
typedef float blk_asm_acc __attribute__((vector_size(32)));
static inline __attribute__((always_inline)) void
blk_asm_reduce(const blk_asm_job *job, blk_asm_acc *acc, const int NP) {
    register blk_asm_acc a0 __asm__("ymm0"), a1 __asm__("ymm1"), a2 __asm__("ymm2"),
        a3 __asm__("ymm3"), a4 __asm__("ymm4"), a5 __asm__("ymm5"), a6 __asm__("ymm6"),
        a7 __asm__("ymm7"), a8 __asm__("ymm8"), a9 __asm__("ymm9"), a10 __asm__("ymm10"),
        a11 __asm__("ymm11");
    __asm__ volatile(
        "mov 48(%%rdi), %%rax\n\t"
        "mov 64(%%rdi), %%r13\n\t"
        "mov 72(%%rdi), %%r14\n\t"
        "mov 80(%%rdi), %%r15\n\t"
        "mov 88(%%rdi), %%rcx\n\t"
        BP_EACH2(BP_ZERO)
        BP_EACH(BP_ORIGIN)
        "test %%rcx, %%rcx\n\t"
        "jnz 5f\n"
        "3:\n\t"                          /* an input block */
        "mov %%r15, %%rdx\n"
        "1:\n\t"                          /* a tap */
        "mov (%%rdx), %%rcx\n\t"
        "test %%rcx, %%rcx\n\t"
        "js 2f\n\t"
        BP_TAP
        "add 8(%%rdx), %%rax\n\t"
        "add $16, %%rdx\n\t"
        "jmp 1b\n"
        "2:\n\t"                          /* the next input block */
        BP_EACH(BP_NEXT)
        "sub $1, %%r14\n\t"
        "jnz 3b\n\t"
        "jmp 6f\n"
        "5:\n\t"                          /* one tap: rcx runs up to 0 */
        BP_TAP
        "add $512, %%rax\n\t"           /* the next block's weights: one tap on */
        "add %%r13, %%rcx\n\t"
        "jnz 5b\n"
        "6:\n\t"
        : "=x"(a0), "=x"(a1), "=x"(a2), "=x"(a3), "=x"(a4), "=x"(a5), "=x"(a6), "=x"(a7),
          "=x"(a8), "=x"(a9), "=x"(a10), "=x"(a11)
        : "D"(job), [np] "i"(NP)
        : "rax", "rcx", "rdx", "rsi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
          "memory", "cc", "xmm12", "xmm13", "xmm14", "xmm15");
    acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3, acc[4] = a4, acc[5] = a5;
    acc[6] = a6, acc[7] = a7, acc[8] = a8, acc[9] = a9, acc[10] = a10, acc[11] = a11;
}
#undef BP_PX
#undef BP_CH
#undef BP_TAP
#undef BP_ZERO
#undef BP_ORIGIN
#undef BP_NEXT
#undef BP_EACH
#undef BP_EACH2

#endif

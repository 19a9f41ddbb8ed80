/* The job of a blocked kernel's tile reduction in assembly (avx512/blocked_quad_asm.h,
 * avx2/blocked_pair_asm.h), filled by kernels/f32_conv_blocked.inc's blk_asm_fill. The
 * including header sets BLK_JOB_ACC (its accumulator registers, the reduction's register
 * outputs) and BLK_JOB_NP (pixels), and checks the offsets its assembly reads. */
#ifndef FC_BLOCKED_ASM_JOB_H
#define FC_BLOCKED_ASM_JOB_H

#include <stdint.h>

/* What the assembly reads, at fixed offsets. */
typedef struct blk_asm_job {
    const float *xq[BLK_JOB_NP]; /* each pixel's input origin, input block 0 */
    const float *w;          /* the first tap's weights of input block 0 (first pair) */
    int64_t second;          /* bytes from a pair's weights to the second pair's (quads) */
    int64_t x_cb;            /* bytes between input blocks */
    int64_t cb;              /* input blocks (>= 1) */
    /* per tap: byte offset from the origins, then bytes to the next tap's weights (the
     * last: to the next input block's first tap); ended by an offset of -1 */
    const int64_t *taps;
    /* nonzero for a layer of one tap (T = 1): then xq are each pixel's origin past
     * the last input block and the blocks run at start, start + x_cb, ..., -x_cb (a
     * loop of three instructions around the taps' FMAs) */
    int64_t start;
} blk_asm_job;

/* The byte offsets the including header's assembly reads the fields at. */
#define BLK_JOB_AT(f, at) _Static_assert(__builtin_offsetof(blk_asm_job, f) == (at), "job layout")
#define BLK_JOB_LAYOUT(o_xq, o_w, o_second, o_x_cb, o_cb, o_taps, o_start)             \
    BLK_JOB_AT(xq, o_xq); BLK_JOB_AT(w, o_w); BLK_JOB_AT(second, o_second);           \
    BLK_JOB_AT(x_cb, o_x_cb); BLK_JOB_AT(cb, o_cb); BLK_JOB_AT(taps, o_taps);         \
    BLK_JOB_AT(start, o_start)

#endif

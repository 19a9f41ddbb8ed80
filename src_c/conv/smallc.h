/* Direct convolution over a flat tap list: the contract of the per-ISA kernels
 * (kernels/<isa>/f32_conv_smallc_<isa>.c, one body in kernels/f32_conv_smallc.inc)
 * that conv/direct.c runs for few input channels with large kernels (first layers:
 * 3 channels, 7x7/2, 11x11/4, 3x3). There the nested channel/row/column tap loops of
 * the direct kernel are short (S of 3..11 taps) and their overhead rivals the FMAs;
 * one flat loop over all C*R*S taps, each with a precomputed input offset, keeps the
 * register tile busy. Input and weights use direct.h's layouts (phase-split padded
 * planes, weights [cin][R][S][FC_DIRECT_KB] per block of output channels). */
#ifndef FC_CONV_SMALLC_H
#define FC_CONV_SMALLC_H

#include "../core/internal.h"
#include "direct.h"

/* Input channels (per group) up to which conv/direct.c runs this kernel. */
#define FC_SMALLC_MAX_CIN 4

typedef struct fc_smallc_rows {
    const float *x;           /* the packed planes of one image and group */
    int64_t row_step;         /* floats between the inputs of output rows oh and oh+1 */
    int64_t ntaps;            /* cin * R * S */
    const int64_t *toff;      /* ntaps byte offsets into x of each tap for output (0, 0)
                                 (bytes: one addressing mode, no scaling per tap) */
    const float *wp;          /* packed weights [ntaps][FC_DIRECT_KB] of this block */
    int64_t kb;               /* valid output channels in the block (<= FC_DIRECT_KB) */
    int64_t OW;
    float *y;                 /* first output plane of the block */
    int64_t y_plane;
    /* The forward epilogue (conv/epilogue.h) as in fc_direct_rows. */
    const float *bias, *scale, *res;
    int relu;
} fc_smallc_rows;

/* y rows [oh0, oh1) of the block's channels. Reads at most one vector (16 floats)
 * past the last tap's last valid input, which FC_DIRECT_SLACK covers. */
typedef void (*fc_smallc_rows_fn)(const fc_smallc_rows *a, int64_t oh0, int64_t oh1);

#endif

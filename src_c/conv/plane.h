/* Padded, stride-phase planes: the input copy that direct, depthwise and Winograd
 * convolution run their kernels on, so that every tap reads a contiguous row with no
 * bounds check.
 *
 * A source plane [H][W] lands in a zero plane of Hp rows x Wp columns with source
 * (i, j) at (top + i*sh, left + j*sw) (sh, sw > 1 zero-upsample a gradient for
 * backward-data; top or left may be negative, dropping source rows/columns). Each
 * padded row is split into nph phases of `phase` floats: padded column c is stored at
 * (c % nph) * phase + c / nph, so a kernel whose output columns step by nph reads
 * consecutive floats.
 *
 * Pooling keeps its own row buffer (src_c/kernels/f32_pool.inc): it pads with -inf for
 * max pooling, packs one row at a time inside the kernel while the row is in L1, and
 * rewrites only the row's own slots between rows. */
#ifndef FC_PLANE_H
#define FC_PLANE_H

#include "../core/internal.h"

typedef struct fc_plane_geom {
    int64_t H, W;          /* source plane */
    int64_t top, left;     /* where source row 0 / column 0 land */
    int64_t Hp, Wp;        /* padded plane */
    int64_t sh, sw;        /* source sampling */
    int64_t nph;           /* phases per row (the consumer's column stride) */
    int64_t phase, row, plane; /* floats per phase, per padded row (nph * phase), per plane */
} fc_plane_geom;

fc_plane_geom fc_plane_geom_make(int64_t H, int64_t W, int64_t top, int64_t left, int64_t Hp,
                                 int64_t Wp, int64_t sh, int64_t sw, int64_t nph);

/* Writes src [H][W] into its padded, phase-split copy dst [plane] (zeros elsewhere). */
void fc_plane_pack(const fc_plane_geom *g, const float *src, float *dst);

#endif

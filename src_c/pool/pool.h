/* Pooling: validation, threads and shared tables (pool/pool.c) around per-ISA plane
 * kernels reached through the registry (kernels/<isa>/f32_pool_<isa>.c, one body in
 * kernels/f32_pool.inc). */
#ifndef FC_POOL_H
#define FC_POOL_H

#include "../core/internal.h"

/* Largest padded extent per axis (threads keep a few padded rows of scratch each). */
#define FC_POOL_MAX_PADDED ((int64_t)1 << 26)

/* Row buffers are rounded to this many floats times the stride, the widest vector. */
#define FC_POOL_VMAX 16

/* The descriptor checked (dilation only for max pooling: is_avg 0) and its output size:
 * pool.c's entry points and the blocked layout's (pool/max_pool_nchw8c.c). */
fc_status fc_pool_check(const fc_pool2d_desc *d, int is_avg, int64_t *OH, int64_t *OW);

/* One plane's geometry plus tables shared (read-only) by every thread. */
typedef struct fc_pool_geom {
    int64_t H, W, OH, OW;
    int64_t kh, kw, sh, sw, dil_h, dil_w;
    int64_t pt, pb, pl;         /* top, bottom and left padding */
    int64_t L;                  /* padded row length: a multiple of sw * FC_POOL_VMAX */
    int64_t P;                  /* phase length L / sw: padded column q*sw + p is phase p, slot q */
    int64_t OWp;                /* OW rounded up to FC_POOL_VMAX, plus one vector */
    int64_t F;                  /* front margin of the per-row arrays (>= max tap slot + VMAX) */
    int64_t A;                  /* per-row array length: F + OWp + F */
    int64_t Q;                  /* phase slots a backward pass can reach: a multiple of VMAX, <= P */
    int count_include_pad;      /* avg: rows of padding count in the divisor */
    const float *coldiv;        /* avg: [OWp] window widths counted by the divisor (1 past OW) */
    const int32_t *tapfirst;    /* max: [OWp] first tap of each window inside the input */
    const int64_t *tapoff;      /* [kw] phase-buffer offset of tap j: (j*dil_w % sw) * P + j*dil_w / sw */
    const int64_t *tapslot;     /* [kw] j*dil_w / sw */
} fc_pool_geom;

/* Floats of per-thread scratch every plane kernel may use. */
/* Input rows whose horizontal max scans argmax keeps for the next output rows. */
#define FC_POOL_RING 32
static inline int64_t fc_pool_ring(const fc_pool_geom *g) {
    return g->kh * g->dil_h <= FC_POOL_RING ? g->kh * g->dil_h : 1;
}
static inline int64_t fc_pool_scratch(const fc_pool_geom *g) {
    return 4 * g->L + 4 * g->A + (2 * g->A + g->L) * fc_pool_ring(g);
}

/* Kernel contract: one plane at a time; `buf` is fc_pool_scratch floats, 64-byte aligned.
 * max_fwd: y = max over windows (padding never wins; NaN propagates).
 * argmax:  per window, the PyTorch scan result (first maximum, last NaN); writes y and/or
 *          idx (flat h*W+w) when non-NULL, and when gx is non-NULL overwrites the gx plane
 *          with the scatter-add of gy at those positions.
 * avg_fwd / avg_bwd: window sums divided by rowdiv * coldiv; avg_bwd overwrites gx. */
typedef struct fc_pool_ukernels {
    void (*max_fwd)(const fc_pool_geom *g, const float *x, float *y, float *buf);
    void (*argmax)(const fc_pool_geom *g, const float *x, float *y, int64_t *idx,
                   const float *gy, float *gx, float *buf);
    void (*avg_fwd)(const fc_pool_geom *g, const float *x, float *y, float *buf);
    void (*avg_bwd)(const fc_pool_geom *g, const float *gy, float *gx, float *buf);
    /* Global pooling of planes [0, np) of n floats each: y[p] = sum / div, or the max
     * (NaN if the plane holds one). */
    void (*means)(const float *x, int64_t n, int64_t np, float div, float *y);
    void (*maxes)(const float *x, int64_t n, int64_t np, float *y);
    float (*max)(const float *x, int64_t n);
} fc_pool_ukernels;

/* Window rows [first, last] of output row oh clipped to the input, and the count the
 * average divides by (PyTorch's rule: the window clipped to the padded extent, or to
 * the input when padding is not counted). Shared by forward and backward. */
static inline void fc_pool_rows(const fc_pool_geom *g, int64_t oh, int64_t *r0, int64_t *n) {
    int64_t a = oh * g->sh - g->pt;
    int64_t j0 = a < 0 ? (-a + g->dil_h - 1) / g->dil_h : 0;
    int64_t j1 = g->kh;                                  /* taps j0 .. j1-1 land inside */
    if (a + (j1 - 1) * g->dil_h >= g->H) j1 = (g->H - 1 - a) / g->dil_h + 1;
    *r0 = a + j0 * g->dil_h;
    *n = j1 > j0 ? j1 - j0 : 0;
}

#endif

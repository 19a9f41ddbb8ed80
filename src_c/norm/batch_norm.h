/* Batch normalization: validation, the per-channel arithmetic and threads
 * (norm/batch_norm.c) around per-ISA span kernels reached through the registry
 * (kernels/<isa>/f32_batch_norm_<isa>.c, one body in kernels/f32_batch_norm.inc). */
#ifndef FC_BATCH_NORM_H
#define FC_BATCH_NORM_H

#include "../core/internal.h"

/* Kernel contract. Each kernel walks one contiguous span x[0, n) of one channel (a
 * plane, or a piece of one); n >= 1; no alignment is assumed. The loops combine the
 * spans' partial sums (in a fixed order, whatever the thread count).
 *
 * stats:      out[0] = sum(x - shift), out[1] = sum((x - shift)^2), each summed in
 *             float over short blocks and the blocks in double (a shifted one-pass
 *             variance: shift is a sample of the channel, so no cancellation).
 * apply:      y = ((x - mean) - mean_lo) * scale + shift, then max(y, 0) when relu
 *             (mean + mean_lo: the mean to twice float's precision, so that a mean
 *             far from zero costs no digits). y may alias x.
 * bwd_reduce: with g = gy, or gy masked to 0 where y <= 0 when y is non-NULL (the
 *             fused ReLU's mask, recomputed from its output):
 *             out[0] = sum(g), out[1] = sum(g * (x - mean)), blocks as in stats.
 * bwd_apply:  gx = g * k + (x - mean) * cx + d, g as in bwd_reduce. gx may alias gy. */
typedef struct fc_batch_norm_ukernels {
    void (*stats)(const float *x, int64_t n, float shift, double out[2]);
    void (*apply)(const float *x, int64_t n, float mean, float mean_lo, float scale,
                  float shift, int relu, float *y);
    void (*bwd_reduce)(const float *gy, const float *x, const float *y, int64_t n, float mean,
                       double out[2]);
    void (*bwd_apply)(const float *gy, const float *x, const float *y, int64_t n, float mean,
                      float k, float cx, float d, float *gx);
} fc_batch_norm_ukernels;

#endif

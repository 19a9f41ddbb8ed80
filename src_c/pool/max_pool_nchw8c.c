/* Max pooling on the blocked channel layout NCHW8c (x[N][C/8][H][W][8]): a pixel's 8
 * channels are one vector and a window's maximum is one vector max per tap, so a network
 * kept in that layout between its convolutions pools without reordering around the
 * pool (AlexNet's pools between blocked layers: from_nchw8c, the NCHW pool and
 * to_nchw8c took 0.21 ms at batch 1 where onnxruntime's pool on its own blocked layout
 * took 0.05). The pool only moves memory: portable vectors serve every ISA. */
#include <string.h>

#include "pool.h"

#define CB 8

/* Half a block: the baseline x86-64 build has 16-byte vectors (a 32-byte generic
 * vector there compiled to scalar code: 1.05 ms for AlexNet's second pool). */
typedef float pool_v4 __attribute__((vector_size(16)));
typedef int32_t pool_v4i __attribute__((vector_size(16)));

static inline pool_v4 load4(const float *p) {
    pool_v4 v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* PyTorch's scan step: a larger value or a NaN takes the place. */
static inline pool_v4 max_scan(pool_v4 m, pool_v4 v) {
    pool_v4i take = (v > m) | (v != v);
    return (pool_v4)((take & (pool_v4i)v) | (~take & (pool_v4i)m));
}

/* Taps [*t0, *t1) of a window starting at `at` (the first tap's input index; taps d
 * apart) that fall inside [0, n). */
static inline void taps_inside(int64_t at, int64_t k, int64_t d, int64_t n, int64_t *t0,
                               int64_t *t1) {
    if (d == 1) { /* no division per window: it cost more than the window's maxima */
        *t0 = fc_max64(0, -at);
        *t1 = fc_min64(k, n - at);
        return;
    }
    *t0 = at < 0 ? (-at + d - 1) / d : 0;
    *t1 = at > n - 1 ? 0 : fc_min64(k, (n - 1 - at) / d + 1);
}

fc_status fc_max_pool2d_forward_nchw8c(const fc_pool2d_desc *d, const float *xb, float *yb) {
    FC_CALL_SCOPE();
    int64_t OH, OW;
    fc_status st = fc_pool_check(d, 0, &OH, &OW);
    if (st != FC_SUCCESS) return st;
    if (!xb || !yb) return FC_INVALID_ARGUMENT;
    int64_t planes, t;
    if (!fc_mul_ok(d->N, fc_ceil_div(d->C, CB), &planes) ||
        !fc_prod4(planes, d->H, d->W, CB, &t) || !fc_prod4(planes, OH, OW, CB, &t))
        return FC_SIZE_OVERFLOW;
    const int64_t H = d->H, W = d->W, rows = planes * OH;
    #pragma omp parallel for num_threads(fc_threads()) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        int64_t plane = r / OH, oh = r % OH, i0, i1;
        const float *x = xb + plane * H * W * CB;
        float *y = yb + r * OW * CB;
        int64_t h0 = oh * d->stride_h - d->pad_top;
        taps_inside(h0, d->kernel_h, d->dilation_h, H, &i0, &i1);
        for (int64_t ow = 0; ow < OW; ow++) {
            int64_t w0 = ow * d->stride_w - d->pad_left, j0, j1;
            taps_inside(w0, d->kernel_w, d->dilation_w, W, &j0, &j1);
            /* every window holds an input element (fc_pool_check), the first in
             * row-major order starts the scan */
            const float *first = x + ((h0 + i0 * d->dilation_h) * W + w0 + j0 * d->dilation_w) * CB;
            pool_v4 lo = load4(first), hi = load4(first + 4);
            for (int64_t i = i0; i < i1; i++) {
                const float *xr = x + (h0 + i * d->dilation_h) * W * CB;
                for (int64_t j = j0; j < j1; j++) {
                    const float *v = xr + (w0 + j * d->dilation_w) * CB;
                    lo = max_scan(lo, load4(v));
                    hi = max_scan(hi, load4(v + 4));
                }
            }
            memcpy(y + ow * CB, &lo, sizeof lo);
            memcpy(y + ow * CB + 4, &hi, sizeof hi);
        }
    }
    return FC_SUCCESS;
}

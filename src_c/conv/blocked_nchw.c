/* The NCHW forward through the blocked direct kernel, with the reorders at the call's
 * edge (conv/blocked_nchw.h). Everything goes through blocked.c's public functions, their
 * scopes nesting inside the caller's, but the forward itself: fc_blocked_forward_padded,
 * told which rows and columns of the input this file's reorder padded, so that it skips
 * their taps. */
#include <string.h>

#include "blocked.h"
#include "blocked_nchw.h"
#include "conv_desc.h"
#include "epilogue.h"

typedef struct bn_sizes {
    fc_conv2d_desc dp;       /* d on the padded input: pads 0 (the blocked forward's) */
    int64_t OH, OW;
    int64_t xb, yb;          /* floats of the blocked input and output (whole batch) */
    size_t wb;               /* floats of the arranged weights */
    size_t inner;            /* bytes of fc_conv2d_blocked_forward's workspace */
} bn_sizes;

static fc_status sizes(const fc_conv2d_desc *d, bn_sizes *s) {
    if (d->groups != 1) return FC_UNSUPPORTED_ALGORITHM;
    fc_status st = fc_conv2d_check(d, &s->OH, &s->OW);
    if (st != FC_SUCCESS) return st;
    int64_t cp = fc_ceil_div(d->C, FC_BLOCKED_CB) * FC_BLOCKED_CB;
    int64_t kp = fc_ceil_div(d->K, FC_BLOCKED_CB) * FC_BLOCKED_CB;
    /* The input is padded while it is reordered (one pass, not the blocked forward's
     * second copy): the blocked forward then sees an unpadded map. */
    s->dp = *d;
    s->dp.H = d->H + d->pad_top + d->pad_bottom;
    s->dp.W = d->W + d->pad_left + d->pad_right;
    s->dp.pad_top = s->dp.pad_bottom = s->dp.pad_left = s->dp.pad_right = 0;
    if (!fc_prod4(d->N, cp, s->dp.H, s->dp.W, &s->xb) ||
        !fc_prod4(d->N, kp, s->OH, s->OW, &s->yb))
        return FC_SIZE_OVERFLOW;
    st = fc_conv2d_blocked_weights_size(d, &s->wb);
    if (st != FC_SUCCESS) return st;
    return fc_conv2d_blocked_workspace_size(&s->dp, &s->inner);
}

size_t fc_blocked_pieces_bytes(int64_t xb, int64_t yb, size_t wb, size_t inner) {
    size_t total = 0;
    if (!fc_ws_add(&total, xb, sizeof(float)) || !fc_ws_add(&total, yb, sizeof(float)) ||
        wb > (size_t)INT64_MAX || !fc_ws_add(&total, (int64_t)wb, sizeof(float)) ||
        inner > (size_t)INT64_MAX || !fc_ws_add(&total, (int64_t)inner, 1))
        return SIZE_MAX;
    return total;
}

int fc_blocked_pieces_take(fc_arena *ws, int64_t xb, int64_t yb, size_t wb, size_t inner,
                           float **x, float **y, float **w, void **in) {
    *x = fc_arena_alloc(ws, (size_t)xb * sizeof(float));
    *y = fc_arena_alloc(ws, (size_t)yb * sizeof(float));
    *w = wb ? fc_arena_alloc(ws, wb * sizeof(float)) : NULL;
    *in = fc_arena_alloc(ws, inner);
    return *x && *y && (!wb || *w) && *in;
}

size_t fc_conv_blocked_nchw_workspace(const fc_conv2d_desc *d) {
    bn_sizes s;
    return sizes(d, &s) != FC_SUCCESS ? SIZE_MAX
                                      : fc_blocked_pieces_bytes(s.xb, s.yb, s.wb, s.inner);
}

/* Test hooks (not in fastconv.h): -1 AUTO's rule (conv2d.c), 0 never, 1 every AUTO
 * forward of one group and every AUTO stride-1 backward-data of one group that has a
 * flipped forward (conv/bwd_data_flipped.h); and how many forwards took the path, those
 * of backward-data included. Not thread-safe. */
FC_TEST_MODE(fc_conv_blocked_nchw_set_mode, fc_conv_blocked_nchw_override)
FC_TEST_COUNTER(fc_conv_blocked_nchw_runs)
/* and how many of them ran Winograd (fc_conv_blocked_nchw_winograd_forward) */
FC_TEST_COUNTER(fc_conv_blocked_nchw_winograd_runs)

void fc_blocked_reorder_padded(const fc_conv2d_desc *d, const fc_conv2d_desc *dp,
                               const float *x, float *xb) {
    int64_t CBn = fc_ceil_div(d->C, FC_BLOCKED_CB), HW = d->H * d->W;
    int64_t rows = d->N * CBn * dp->H, rowlen = dp->W * FC_BLOCKED_CB;
    #pragma omp parallel for num_threads(fc_threads()) schedule(static)
    for (int64_t pr = 0; pr < rows; pr++) {
        int64_t plane = pr / dp->H, h = pr % dp->H - d->pad_top;
        int64_t n = plane / CBn, c0 = plane % CBn * FC_BLOCKED_CB;
        int64_t cn = fc_min64(FC_BLOCKED_CB, d->C - c0);
        float *dst = xb + pr * rowlen;
        if (h < 0 || h >= d->H) {
            memset(dst, 0, (size_t)rowlen * sizeof(float));
            continue;
        }
        memset(dst, 0, (size_t)(d->pad_left * FC_BLOCKED_CB) * sizeof(float));
        memset(dst + (d->pad_left + d->W) * FC_BLOCKED_CB, 0,
               (size_t)(d->pad_right * FC_BLOCKED_CB) * sizeof(float));
        fc_blocked_gather_run(x + (n * d->C + c0) * HW + h * d->W, HW, d->W, cn,
                              dst + d->pad_left * FC_BLOCKED_CB);
    }
}

/* The kernel applies the whole epilogue at its stores. The residual (NCHW, perhaps y
 * itself) is reordered into the blocked output yb first, which the kernel reads before
 * it writes each place (its contract allows res == y): y is only written by the last
 * reorder, after the residual has been read. bep: ep with that residual. */
static fc_status blocked_epilogue(const fc_conv2d_desc *d, int64_t OH, int64_t OW,
                                  const fc_epilogue *ep, float *yb, fc_epilogue *bep) {
    *bep = *ep;
    if (!ep->residual) return FC_SUCCESS;
    bep->residual = yb;
    return fc_reorder_nchw_to_nchw8c(d->N, d->K, OH, OW, ep->residual, yb);
}

/* The forward from plain weights w (arranged here) or from weights the caller arranged
 * (wb_given, out of the same workspace). */
static fc_status forward(const fc_conv2d_desc *d, const float *x, const float *w,
                         const float *wb_given, const fc_epilogue *ep, float *y, fc_arena *ws) {
    bn_sizes s;
    fc_status st = sizes(d, &s);
    if (st != FC_SUCCESS) return st;
    if (d->N == 0) return FC_SUCCESS;
    float *xb, *yb, *own;
    void *inner;
    if (!fc_blocked_pieces_take(ws, s.xb, s.yb, wb_given ? 0 : s.wb, s.inner, &xb, &yb, &own,
                                &inner))
        return FC_INVALID_WORKSPACE;
    FC_TEST_COUNT(fc_conv_blocked_nchw_runs);

    fc_blocked_reorder_padded(d, &s.dp, x, xb);
    const float *wb = wb_given;
    if (!wb_given) {
        st = fc_conv2d_blocked_transform_weights(d, w, own, s.wb);
        if (st != FC_SUCCESS) return st;
        wb = own;
    }
    fc_epilogue bep;
    if ((st = blocked_epilogue(d, s.OH, s.OW, ep, yb, &bep)) != FC_SUCCESS) return st;
    st = fc_blocked_forward_padded(&s.dp, d->pad_top, d->H, d->pad_left, d->W, xb, wb, &bep, yb,
                                   inner, s.inner);
    if (st != FC_SUCCESS) return st;
    return fc_reorder_nchw8c_to_nchw(d->N, d->K, s.OH, s.OW, yb, y);
}

fc_status fc_conv_blocked_nchw_forward(const fc_conv2d_desc *d, const float *x, const float *w,
                                       const fc_epilogue *ep, float *y, fc_arena *ws) {
    return forward(d, x, w, NULL, ep, y, ws);
}

fc_status fc_conv_blocked_nchw_forward_arranged(const fc_conv2d_desc *d, const float *x,
                                                const float *wb, const fc_epilogue *ep,
                                                float *y, fc_arena *ws) {
    return forward(d, x, NULL, wb, ep, y, ws);
}

/* ------------------------------------------------- Winograd on the blocked layout */

typedef struct bw_sizes {
    int64_t OH, OW, xb, yb; /* floats of the blocked input (unpadded) and output */
    size_t wb, inner;       /* floats of the transformed filters; the forward's bytes */
} bw_sizes;

static fc_status wg_sizes(const fc_conv2d_desc *d, fc_conv_algorithm algo, bw_sizes *s) {
    fc_status st = fc_conv2d_check(d, &s->OH, &s->OW);
    if (st != FC_SUCCESS) return st;
    int64_t cp = fc_ceil_div(d->C, FC_BLOCKED_CB) * FC_BLOCKED_CB;
    int64_t kp = fc_ceil_div(d->K, FC_BLOCKED_CB) * FC_BLOCKED_CB;
    if (!fc_prod4(d->N, cp, d->H, d->W, &s->xb) || !fc_prod4(d->N, kp, s->OH, s->OW, &s->yb))
        return FC_SIZE_OVERFLOW;
    if ((st = fc_conv2d_blocked_winograd_weights_size(d, algo, &s->wb)) != FC_SUCCESS) return st;
    return fc_conv2d_blocked_winograd_workspace_size(d, algo, &s->inner);
}

size_t fc_conv_blocked_nchw_winograd_workspace(const fc_conv2d_desc *d, fc_conv_algorithm algo) {
    bw_sizes s;
    return wg_sizes(d, algo, &s) != FC_SUCCESS
               ? SIZE_MAX
               : fc_blocked_pieces_bytes(s.xb, s.yb, s.wb, s.inner);
}

fc_status fc_conv_blocked_nchw_winograd_forward(const fc_conv2d_desc *d, fc_conv_algorithm algo,
                                                const float *x, const float *w, int flipped,
                                                const fc_epilogue *ep, float *y, fc_arena *ws) {
    bw_sizes s;
    fc_status st = wg_sizes(d, algo, &s);
    if (st != FC_SUCCESS) return st;
    if (d->N == 0) return FC_SUCCESS;
    float *xb, *yb, *wb;
    void *inner;
    if (!fc_blocked_pieces_take(ws, s.xb, s.yb, s.wb, s.inner, &xb, &yb, &wb, &inner) || !wb)
        return FC_INVALID_WORKSPACE;
    FC_TEST_COUNT(fc_conv_blocked_nchw_runs);
    FC_TEST_COUNT(fc_conv_blocked_nchw_winograd_runs);

    st = fc_reorder_nchw_to_nchw8c(d->N, d->C, d->H, d->W, x, xb);
    if (st != FC_SUCCESS) return st;
    if ((st = fc_blocked_winograd_transform(d, algo, w, flipped, wb)) != FC_SUCCESS) return st;
    fc_epilogue bep;
    if ((st = blocked_epilogue(d, s.OH, s.OW, ep, yb, &bep)) != FC_SUCCESS) return st;
    st = fc_blocked_winograd_run(d, algo, xb, wb, w, flipped, &bep, yb, inner, s.inner);
    if (st != FC_SUCCESS) return st;
    return fc_reorder_nchw8c_to_nchw(d->N, d->K, s.OH, s.OW, yb, y);
}

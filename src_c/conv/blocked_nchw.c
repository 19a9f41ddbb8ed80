/* The NCHW forward through the blocked direct kernel, with the reorders at the call's
 * edge (conv/blocked_nchw.h). Everything goes through blocked.c's public functions;
 * their scopes nest inside the caller's. */
#include "blocked.h"
#include "blocked_nchw.h"
#include "conv_desc.h"
#include "epilogue.h"

typedef struct bn_sizes {
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
    if (!fc_prod4(d->N, cp, d->H, d->W, &s->xb) || !fc_prod4(d->N, kp, s->OH, s->OW, &s->yb))
        return FC_SIZE_OVERFLOW;
    st = fc_conv2d_blocked_weights_size(d, &s->wb);
    if (st != FC_SUCCESS) return st;
    return fc_conv2d_blocked_workspace_size(d, &s->inner);
}

size_t fc_conv_blocked_nchw_workspace(const fc_conv2d_desc *d) {
    bn_sizes s;
    if (sizes(d, &s) != FC_SUCCESS) return SIZE_MAX;
    size_t total = 0;
    if (!fc_ws_add(&total, s.xb, sizeof(float)) || !fc_ws_add(&total, s.yb, sizeof(float)) ||
        s.wb > (size_t)INT64_MAX || !fc_ws_add(&total, (int64_t)s.wb, sizeof(float)) ||
        s.inner > (size_t)INT64_MAX || !fc_ws_add(&total, (int64_t)s.inner, 1))
        return SIZE_MAX;
    return total;
}

/* Test hooks (not in fastconv.h): -1 AUTO's rule (conv2d.c), 0 never, 1 every AUTO
 * forward of one group; and how many forwards took the path. Not thread-safe. */
static int g_mode = -1;
static int64_t g_runs = 0;
FC_API void fc_conv_blocked_nchw_set_mode(int mode) { g_mode = mode < 0 ? -1 : mode > 0; }
int fc_conv_blocked_nchw_override(void) { return g_mode; }
FC_API int64_t fc_conv_blocked_nchw_runs(void) {
    return __atomic_load_n(&g_runs, __ATOMIC_RELAXED);
}

fc_status fc_conv_blocked_nchw_forward(const fc_conv2d_desc *d, const float *x, const float *w,
                                       const fc_epilogue *ep, float *y, fc_arena *ws) {
    bn_sizes s;
    fc_status st = sizes(d, &s);
    if (st != FC_SUCCESS) return st;
    if (d->N == 0) return FC_SUCCESS;
    float *xb = fc_arena_alloc(ws, (size_t)s.xb * sizeof(float));
    float *yb = fc_arena_alloc(ws, (size_t)s.yb * sizeof(float));
    float *wb = fc_arena_alloc(ws, s.wb * sizeof(float));
    void *inner = fc_arena_alloc(ws, s.inner);
    if (!xb || !yb || !wb || (s.inner && !inner)) return FC_INVALID_WORKSPACE;
    __atomic_add_fetch(&g_runs, 1, __ATOMIC_RELAXED);

    st = fc_reorder_nchw_to_nchw8c(d->N, d->C, d->H, d->W, x, xb);
    if (st == FC_SUCCESS) st = fc_conv2d_blocked_transform_weights(d, w, wb, s.wb);
    if (st != FC_SUCCESS) return st;
    /* The kernel applies the whole epilogue at its stores. The residual (NCHW, perhaps
     * y itself) is reordered into the blocked output first, which the kernel reads
     * before it writes each place (its contract allows res == y): y is only written by
     * the last reorder, after the residual has been read. */
    fc_epilogue bep = *ep;
    if (ep->residual) {
        st = fc_reorder_nchw_to_nchw8c(d->N, d->K, s.OH, s.OW, ep->residual, yb);
        if (st != FC_SUCCESS) return st;
        bep.residual = yb;
    }
    st = fc_conv2d_blocked_forward(d, xb, wb, &bep, yb, inner, s.inner);
    if (st != FC_SUCCESS) return st;
    return fc_reorder_nchw8c_to_nchw(d->N, d->K, s.OH, s.OW, yb, y);
}

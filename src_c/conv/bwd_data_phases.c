/* Backward-data of a strided convolution, one stride-1 blocked forward per phase of
 * grad_x (see bwd_data_phases.h). With stride sh and no dilation, the rows
 * ih = ph + sh*a of phase ph (ph < sh) receive
 *   gx[c][ih] = sum_{k, j < Rj} gy[k][a + e - j] * w[k][c][r0 + sh*j],
 *   r0 = (ph + pad_top) mod sh,  Rj = ceil((R - r0) / sh),  e = (ph + pad_top - r0) / sh,
 * a correlation of grad_y with the Rj rows of taps turned around, padded by Rj - 1 - e
 * above; likewise the columns. Phase (ph, pw) is thus the forward of grad_y (K channels
 * in, C out) with the Rj x Sj kernel w'[c][k][j'][i'] = w[k][c][r0 + sh*(Rj-1-j')]
 * [s0 + sw*(Sj-1-i')]: a 3x3 layer at stride 2 splits into 1x1, 1x2, 2x1 and 2x2 kernels,
 * 9 taps in all, where im2col's backward-data writes 9 columns per output place and adds
 * them back with col2im. grad_y is reordered (and padded) once for every phase: its
 * padding is the most any phase needs, so a phase's forward may compute rows or columns
 * beyond its own (none for 3x3 at stride 2 on even maps), which the interleave into
 * grad_x skips; the taps over that padding are skipped by the kernel's segments. */
#include <string.h>

#include "blocked.h"
#include "blocked_nchw.h"
#include "bwd_data_phases.h"
#include "conv_desc.h"

/* One phase of an axis (rows or columns). */
typedef struct axis_phase {
    int64_t first;  /* its first row of taps, r0 */
    int64_t taps;   /* its rows of taps, Rj (0: its places of grad_x are zeros) */
    int64_t count;  /* grad_x's rows in the phase */
    int64_t lead;   /* the first of them among its forward's output rows */
} axis_phase;

typedef struct phases {
    axis_phase h[FC_PHASES_MAX_STRIDE], w[FC_PHASES_MAX_STRIDE];
    int64_t sh, sw, OH, OW;
    int64_t Hb, Wb, top, left;  /* grad_y's blocked copy: Hb x Wb, its data from (top, left) */
    int64_t gyb;                /* floats of that copy */
    /* where each phase's output and arranged weights start, and their floats in all */
    int64_t yb_at[FC_PHASES_MAX_STRIDE][FC_PHASES_MAX_STRIDE], yb;
    int64_t wb_at[FC_PHASES_MAX_STRIDE][FC_PHASES_MAX_STRIDE], wb;
    size_t inner;               /* bytes of the largest phase forward's workspace */
} phases;

/* The phases of an axis of n places (n_out of grad_y) under kernel k, stride st,
 * padding pad; *before, *after: the padding of grad_y that serves them all. */
static void axis_phases(int64_t n, int64_t n_out, int64_t k, int64_t st, int64_t pad,
                        axis_phase *ph, int64_t *before, int64_t *after) {
    int64_t need_before = 0, need_after = 0;
    for (int64_t p = 0; p < st; p++) {
        axis_phase *a = ph + p;
        a->first = (p + pad) % st;
        a->taps = a->first < k ? fc_ceil_div(k - a->first, st) : 0;
        a->count = p < n ? fc_ceil_div(n - p, st) : 0;
        int64_t e = (p + pad - a->first) / st;
        a->lead = a->taps - 1 - e; /* its own padding above, made the lead below */
        if (a->taps && a->count) {
            need_before = fc_max64(need_before, a->lead);
            need_after = fc_max64(need_after, a->count + e - n_out);
        }
    }
    for (int64_t p = 0; p < st; p++) ph[p].lead = need_before - ph[p].lead;
    *before = need_before;
    *after = need_after;
}

static int phase_runs(const phases *g, int ph, int pw) {
    return g->h[ph].taps && g->w[pw].taps && g->h[ph].count && g->w[pw].count;
}

/* Phase (ph, pw)'s forward: grad_y's copy in, C channels out, no padding of its own. */
static fc_conv2d_desc phase_desc(const fc_conv2d_desc *d, const phases *g, int ph, int pw) {
    fc_conv2d_desc p = {.N = d->N, .C = d->K, .H = g->Hb, .W = g->Wb, .K = d->C,
                        .R = g->h[ph].taps, .S = g->w[pw].taps, .stride_h = 1, .stride_w = 1,
                        .dilation_h = 1, .dilation_w = 1, .groups = 1};
    return p;
}

int fc_conv_bwd_data_phases_serves(const fc_conv2d_desc *d) {
    int64_t OH, OW;
    return d->groups == 1 && d->dilation_h == 1 && d->dilation_w == 1 &&
           (d->stride_h > 1 || d->stride_w > 1) && d->stride_h <= FC_PHASES_MAX_STRIDE &&
           d->stride_w <= FC_PHASES_MAX_STRIDE && fc_conv2d_check(d, &OH, &OW) == FC_SUCCESS;
}

static fc_status make_phases(const fc_conv2d_desc *d, phases *g) {
    if (!fc_conv_bwd_data_phases_serves(d)) return FC_UNSUPPORTED_ALGORITHM;
    fc_conv2d_out_shape(d, &g->OH, &g->OW);
    g->sh = d->stride_h;
    g->sw = d->stride_w;
    int64_t bottom, right;
    axis_phases(d->H, g->OH, d->R, g->sh, d->pad_top, g->h, &g->top, &bottom);
    axis_phases(d->W, g->OW, d->S, g->sw, d->pad_left, g->w, &g->left, &right);
    g->Hb = g->OH + g->top + bottom;
    g->Wb = g->OW + g->left + right;
    int64_t cp = fc_ceil_div(d->C, FC_BLOCKED_CB) * FC_BLOCKED_CB;
    int64_t kp = fc_ceil_div(d->K, FC_BLOCKED_CB) * FC_BLOCKED_CB;
    if (!fc_prod4(d->N, kp, g->Hb, g->Wb, &g->gyb)) return FC_SIZE_OVERFLOW;
    g->yb = g->wb = 0;
    g->inner = 0;
    for (int ph = 0; ph < g->sh; ph++)
        for (int pw = 0; pw < g->sw; pw++) {
            g->yb_at[ph][pw] = g->yb;
            g->wb_at[ph][pw] = g->wb;
            if (!phase_runs(g, ph, pw)) continue;
            fc_conv2d_desc pd = phase_desc(d, g, ph, pw);
            int64_t ys;
            size_t wb, inner;
            fc_status st;
            if (!fc_prod4(d->N, cp, g->Hb - pd.R + 1, g->Wb - pd.S + 1, &ys) ||
                __builtin_add_overflow(g->yb, ys, &g->yb))
                return FC_SIZE_OVERFLOW;
            if ((st = fc_conv2d_blocked_weights_size(&pd, &wb)) != FC_SUCCESS ||
                (st = fc_conv2d_blocked_workspace_size(&pd, &inner)) != FC_SUCCESS)
                return st;
            if (__builtin_add_overflow(g->wb, (int64_t)wb, &g->wb)) return FC_SIZE_OVERFLOW;
            g->inner = inner > g->inner ? inner : g->inner;
        }
    return FC_SUCCESS;
}

size_t fc_conv_bwd_data_phases_workspace(const fc_conv2d_desc *d) {
    phases g;
    if (make_phases(d, &g) != FC_SUCCESS) return SIZE_MAX;
    return fc_blocked_pieces_bytes(g.gyb, g.yb, (size_t)g.wb, g.inner);
}

FC_TEST_MODE(fc_conv_bwd_data_phases_set_mode, fc_conv_bwd_data_phases_override)
FC_TEST_COUNTER(fc_conv_bwd_data_phases_runs)

/* gx[n][c][ph + sh*a][pw + sw*b] = phase (ph, pw)'s output at (a + lead, b + lead) of
 * channel c (blocked), zeros for a phase without taps; rows of gx split over threads. */
static void interleave(const fc_conv2d_desc *d, const phases *g, const float *yb, float *gx) {
    const int64_t CBn = fc_ceil_div(d->C, FC_BLOCKED_CB), H = d->H, W = d->W;
    #pragma omp parallel for num_threads(fc_threads()) schedule(static)
    for (int64_t row = 0; row < d->N * CBn * H; row++) {
        int64_t ih = row % H, n = row / H / CBn, cb = row / H % CBn;
        int64_t c0 = cb * FC_BLOCKED_CB, cn = fc_min64(FC_BLOCKED_CB, d->C - c0);
        int ph = (int)(ih % g->sh);
        const axis_phase *ah = g->h + ph;
        for (int pw = 0; pw < g->sw; pw++) {
            const axis_phase *aw = g->w + pw;
            float *dst = gx + ((n * d->C + c0) * H + ih) * W + pw;
            if (!phase_runs(g, ph, pw)) {
                for (int64_t j = 0; j < cn; j++)
                    for (int64_t b = 0; b < aw->count; b++) dst[j * H * W + b * g->sw] = 0.0f;
                continue;
            }
            int64_t OHp = g->Hb - ah->taps + 1, OWp = g->Wb - aw->taps + 1;
            const float *src = yb + g->yb_at[ph][pw] +
                               (((n * CBn + cb) * OHp + ih / g->sh + ah->lead) * OWp + aw->lead) *
                                   FC_BLOCKED_CB;
            if (cn == FC_BLOCKED_CB) /* (a constant count: unrolled) */
                for (int64_t b = 0; b < aw->count; b++)
                    for (int64_t j = 0; j < FC_BLOCKED_CB; j++)
                        dst[j * H * W + b * g->sw] = src[b * FC_BLOCKED_CB + j];
            else
                for (int64_t j = 0; j < cn; j++)
                    for (int64_t b = 0; b < aw->count; b++)
                        dst[j * H * W + b * g->sw] = src[b * FC_BLOCKED_CB + j];
        }
    }
}

/* Phase (ph, pw)'s weights as fc_blocked_arrange_weights reads them: tap (j', i') is w's
 * (first + sh*(Rj-1-j'), first + sw*(Sj-1-i')), output channel c, input channel k. */
static fc_blocked_src phase_weights(const fc_conv2d_desc *d, const phases *g, int ph, int pw,
                                    const float *w) {
    int64_t Rj = g->h[ph].taps, Sj = g->w[pw].taps, RS = d->R * d->S;
    const float *last = w + (g->h[ph].first + g->sh * (Rj - 1)) * d->S + g->w[pw].first +
                        g->sw * (Sj - 1);
    fc_blocked_src s = {last, d->C, d->K, Rj * Sj, Sj, RS, d->C * RS, -g->sh * d->S, -g->sw};
    return s;
}

/* Every phase's weights arranged in one parallel pass over w. */
static void arrange_phases(const fc_conv2d_desc *d, const phases *g, const float *w,
                           float *wb) {
    fc_blocked_src src[FC_PHASES_MAX_STRIDE * FC_PHASES_MAX_STRIDE];
    float *dst[FC_PHASES_MAX_STRIDE * FC_PHASES_MAX_STRIDE];
    int n = 0;
    for (int ph = 0; ph < g->sh; ph++)
        for (int pw = 0; pw < g->sw; pw++)
            if (phase_runs(g, ph, pw)) {
                src[n] = phase_weights(d, g, ph, pw, w);
                dst[n++] = wb + g->wb_at[ph][pw];
            }
    fc_blocked_arrange_weights_n(src, dst, n);
}

fc_status fc_conv_bwd_data_phases(const fc_conv2d_desc *d, const float *gy, const float *w,
                                  float *gx, fc_arena *ws) {
    phases g;
    fc_status st = make_phases(d, &g);
    if (st != FC_SUCCESS) return st;
    if (d->N == 0) return FC_SUCCESS;
    float *gyb, *yb, *wb;
    void *inner;
    if (!fc_blocked_pieces_take(ws, g.gyb, g.yb, (size_t)g.wb, g.inner, &gyb, &yb, &wb, &inner))
        return FC_INVALID_WORKSPACE;
    FC_TEST_COUNT(fc_conv_bwd_data_phases_runs);

    /* grad_y as the input of a forward padded by (top, left) and up to Hb x Wb */
    fc_conv2d_desc in = {.N = d->N, .C = d->K, .H = g.OH, .W = g.OW,
                         .pad_top = g.top, .pad_bottom = g.Hb - g.OH - g.top,
                         .pad_left = g.left, .pad_right = g.Wb - g.OW - g.left};
    fc_conv2d_desc padded = {.H = g.Hb, .W = g.Wb};
    fc_blocked_reorder_padded(&in, &padded, gy, gyb);
    arrange_phases(d, &g, w, wb);
    const fc_epilogue none = {NULL, NULL, NULL, 0};
    for (int ph = 0; ph < g.sh; ph++)
        for (int pw = 0; pw < g.sw; pw++) {
            if (!phase_runs(&g, ph, pw)) continue;
            fc_conv2d_desc pd = phase_desc(d, &g, ph, pw);
            st = fc_blocked_forward_padded(&pd, g.top, g.OH, g.left, g.OW, gyb,
                                           wb + g.wb_at[ph][pw], &none, yb + g.yb_at[ph][pw],
                                           inner, g.inner);
            if (st != FC_SUCCESS) return st;
        }
    interleave(d, &g, yb, gx);
    return FC_SUCCESS;
}

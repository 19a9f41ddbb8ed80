/* Direct convolution: packing, threading and edge handling around the per-ISA
 * kernels. Backward-data runs the forward kernel on the zero-upsampled gradient with
 * flipped, transposed weights; backward-weights runs dot-product kernels over the
 * same packed input the forward pass uses. */
#include <string.h>

#include "conv_desc.h"
#include "plane.h"
#include "direct.h"
#include "smallc.h"
#include "core/registry.h"

static int64_t packed_weight_floats(int64_t groups, int64_t out_per_group, int64_t cin,
                                    int64_t R, int64_t S) {
    return groups * fc_ceil_div(out_per_group, FC_DIRECT_KB) * cin * R * S * FC_DIRECT_KB;
}

/* Packs weights into [g][block][cin][R][S][KB]; `flip` gives the backward-data
 * weights wf[c][k][r][s] = w[k][c][R-1-r][S-1-s] of the same layer. */
static void pack_weights(const fc_conv2d_desc *d, const float *w, float *wp, int flip) {
    int64_t G = d->groups, Kg = d->K / G, Cg = d->C / G, R = d->R, S = d->S;
    int64_t outg = flip ? Cg : Kg, cin = flip ? Kg : Cg;
    int64_t nb = fc_ceil_div(outg, FC_DIRECT_KB);
    int64_t blk = cin * R * S * FC_DIRECT_KB;
    #pragma omp parallel for num_threads(fc_threads()) schedule(static)
    for (int64_t gb = 0; gb < G * nb; gb++) {
        int64_t g = gb / nb, b = gb % nb;
        float *dst = wp + gb * blk;
        for (int64_t i = 0; i < cin; i++)
            for (int64_t r = 0; r < R; r++)
                for (int64_t s = 0; s < S; s++)
                    for (int64_t j = 0; j < FC_DIRECT_KB; j++) {
                        int64_t o = b * FC_DIRECT_KB + j;
                        float v = 0.0f;
                        if (o < outg) {
                            if (flip) /* out = c, in = k */
                                v = w[(((g * Kg + i) * Cg + o) * R + (R - 1 - r)) * S + (S - 1 - s)];
                            else
                                v = w[(((g * Kg + o) * Cg + i) * R + r) * S + s];
                        }
                        *dst++ = v;
                    }
    }
}

static fc_plane_geom forward_geom(const fc_conv2d_desc *d) {
    return fc_plane_geom_make(d->H, d->W, d->pad_top, d->pad_left, d->H + d->pad_top + d->pad_bottom,
                     d->W + d->pad_left + d->pad_right, 1, 1, d->stride_w);
}

/* The transposed problem backward-data solves: the gradient upsampled by the stride
 * and padded so that a stride-1 convolution with flipped weights gives grad_x. */
static fc_plane_geom backward_geom(const fc_conv2d_desc *d, int64_t OH, int64_t OW) {
    int64_t Rd = (d->R - 1) * d->dilation_h, Sd = (d->S - 1) * d->dilation_w;
    return fc_plane_geom_make(OH, OW, Rd - d->pad_top, Sd - d->pad_left, d->H + Rd, d->W + Sd,
                     d->stride_h, d->stride_w, 1);
}

/* Layout of the repacked grad_y for backward-weights (see fc_direct_bwd_weights). With unit
 * row stride a whole plane is one segment whose rows are padded to the input's row
 * length, so the taps read it as one long contiguous run; otherwise each output row
 * is a segment padded to a multiple of 16 floats. */
typedef struct bwd_weights_geom {
    int64_t grow;            /* floats per packed grad_y row */
    int64_t plane;           /* floats per packed grad_y plane, a multiple of 16 */
    int64_t nseg, seglen, xs;
    int64_t slack;           /* floats the kernel may read past the last input plane */
} bwd_weights_geom;

static int bwd_weights_make_geom(const fc_plane_geom *g, int64_t OH, int64_t OW, int64_t sh, bwd_weights_geom *o) {
    if (OW > INT64_MAX / 4 || g->row > INT64_MAX / 4) return 0;
    int64_t row16 = fc_ceil_div(OW, 16) * 16;
    int64_t pl;
    if (sh == 1 && g->row <= row16) {
        o->grow = g->row;
        if (!fc_mul_ok(OH, g->row, &pl) || pl > INT64_MAX - 16) return 0;
        o->plane = fc_ceil_div(pl, 16) * 16;
        o->nseg = 1;
        o->seglen = o->plane;
        o->xs = 0;
    } else {
        o->grow = row16;
        if (!fc_mul_ok(OH, row16, &pl)) return 0;
        o->plane = pl;
        o->nseg = OH;
        o->seglen = row16;
        if (!fc_mul_ok(sh, g->row, &o->xs)) return 0;
    }
    /* The last plane's reads end before plane + row + 16 (one segment: the taps start
     * within ((R-1)*dil_h + 1) rows, OH + (R-1)*dil_h <= Hp) or plane + row16 (per row). */
    o->slack = g->row + row16 + 16 + FC_DIRECT_SLACK;
    return 1;
}

static int64_t bwd_weights_chunk(const bwd_weights_geom *q, int64_t taps);
/* Floats of one thread's vector partial sums (fc_direct_bwd_weights.vacc). */
static int64_t bwd_vacc_floats(int64_t taps) { return FC_DIRECT_KB * taps * FC_BWD_VACC; }

static size_t bwd_weights_workspace(const fc_conv2d_desc *d, int64_t OH, int64_t OW, const fc_plane_geom *g) {
    bwd_weights_geom q;
    if (!bwd_weights_make_geom(g, OH, OW, d->stride_h, &q)) return SIZE_MAX;
    int64_t xfl, gfl, taps;
    if (!fc_mul_ok(d->N * d->C, g->plane, &xfl) || xfl > INT64_MAX - q.slack) return SIZE_MAX;
    if (!fc_mul_ok(d->N * d->K, q.plane, &gfl)) return SIZE_MAX;
    if (!fc_mul_ok(d->R, d->S, &taps)) return SIZE_MAX;
    size_t total = 0;
    if (!fc_ws_add(&total, xfl + q.slack, sizeof(float))) return SIZE_MAX;
    if (!fc_ws_add(&total, gfl, sizeof(float))) return SIZE_MAX;
    if (!fc_ws_add(&total, taps, sizeof(int64_t))) return SIZE_MAX;
    if (bwd_weights_chunk(&q, taps) && /* each thread's vector sums */
        !fc_ws_add(&total, fc_threads() * bwd_vacc_floats(taps), sizeof(float)))
        return SIZE_MAX;
    return total;
}

size_t fc_conv_direct_workspace(const fc_conv2d_desc *d, fc_conv_pass pass) {
    int64_t OH, OW;
    fc_conv2d_out_shape(d, &OH, &OW);
    int64_t G = d->groups, Kg = d->K / G, Cg = d->C / G;
    size_t total = 0;
    int64_t planes, wfl;
    fc_plane_geom g;
    if (pass == FC_PASS_BACKWARD_DATA) {
        g = backward_geom(d, OH, OW);
        planes = d->N * d->K;
        wfl = packed_weight_floats(G, Cg, Kg, d->R, d->S);
    } else {
        g = forward_geom(d);
        planes = d->N * d->C;
        wfl = pass == FC_PASS_FORWARD ? packed_weight_floats(G, Kg, Cg, d->R, d->S) : 0;
    }
    if (pass == FC_PASS_BACKWARD_WEIGHTS) return bwd_weights_workspace(d, OH, OW, &g);
    int64_t xfl;
    if (!fc_mul_ok(planes, g.plane, &xfl) || xfl > INT64_MAX - FC_DIRECT_SLACK) return SIZE_MAX;
    if (!fc_ws_add(&total, xfl + FC_DIRECT_SLACK, sizeof(float))) return SIZE_MAX;
    if (!fc_ws_add(&total, wfl, sizeof(float))) return SIZE_MAX;
    if (!fc_ws_add(&total, d->S, sizeof(int64_t))) return SIZE_MAX;
    int64_t taps; /* the flat tap table of the small-channel kernel */
    if (!fc_mul_ok(pass == FC_PASS_BACKWARD_DATA ? Kg : Cg, d->R * d->S, &taps) ||
        !fc_ws_add(&total, taps, sizeof(int64_t)))
        return SIZE_MAX;
    return total;
}

static void pack_planes(const fc_plane_geom *g, const float *src, int64_t planes, float *dst) {
    int64_t src_plane = g->H * g->W;
    #pragma omp parallel for num_threads(fc_threads()) schedule(static)
    for (int64_t p = 0; p < planes; p++) fc_plane_pack(g, src + p * src_plane, dst + p * g->plane);
    memset(dst + planes * g->plane, 0, FC_DIRECT_SLACK * sizeof(float));
}

/* The flat-tap kernel (conv/smallc.h) for few input channels and a spatial kernel:
 * measured on the 3-channel first layers (1 thread, CPU-time medians against the
 * nested-loop kernel and im2col: ResNet 7x7/2 3.3 against 5.5 and 3.8 ms, AlexNet
 * 11x11/4 3.0 against 3.9 and 3.4, VGG 3x3 3.1 against 4.2 and 3.5 at batch 1; 13-22%
 * under im2col at batch 8). Wider inputs keep the nested kernel (not measured). */
static int flat_taps(int64_t cin, int64_t R, int64_t S) {
    return cin <= FC_SMALLC_MAX_CIN && R * S > 1;
}

/* Runs the rows kernel over every (image, group, channel block, row chunk). */
static fc_status run_rows(const fc_plane_geom *g, const float *xq, int64_t N, int64_t G, int64_t cin,
                          int64_t outg, const float *wp, const fc_epilogue *ep, float *y, int64_t OH,
                          int64_t OW, const fc_conv2d_desc *d, int64_t sh, int64_t sw,
                          fc_arena *ws) {
    fc_direct_rows_fn kern = fc_kernels_active()->conv_direct.forward;
    /* Tap offsets, hoisted out of the kernel's inner loop (they need divisions). */
    int64_t *soff = fc_arena_alloc(ws, (size_t)d->S * sizeof(int64_t));
    if (!soff) return FC_INVALID_WORKSPACE;
    for (int64_t s = 0; s < d->S; s++) {
        int64_t col = s * d->dilation_w;
        soff[s] = (col % sw) * g->phase + col / sw;
    }
    int64_t ntaps = cin * d->R * d->S, *toff = NULL;
    int flat = flat_taps(cin, d->R, d->S);
    if (flat) {
        toff = fc_arena_alloc(ws, (size_t)ntaps * sizeof(int64_t));
        if (!toff) return FC_INVALID_WORKSPACE;
        for (int64_t c = 0, t = 0; c < cin; c++)
            for (int64_t r = 0; r < d->R; r++)
                for (int64_t s = 0; s < d->S; s++, t++)
                    toff[t] = (c * g->plane + r * d->dilation_h * g->row + soff[s]) * (int64_t)sizeof(float);
    }
    fc_smallc_rows_fn flat_kern = fc_kernels_active()->conv_smallc.forward;
    int64_t nb = fc_ceil_div(outg, FC_DIRECT_KB);
    int nt = fc_threads();
    /* Row chunks small enough to give every thread several tasks. */
    int64_t jobs = N * G * nb;
    int64_t chunk = jobs >= 4 * nt ? OH : fc_max64(1, OH * jobs / (4 * nt));
    int64_t nchunks = fc_ceil_div(OH, chunk);
    int64_t blk = cin * d->R * d->S * FC_DIRECT_KB;
    #pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (int64_t t = 0; t < jobs * nchunks; t++) {
        int64_t b = t % nb, rest = t / nb;
        int64_t ch = rest % nchunks, ng = rest / nchunks;
        int64_t n = ng / G, gi = ng % G;
        int64_t o0 = gi * outg + b * FC_DIRECT_KB;
        int64_t at = (n * G * outg + o0) * OH * OW;
        if (flat) {
            fc_smallc_rows f;
            f.x = xq + (n * G + gi) * cin * g->plane;
            /* OH > 1 bounds sh * row by the plane; one row may have any stride */
            f.row_step = OH > 1 ? sh * g->row : 0;
            f.ntaps = ntaps;
            f.toff = toff;
            f.wp = wp + (gi * nb + b) * blk;
            f.kb = fc_min64(FC_DIRECT_KB, outg - b * FC_DIRECT_KB);
            f.OW = OW;
            f.y = y + at;
            f.y_plane = OH * OW;
            f.bias = ep->bias ? ep->bias + o0 : NULL;
            f.scale = ep->scale ? ep->scale + o0 : NULL;
            f.res = ep->residual ? ep->residual + at : NULL;
            f.relu = ep->relu;
            flat_kern(&f, ch * chunk, fc_min64(OH, (ch + 1) * chunk));
            continue;
        }
        fc_direct_rows a;
        a.xq = xq + (n * G + gi) * cin * g->plane;
        a.cin = cin;
        a.plane = g->plane;
        a.row = g->row;
        a.phase = g->phase;
        a.R = d->R;
        a.S = d->S;
        a.sh = sh;
        a.sw = sw;
        a.dil_h = d->dilation_h;
        a.dil_w = d->dilation_w;
        a.OH = OH;
        a.OW = OW;
        a.soff = soff;
        a.wp = wp + (gi * nb + b) * blk;
        a.kb = fc_min64(FC_DIRECT_KB, outg - b * FC_DIRECT_KB);
        a.bias = ep->bias ? ep->bias + o0 : NULL;
        a.y = y + at;
        a.y_plane = OH * OW;
        a.scale = ep->scale ? ep->scale + o0 : NULL;
        a.res = ep->residual ? ep->residual + at : NULL;
        a.relu = ep->relu;
        kern(&a, ch * chunk, fc_min64(OH, (ch + 1) * chunk));
    }
    return FC_SUCCESS;
}

fc_status fc_conv_direct_forward(const fc_conv2d_desc *d, const float *x, const float *w,
                                 const fc_epilogue *ep, float *y, fc_arena *ws) {
    int64_t OH, OW;
    fc_conv2d_out_shape(d, &OH, &OW);
    int64_t G = d->groups, Kg = d->K / G, Cg = d->C / G;
    fc_plane_geom g = forward_geom(d);
    float *xq = fc_arena_alloc(ws, (size_t)(d->N * d->C * g.plane + FC_DIRECT_SLACK) * sizeof(float));
    float *wp = fc_arena_alloc(ws, (size_t)packed_weight_floats(G, Kg, Cg, d->R, d->S) * sizeof(float));
    if (!xq || !wp) return FC_INVALID_WORKSPACE;
    pack_planes(&g, x, d->N * d->C, xq);
    pack_weights(d, w, wp, 0);
    return run_rows(&g, xq, d->N, G, Cg, Kg, wp, ep, y, OH, OW, d, d->stride_h, d->stride_w, ws);
}

fc_status fc_conv_direct_backward_data(const fc_conv2d_desc *d, const float *gy,
                                       const float *w, float *gx, fc_arena *ws) {
    int64_t OH, OW;
    fc_conv2d_out_shape(d, &OH, &OW);
    int64_t G = d->groups, Kg = d->K / G, Cg = d->C / G;
    fc_plane_geom g = backward_geom(d, OH, OW);
    float *uq = fc_arena_alloc(ws, (size_t)(d->N * d->K * g.plane + FC_DIRECT_SLACK) * sizeof(float));
    float *wp = fc_arena_alloc(ws, (size_t)packed_weight_floats(G, Cg, Kg, d->R, d->S) * sizeof(float));
    if (!uq || !wp) return FC_INVALID_WORKSPACE;
    pack_planes(&g, gy, d->N * d->K, uq);
    pack_weights(d, w, wp, 1);
    const fc_epilogue none = {NULL, NULL, NULL, 0};
    return run_rows(&g, uq, d->N, G, Kg, Cg, wp, &none, gx, d->H, d->W, d, 1, 1, ws);
}

/* Copies grad_y planes into the bwd_weights_geom layout, zeros in the padding. */
static void pack_gy(const bwd_weights_geom *q, const float *gy, int64_t planes, int64_t OH, int64_t OW,
                    float *dst) {
    #pragma omp parallel for num_threads(fc_threads()) schedule(static)
    for (int64_t p = 0; p < planes; p++) {
        float *o = dst + p * q->plane;
        const float *src = gy + p * OH * OW;
        memset(o, 0, (size_t)q->plane * sizeof(float));
        for (int64_t i = 0; i < OH; i++)
            memcpy(o + i * q->grow, src + i * OW, (size_t)OW * sizeof(float));
    }
}

/* Large planes (first layers: 112x112 and more) run the kernel on chunks of grad_y
 * instead of whole planes: the kernel sweeps its grad_y and input once per block of
 * taps, and 8 channels of a whole plane (400 KiB at 112x112) stream from L2 on every
 * sweep, while a chunk of BWD_CHUNK_BYTES and its input rows stay in L1. The chunks
 * add their accumulators to the thread's vector sums (fc_direct_bwd_weights.vacc),
 * summed across lanes once at the end: a horizontal sum per weight and chunk had
 * cost as much as a fifth of the FMAs. 2 threads, medians of 3 alternating
 * processes, per-chunk sums -> vector sums: batch 16 32->32 3x3 @56 16.7 -> 14.3 ms,
 * batch 8 16->32 3x3 @112 15.6 -> 10.9, 3->16 3x3 @224 9.6 -> 8.4 (AUTO's choice on
 * all three); ResNet conv1 26.2 -> 21.0 and AlexNet conv1 24.6 -> 17.2, where
 * im2col (15.5, 12.0) stays AUTO's. */
#define BWD_CHUNK_BYTES (16 * 1024)
/* Chunked only up to this many taps: each thread's vector sums take FC_DIRECT_KB *
 * taps * FC_BWD_VACC floats (256 KiB at 512 taps). */
#define BWD_CHUNK_MAX_TAPS 512

/* Floats of packed grad_y per chunk and channel (a whole number of segments, or a
 * multiple of 16 within the one segment), or 0 for whole planes. */
static int64_t bwd_weights_chunk(const bwd_weights_geom *q, int64_t taps) {
    int64_t want = BWD_CHUNK_BYTES / (FC_DIRECT_KB * (int64_t)sizeof(float));
    if (taps > BWD_CHUNK_MAX_TAPS || q->plane <= 4 * want) return 0;
    if (q->nseg == 1) return fc_max64(16, want / 16 * 16);
    return fc_max64(1, want / q->seglen) * q->seglen;
}

static void bwd_weights_chunked(const fc_direct_bwd_weights *a, fc_direct_bwd_weights_fn kern,
                                const bwd_weights_geom *q, int64_t chunk, float *vacc) {
    int64_t T = a->ntaps;
    memset(vacc, 0, (size_t)bwd_vacc_floats(T) * sizeof(float));
    fc_direct_bwd_weights c = *a;
    c.n_img = 1;
    c.img_group = 1;
    c.vacc = vacc;
    for (int64_t i = 0; i < a->n_img; i++)
        for (int64_t j0 = 0; j0 < q->plane; j0 += chunk) {
            int64_t len = fc_min64(chunk, q->plane - j0);
            c.gy = a->gy + i * a->gy_n + j0;
            if (q->nseg == 1) { /* one segment: the input runs along with it */
                c.xq = a->xq + i * a->xq_n + j0;
                c.seglen = len;
            } else {            /* whole segments (output rows) */
                c.xq = a->xq + i * a->xq_n + j0 / q->seglen * q->xs;
                c.nseg = len / q->seglen;
            }
            kern(&c);
        }
    for (int64_t k = 0; k < a->kn; k++)
        for (int64_t t = 0; t < T; t++) {
            const float *v = vacc + (k * T + t) * FC_BWD_VACC;
            float s = 0.0f;
            for (int l = 0; l < FC_BWD_VACC; l++) s += v[l];
            a->gw[k * a->gw_k + t] = s;
        }
}

fc_status fc_conv_direct_backward_weights(const fc_conv2d_desc *d, const float *gy,
                                          const float *x, float *gw, fc_arena *ws) {
    int64_t OH, OW;
    fc_conv2d_out_shape(d, &OH, &OW);
    int64_t G = d->groups, Kg = d->K / G, Cg = d->C / G;
    fc_plane_geom g = forward_geom(d);
    bwd_weights_geom q;
    if (!bwd_weights_make_geom(&g, OH, OW, d->stride_h, &q)) return FC_INVALID_WORKSPACE;
    int64_t xfl = d->N * d->C * g.plane;
    float *xq = fc_arena_alloc(ws, (size_t)(xfl + q.slack) * sizeof(float));
    float *gq = fc_arena_alloc(ws, (size_t)(d->N * d->K * q.plane) * sizeof(float));
    int64_t *toff = fc_arena_alloc(ws, (size_t)(d->R * d->S) * sizeof(int64_t));
    if (!xq || !gq || !toff) return FC_INVALID_WORKSPACE;
    int64_t chunk_floats = bwd_weights_chunk(&q, d->R * d->S);
    int T = fc_threads();
    float *vaccs = NULL;
    if (chunk_floats) {
        vaccs = fc_arena_alloc(ws, (size_t)(T * bwd_vacc_floats(d->R * d->S)) * sizeof(float));
        if (!vaccs) return FC_INVALID_WORKSPACE;
    }
    pack_planes(&g, x, d->N * d->C, xq);
    /* The kernel's reads past the last plane meet zero grad_y; keep them finite. */
    memset(xq + xfl, 0, (size_t)q.slack * sizeof(float));
    pack_gy(&q, gy, d->N * d->K, OH, OW, gq);
    for (int64_t r = 0; r < d->R; r++)
        for (int64_t s = 0; s < d->S; s++) {
            int64_t col = s * d->dilation_w;
            toff[r * d->S + s] = r * d->dilation_h * g.row + (col % d->stride_w) * g.phase +
                                 col / d->stride_w;
        }
    /* Enough images per register pass that 8 channels of grad_y (~256 KiB) stay in L2. */
    int64_t img_group = fc_max64(1, (int64_t)65536 / (FC_DIRECT_KB * q.plane));
    fc_direct_bwd_weights_fn kern = fc_kernels_active()->conv_direct.bwd_weights;
    int64_t nkb = fc_ceil_div(Kg, FC_DIRECT_KB);
    #pragma omp parallel for num_threads(T) schedule(dynamic, 1)
    for (int64_t t = 0; t < d->C * nkb; t++) {
        int64_t c = t / nkb, kb = t % nkb;      /* c: global input channel */
        int64_t gi = c / Cg, cg = c % Cg, k0 = gi * Kg + kb * FC_DIRECT_KB;
        fc_direct_bwd_weights a;
        a.xq = xq + c * g.plane;
        a.xq_n = d->C * g.plane;
        a.gy = gq + k0 * q.plane;
        a.gy_k = q.plane;
        a.gy_n = d->K * q.plane;
        a.n_img = d->N;
        a.img_group = img_group;
        a.kn = fc_min64(FC_DIRECT_KB, Kg - kb * FC_DIRECT_KB);
        a.nseg = q.nseg;
        a.seglen = q.seglen;
        a.xs = q.xs;
        a.ntaps = d->R * d->S;
        a.toff = toff;
        a.gw = gw + (k0 * Cg + cg) * d->R * d->S;
        a.gw_k = Cg * d->R * d->S;
        a.vacc = NULL;
        if (chunk_floats == 0) {
            kern(&a);
            continue;
        }
        int me, team;
        fc_team(&me, &team);
        bwd_weights_chunked(&a, kern, &q, chunk_floats, vaccs + me * bwd_vacc_floats(a.ntaps));
    }
    return FC_SUCCESS;
}

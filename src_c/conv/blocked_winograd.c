/* Winograd F(2x2,3x3) and F(4x4,3x3) on the blocked channel layout NCHW8c, for callers
 * that keep activations blocked (the inference plan): (m+2)^2 multiplications for m x m
 * outputs (16 for 4, 36 for 16) where the direct blocked kernel makes 9 per output. For
 * the NCHW forward's callers (conv/blocked_nchw.c) also F(2x2,5x5): 36 multiplications
 * for 4 outputs against 100, its tiles 6x6 like F(4x4,3x3)'s, whose points it shares.
 * Three passes:
 *   input transform: each (m+2)x(m+2) input tile (stride m, zeros past the map) of a
 *     block's 8 channels -> BT d B, written as XI = (m+2)^2 blocked maps of the TH x TW
 *     tiles, one per transform position xi: V[xi] = an "image" (CBn, TH, TW, 8);
 *   products: one call of the blocked kernel (conv/blocked.c) as a 1x1 convolution over
 *     the XI images of V, image xi multiplied by its position's filter U[xi] (arranged
 *     as 1x1 weights): M[xi] (KB, TH, TW, 8);
 *   output transform: AT m A of each tile, cropped to the map, the epilogue (scale,
 *     bias, residual, ReLU) on the way to y.
 * The filter transform and the 1-D transforms are the NCHW Winograd's
 * (conv/winograd_common.c, kernels/f32_winograd_transforms.inc), so are its error
 * bounds (README); as there, a non-finite output (NaN, infinity, or a transform's
 * overflow) is recomputed directly, so it spoils only the outputs whose 3x3 receptive
 * field holds it. */
#include <string.h>

#include "blocked.h"
#include "conv_desc.h"
#include "epilogue.h"
#include "winograd.h"
#include "core/registry.h"

#define CB FC_BLOCKED_CB

/* Tile rows are run in bands (all three passes on a band, then the next) whose V and M
 * take at most about this many bytes, so that they stay in the cores' L2 between the
 * passes instead of going to memory, and the workspace stays small next to the
 * activations (an inference plan's arena). */
#ifndef FC_WGB_BAND_BYTES
#define FC_WGB_BAND_BYTES (1 << 20)
#endif
/* ... but at least this many tiles (or the whole batch's), so that each position's
 * filters, read from L3 or memory once a band where they outgrow L2 (512 channels: 1
 * MB a position), serve enough tiles: a band of one 7x7 image's 16 tiles of 2x2 left
 * F(2x2) on 512 channels no faster than the direct kernel at batch 16. */
#ifndef FC_WGB_BAND_MIN_TILES
#define FC_WGB_BAND_MIN_TILES 64
#endif

typedef struct wgb_geom {
    int m;              /* output tile: m x m (2 or 4) */
    int r;              /* kernel: r x r (3, or 5 with m 2) */
    int64_t XI;         /* transform positions, (m + r - 1)^2 */
    int64_t OH, OW, TH, TW, CBn, KB;
    int64_t band;       /* tile rows of a band (the last may have fewer) */
    fc_conv2d_desc g1;  /* a band's products: a 1x1 convolution over XI images of tiles */
    int64_t w_xi;       /* floats of one position's arranged filter */
} wgb_geom;

/* Floats between the transform positions of a band's V (blocks = CBn) or M (KB): one
 * cache line more than their data, so that the XI streams a transform reads or writes
 * do not fall into the same L1 sets (a whole number of 4 KB pages apart, as 64@56x56's
 * bands of 4 tile rows are, they thrashed: the same layer's time varied 2.5x from one
 * process to the next). */
static int64_t pos_floats(int64_t blocks, int64_t rows, int64_t TW) {
    return blocks * rows * TW * CB + 16;
}

/* Whether F(2x2,5x5) serves d: FC_CONV_WINOGRAD_F23 on a 5x5 layer. */
static int serves_5x5(const fc_conv2d_desc *d, fc_conv_algorithm algo) {
    return algo == FC_CONV_WINOGRAD_F23 && d->R == 5 && d->S == 5 && d->stride_h == 1 &&
           d->stride_w == 1 && d->dilation_h == 1 && d->dilation_w == 1;
}

static fc_status make_geom(const fc_conv2d_desc *d, fc_conv_algorithm algo, wgb_geom *g) {
    if (!d) return FC_INVALID_ARGUMENT;
    g->m = fc_winograd_tile(algo);
    if (!g->m) return FC_INVALID_ARGUMENT;
    fc_status st = fc_conv2d_check(d, &g->OH, &g->OW);
    if (st != FC_SUCCESS) return st;
    int five = serves_5x5(d, algo);
    if (d->groups != 1 || !(fc_winograd_serves(d) || five)) return FC_UNSUPPORTED_ALGORITHM;
    g->r = five ? 5 : 3;
    g->XI = (g->m + g->r - 1) * (g->m + g->r - 1);
    g->TH = fc_ceil_div(g->OH, g->m);
    g->TW = fc_ceil_div(g->OW, g->m);
    g->CBn = fc_ceil_div(d->C, CB);
    g->KB = fc_ceil_div(d->K, CB);
    int64_t row, t;
    if (!fc_prod4(g->XI * (g->CBn + g->KB), g->TW, CB, (int64_t)sizeof(float), &row) ||
        !fc_prod4(g->KB, CB, g->CBn, CB, &g->w_xi) || !fc_mul_ok(g->XI, g->w_xi, &t))
        return FC_SIZE_OVERFLOW;
    /* bands run over the batch's N * TH tile rows, across images */
    g->band = fc_blocked_wg_band(d->N * g->TH, g->TW, row, FC_WGB_BAND_BYTES,
                                 FC_WGB_BAND_MIN_TILES);
    if (!fc_mul_ok(g->band, row, &t)) return FC_SIZE_OVERFLOW;
    g->g1 = (fc_conv2d_desc){.N = g->XI, .C = d->C, .H = g->band, .W = g->TW, .K = d->K,
                             .R = 1, .S = 1, .stride_h = 1, .stride_w = 1,
                             .dilation_h = 1, .dilation_w = 1, .groups = 1};
    return FC_SUCCESS;
}

/* The plan's rule (fc_conv2d_plan_blocked_winograd), or the test hook's: -1 the rule, 0
 * never, 1 wherever Winograd serves. Not thread-safe. */
FC_TEST_MODE(fc_conv_blocked_winograd_set_mode, fc_conv_blocked_winograd_override)

/* Where it pays: 3x3 layers of 64+ channels on maps of 7x7 and more (16+ tiles of 2x2).
 * Zen 4, 2 threads, batch 1, C = K, padding 1, one layer, fastest of 50-60 calls against
 * the direct blocked kernel's in the same process (ms):
 *                 direct   F(2x2)      F(4x4)
 *     64@56x56   1.07-1.14  0.86-0.89  0.49-0.51
 *     128@28x28  1.03-1.08  0.63-0.64  0.36-0.39
 *     256@14x14  1.01-1.05  0.54-0.55  0.41-0.43
 *     512@7x7    1.03-1.11  0.81-0.85  1.00-1.26
 * (F(2x2) alone on 64@56x56 went up to 1.8 ms while a neighbour loaded the host's
 * memory.) F(4x4) on maps of 49+ of its tiles (28x28 and up), and at batch > 1 on 16+
 * (14x14): at batch 1 its 2.25x larger filters come from memory on every call (ResNet-50's
 * six 256@14x14 layers: 9.4 MB each); F(2x2) on the rest. Whole plans, fastest of 40-60
 * calls alternating with onnxruntime (ms): ResNet-18 batch 1 direct 18.8, F(2x2) 13.5,
 * this rule 11.9-12.1, F(4x4) on 14x14 too 11.8-13.5 (onnxruntime 17.9-19.1); batch 16
 * direct 268-285, F(2x2) 232-244, F(4x4) from 28x28 221, from 14x14 194-225 (ort
 * 289-302); ResNet-50 batch 1 direct 47.7, F(2x2) 42.8, this rule 34.8-37.3, F(4x4) on
 * 14x14 too 37.3-39.0 (ort 41.9-42.7); batch 16 direct 740, F(2x2) 682, this rule 577
 * (ort 675-711). */
/* 5x5 layers: F(2x2,5x5) with WGB_5X5_MIN_CHANNELS+ channels in and out (twice that
 * on one side) on maps of 16+ tiles (7x7 and up). Zen 4, 2 threads, batch 1, padding 2,
 * fastest of 21 alternating calls, direct -> F(2x2,5x5) (torch), ms: AlexNet 96 -> 256
 * at 27x27 3.82 -> 1.91 (3.93), batch 8 30.0 -> 15.3 (35.0); 64 -> 192 at 27x27 1.91 ->
 * 1.05 (2.06); GoogLeNet's 5x5 branches 32 -> 96 at 28x28 0.54 -> 0.34, 24 -> 64 at
 * 14x14 0.082 -> 0.066, 32 -> 128 0.183 -> 0.115, 48 -> 128 at 7x7 0.086 -> 0.061; 64 ->
 * 64 at 7x7 0.074 -> 0.054. Even with 16 (16 -> 32 at 28x28 0.115 -> 0.118, 16 -> 48 at
 * 14x14 0.060 -> 0.058). */
#define WGB_5X5_MIN_CHANNELS 24
#define WGB_F43_MIN_TILES 49
#define WGB_F43_MIN_TILES_BATCH 16
fc_status fc_conv2d_plan_blocked_winograd(const fc_conv2d_desc *d, fc_conv_algorithm *algo) {
    FC_CALL_SCOPE();
    if (!algo) return FC_INVALID_ARGUMENT;
    wgb_geom g2, g4;
    fc_status st = make_geom(d, FC_CONV_WINOGRAD_F23, &g2);
    *algo = FC_CONV_DIRECT;
    if (st == FC_UNSUPPORTED_ALGORITHM) return FC_SUCCESS;
    if (st != FC_SUCCESS) return st;
    int forced = fc_conv_blocked_winograd_override();
    if (fc_precision_active() != FC_PRECISION_HIGH || forced == 0) return FC_SUCCESS;
    if (g2.r == 5) { /* F(2x2,5x5): WGB_5X5 */
        if (forced == 1 || (fc_min64(d->C, d->K) >= WGB_5X5_MIN_CHANNELS &&
                            fc_max64(d->C, d->K) >= 2 * WGB_5X5_MIN_CHANNELS &&
                            g2.TH * g2.TW >= 16))
            *algo = FC_CONV_WINOGRAD_F23;
        return FC_SUCCESS;
    }
    st = make_geom(d, FC_CONV_WINOGRAD_F43, &g4);
    if (st != FC_SUCCESS) return st;
    if (forced == 1 || (d->C >= 64 && d->K >= 64 && g2.TH * g2.TW >= 16))
        *algo = g4.TH * g4.TW >= WGB_F43_MIN_TILES ||
                        (d->N > 1 && d->N * g4.TH * g4.TW >= WGB_F43_MIN_TILES_BATCH)
                    ? FC_CONV_WINOGRAD_F43
                    : FC_CONV_WINOGRAD_F23;
    return FC_SUCCESS;
}

fc_status fc_conv2d_blocked_winograd_weights_size(const fc_conv2d_desc *d,
                                                  fc_conv_algorithm algo, size_t *floats) {
    FC_CALL_SCOPE();
    if (!floats) return FC_INVALID_ARGUMENT;
    wgb_geom g;
    fc_status st = make_geom(d, algo, &g);
    if (st != FC_SUCCESS) return st;
    *floats = (size_t)(g.XI * g.w_xi);
    return FC_SUCCESS;
}

/* The filters' transforms straight into the positions' arranged 1x1 weights (blocked.c's
 * fc_blocked_arrange_weights layout, T = 1): one kernel call per (output block, input
 * channel), the padded input channels' rows zeros. Forward: filter (k, c) at
 * w[k][c]; flipped (conv/bwd_data_flipped.h): w[c][k] turned around. */
static void transform(const wgb_geom *g, const fc_conv2d_desc *d, const float *w, int flipped,
                      float *wb) {
    const fc_kernels *kt = fc_kernels_active();
    const int64_t Cp = g->CBn * CB, T = g->r * g->r;
    int64_t sk = flipped ? T : d->C * T, sc = flipped ? d->K * T : T;
    int64_t base = flipped ? T - 1 : 0, fr = flipped ? -g->r : g->r, fs = flipped ? -1 : 1;
    #pragma omp parallel for num_threads(fc_threads()) schedule(static)
    for (int64_t t = 0; t < g->KB * Cp; t++) {
        int64_t kb = t / Cp, c = t % Cp;
        int kn = c < d->C ? (int)fc_min64(CB, d->K - kb * CB) : 0;
        fc_blocked_wg_filt f = {
            .w = kn ? w + kb * CB * sk + c * sc + base : w, .sk = sk, .fr = fr, .fs = fs,
            .kn = kn, .m = g->m, .r = g->r, .pos = g->w_xi,
            .dst = wb + fc_blocked_weights_at(g->KB, g->CBn, 1, kb, c, 0)};
        kt->conv_blocked.wg_filter(&f);
    }
}

fc_status fc_conv2d_blocked_winograd_transform_weights(const fc_conv2d_desc *d,
                                                       fc_conv_algorithm algo, const float *w,
                                                       float *wb, size_t wb_floats) {
    FC_CALL_SCOPE();
    if (!w || !wb) return FC_INVALID_ARGUMENT;
    wgb_geom g;
    fc_status st = make_geom(d, algo, &g);
    if (st != FC_SUCCESS) return st;
    if (wb_floats < (size_t)(g.XI * g.w_xi)) return FC_INVALID_WORKSPACE;
    transform(&g, d, w, 0, wb);
    return FC_SUCCESS;
}

fc_status fc_blocked_winograd_transform(const fc_conv2d_desc *d, fc_conv_algorithm algo,
                                        const float *w, int flipped, float *wb) {
    wgb_geom g;
    fc_status st = make_geom(d, algo, &g);
    if (st == FC_SUCCESS) transform(&g, d, w, flipped, wb);
    return st;
}

/* Workspace: V, M and the products' (the blocked kernel's) workspace. */
static size_t workspace_bytes(const wgb_geom *g, size_t *gemm) {
    size_t total = 0;
    if (fc_conv2d_blocked_workspace_size(&g->g1, gemm) != FC_SUCCESS) return SIZE_MAX;
    if (!fc_ws_add(&total, g->XI * pos_floats(g->CBn, g->band, g->TW), sizeof(float)) ||
        !fc_ws_add(&total, g->XI * pos_floats(g->KB, g->band, g->TW), sizeof(float)) ||
        !fc_ws_add(&total, 2 * g->KB * CB, sizeof(float)) || /* scale, bias */
        !fc_ws_add(&total, (int64_t)*gemm, 1))
        return SIZE_MAX;
    return total;
}

fc_status fc_conv2d_blocked_winograd_workspace_size(const fc_conv2d_desc *d,
                                                    fc_conv_algorithm algo, size_t *bytes) {
    FC_CALL_SCOPE();
    if (!bytes) return FC_INVALID_ARGUMENT;
    wgb_geom g;
    fc_status st = make_geom(d, algo, &g);
    if (st != FC_SUCCESS) return st;
    size_t gemm, b = workspace_bytes(&g, &gemm);
    if (b == SIZE_MAX) return FC_SIZE_OVERFLOW;
    *bytes = b;
    return FC_SUCCESS;
}

/* What the output transform's fix-up reads: the input and plain filters of image n. */
typedef struct wgb_fix {
    const fc_conv2d_desc *d;
    const float *xb, *w;
    int flipped;            /* w is the layer's whose backward-data d's forward is */
    int64_t n, k0, oh0;     /* output block's first channel, the tile row's first row */
} wgb_fix;

/* Each non-finite lane of v (output (oh0 + oh, ow), channels k0..) computed directly in
 * double over the taps that read the map, as the direct kernels skip the others. */
static void fix_output(const void *ctx, int64_t oh, int64_t ow, float *v) {
    const wgb_fix *f = ctx;
    const fc_conv2d_desc *d = f->d;
    int64_t CBn = fc_ceil_div(d->C, CB);
    oh += f->oh0;
    for (int64_t l = 0; l < CB && f->k0 + l < d->K; l++) {
        if (v[l] - v[l] == 0) continue;
        int64_t k = f->k0 + l;
        double acc = 0.0;
        const int64_t R = d->R, S = d->S;
        for (int64_t c = 0; c < d->C; c++) {
            const float *plane = f->xb + ((f->n * CBn + c / CB) * d->H * d->W) * CB + c % CB;
            for (int64_t r = 0; r < R; r++) {
                int64_t h = oh + r - d->pad_top;
                if (h < 0 || h >= d->H) continue;
                for (int64_t s = 0; s < S; s++) {
                    int64_t x = ow + s - d->pad_left;
                    if (x < 0 || x >= d->W) continue;
                    acc += (double)plane[(h * d->W + x) * CB] *
                           (f->flipped ? f->w[((c * d->K + k) * R + R - 1 - r) * S + S - 1 - s]
                                       : f->w[((k * d->C + c) * R + r) * S + s]);
                }
            }
        }
        v[l] = (float)acc;
    }
}

fc_status fc_conv2d_blocked_winograd_forward(const fc_conv2d_desc *d, fc_conv_algorithm algo,
                                             const float *xb, const float *wb, const float *w,
                                             const fc_epilogue *ep, float *yb, void *workspace,
                                             size_t workspace_size) {
    FC_CALL_SCOPE();
    if (!xb || !wb || !w || !yb) return FC_INVALID_ARGUMENT;
    return fc_blocked_winograd_run(d, algo, xb, wb, w, 0, ep, yb, workspace, workspace_size);
}

fc_status fc_blocked_winograd_run(const fc_conv2d_desc *d, fc_conv_algorithm algo,
                                  const float *xb, const float *wb, const float *w, int flipped,
                                  const fc_epilogue *ep, float *yb, void *workspace,
                                  size_t workspace_size) {
    wgb_geom g;
    fc_status st = make_geom(d, algo, &g);
    if (st != FC_SUCCESS) return st;
    const fc_epilogue none = {NULL, NULL, NULL, 0};
    if (!ep) ep = &none;
    st = fc_epilogue_check(ep, yb, d->N * g.KB * g.OH * g.OW * CB);
    if (st != FC_SUCCESS) return st;
    if (d->N == 0) return FC_SUCCESS;
    size_t gemm, need = workspace_bytes(&g, &gemm);
    if (need == SIZE_MAX) return FC_SIZE_OVERFLOW;
    FC_ARENA(ws);
    st = fc_workspace_open(workspace, workspace_size, need, &ws);
    if (st != FC_SUCCESS) return st;
    const fc_kernels *kt = fc_kernels_active();
    float *v = fc_arena_alloc(&ws, (size_t)(g.XI * pos_floats(g.CBn, g.band, g.TW)) * sizeof(float));
    float *m = fc_arena_alloc(&ws, (size_t)(g.XI * pos_floats(g.KB, g.band, g.TW)) * sizeof(float));
    void *gws = fc_arena_alloc(&ws, gemm);
    float *scale = fc_arena_alloc(&ws, (size_t)(2 * g.KB * CB) * sizeof(float));
    if (!v || !m || !scale || (gemm && !gws)) return FC_INVALID_WORKSPACE;
    /* scale (1 when absent) and bias padded to whole blocks */
    float *bias = scale + g.KB * CB;
    for (int64_t k = 0; k < g.KB * CB; k++) {
        scale[k] = !ep->scale ? 1.0f : k < d->K ? ep->scale[k] : 0.0f;
        bias[k] = ep->bias && k < d->K ? ep->bias[k] : 0.0f;
    }
    /* a band is `rows` of the batch's N * TH tile rows, row gr = tile row gr % TH of
     * image gr / TH */
    for (int64_t t0 = 0; t0 < d->N * g.TH; t0 += g.band) {
        int64_t rows = fc_min64(g.band, d->N * g.TH - t0);
        fc_conv2d_desc g1 = g.g1;
        g1.H = rows;
        #pragma omp parallel for num_threads(fc_threads()) schedule(static)
        for (int64_t r = 0; r < g.CBn * rows; r++) {
            int64_t cb = r / rows, gr = t0 + r % rows, n = gr / g.TH, th = gr % g.TH;
            fc_blocked_wg_in in = {
                .x = xb + (n * g.CBn + cb) * d->H * d->W * CB, .H = d->H, .W = d->W,
                .h0 = g.m * th - d->pad_top, .w0 = -d->pad_left, .TW = g.TW, .m = g.m, .r = g.r,
                .v = v + (cb * rows + r % rows) * g.TW * CB,
                .pos = pos_floats(g.CBn, rows, g.TW), .ts = CB};
            kt->conv_blocked.wg_input(&in);
        }
        st = fc_blocked_forward_image_weights(&g1, v, wb, g.XI, g.w_xi,
                                              pos_floats(g.CBn, rows, g.TW),
                                              pos_floats(g.KB, rows, g.TW), NULL, m, gws, gemm);
        if (st != FC_SUCCESS) return st;
        #pragma omp parallel for num_threads(fc_threads()) schedule(static)
        for (int64_t r = 0; r < g.KB * rows; r++) {
            int64_t kb = r / rows, gr = t0 + r % rows, n = gr / g.TH, th = gr % g.TH;
            int64_t plane = g.OH * g.OW * CB;
            int64_t at = (n * g.KB + kb) * plane + g.m * th * g.OW * CB;
            wgb_fix f = {d, xb, w, flipped, n, kb * CB, g.m * th};
            fc_blocked_wg_out out = {
                .m = m + (kb * rows + r % rows) * g.TW * CB,
                .pos = pos_floats(g.KB, rows, g.TW), .TW = g.TW, .mt = g.m, .r = g.r,
                .rows = fc_min64(g.m, g.OH - g.m * th), .OW = g.OW, .y = yb + at,
                .res = ep->residual ? ep->residual + at : NULL, .scale = scale + kb * CB,
                .bias = bias + kb * CB, .relu = ep->relu != 0,
                .kn = (int)fc_min64(CB, d->K - kb * CB), .fix = fix_output, .ctx = &f};
            kt->conv_blocked.wg_output(&out);
        }
    }
    return FC_SUCCESS;
}

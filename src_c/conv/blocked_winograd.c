/* Winograd F(2x2,3x3) on the blocked channel layout NCHW8c, for callers that keep
 * activations blocked (the inference plan): 16 multiplications for 4 outputs where the
 * direct blocked kernel makes 36. Three passes:
 *   input transform: each 4x4 input tile (stride 2, zeros past the map) of a block's 8
 *     channels -> BT d B, written as 16 blocked maps of the TH x TW tiles, one per
 *     transform position xi: V[n][xi] = an "image" (CBn, TH, TW, 8);
 *   products: one call of the blocked kernel (conv/blocked.c) as a 1x1 convolution over
 *     the N*16 images of V, image (n, xi) multiplied by its position's filter U[xi]
 *     (arranged as 1x1 weights): M[n][xi] (KB, TH, TW, 8);
 *   output transform: AT m A of each tile's 16 values, cropped to the map, the epilogue
 *     (scale, bias, residual, ReLU) on the way to y.
 * The filter transform and the 1-D transforms are the NCHW F(2x2)'s
 * (conv/winograd_common.c, kernels/f32_winograd_transforms.inc), so is its error bound
 * (README: below torch's); as there, a non-finite output (NaN, infinity, or a
 * transform's overflow) is recomputed directly, so it spoils only the outputs whose
 * 3x3 receptive field holds it. */
#include <stdlib.h>
#include <string.h>

#include "blocked.h"
#include "conv_desc.h"
#include "epilogue.h"
#include "winograd.h"
#include "core/registry.h"

#define CB FC_BLOCKED_CB
#define XI 16 /* transform positions: (2 + 2)^2 */

/* Tile rows are run in bands (all three passes on a band, then the next) whose V and M
 * take at most about this many bytes, so that they stay in the cores' L2 between the
 * passes instead of going to memory, and the workspace stays small next to the
 * activations (an inference plan's arena). */
#ifndef FC_WGB_BAND_BYTES
#define FC_WGB_BAND_BYTES (1 << 20)
#endif

typedef struct wgb_geom {
    int64_t OH, OW, TH, TW, CBn, KB;
    int64_t band;       /* tile rows of a band (the last may have fewer) */
    fc_conv2d_desc g1;  /* a band's products: a 1x1 convolution over 16 images of tiles */
    int64_t w_xi;       /* floats of one position's arranged filter */
} wgb_geom;

/* Floats between the transform positions of a band's V (blocks = CBn) or M (KB): one
 * cache line more than their data, so that the 16 streams a transform reads or writes
 * do not fall into the same L1 sets (a whole number of 4 KB pages apart, as 64@56x56's
 * bands of 4 tile rows are, they thrashed: the same layer's time varied 2.5x from one
 * process to the next). */
static int64_t pos_floats(int64_t blocks, int64_t rows, int64_t TW) {
    return blocks * rows * TW * CB + 16;
}

static fc_status make_geom(const fc_conv2d_desc *d, wgb_geom *g) {
    if (!d) return FC_INVALID_ARGUMENT;
    fc_status st = fc_conv2d_check(d, &g->OH, &g->OW);
    if (st != FC_SUCCESS) return st;
    if (d->groups != 1 || !fc_winograd_serves(d)) return FC_UNSUPPORTED_ALGORITHM;
    g->TH = fc_ceil_div(g->OH, 2);
    g->TW = fc_ceil_div(g->OW, 2);
    g->CBn = fc_ceil_div(d->C, CB);
    g->KB = fc_ceil_div(d->K, CB);
    int64_t row, t;
    if (!fc_prod4(XI * (g->CBn + g->KB), g->TW, CB, (int64_t)sizeof(float), &row) ||
        !fc_prod4(g->KB, CB, g->CBn, CB, &g->w_xi) || !fc_mul_ok(XI, g->w_xi, &t))
        return FC_SIZE_OVERFLOW;
    int64_t most = fc_max64(1, FC_WGB_BAND_BYTES / row), bands = fc_ceil_div(g->TH, most);
    g->band = fc_ceil_div(g->TH, bands);        /* as even as whole rows allow */
    if (!fc_mul_ok(g->band, row, &t)) return FC_SIZE_OVERFLOW;
    g->g1 = (fc_conv2d_desc){.N = XI, .C = d->C, .H = g->band, .W = g->TW, .K = d->K,
                             .R = 1, .S = 1, .stride_h = 1, .stride_w = 1,
                             .dilation_h = 1, .dilation_w = 1, .groups = 1};
    return FC_SUCCESS;
}

/* The plan's rule (fc_conv2d_plan_blocked_winograd), or the test hook's: -1 the rule, 0
 * never, 1 wherever Winograd serves. Not thread-safe. */
static int g_mode = -1;
FC_API void fc_conv_blocked_winograd_set_mode(int mode) { g_mode = mode < 0 ? -1 : mode > 0; }

/* Where it pays: 3x3 layers of 64+ channels on maps of 7x7 and more (16+ tiles). Zen 4,
 * 2 threads, batch 1, C = K, padding 1, one layer, fastest of 60 calls against the
 * direct blocked kernel's in the same process: 64@56x56 0.56-0.88 of its time (up to
 * 1.8 while a neighbour loaded the host's memory), 128@28x28 0.51-0.79, 256@14x14
 * 0.50-0.75, 512@7x7 0.67-0.84. Whole plans, fastest of 60 calls alternating with
 * onnxruntime, direct -> Winograd: ResNet-18 batch 1 18.8 -> 14.1-15.3 ms, batch 16
 * 268-285 -> 239-244 ms; ResNet-50 batch 1 47.7 -> 42.8, batch 16 740 -> 682. */
fc_status fc_conv2d_plan_blocked_winograd(const fc_conv2d_desc *d, int *yes) {
    FC_CALL_SCOPE();
    if (!yes) return FC_INVALID_ARGUMENT;
    wgb_geom g;
    fc_status st = make_geom(d, &g);
    *yes = 0;
    if (st == FC_UNSUPPORTED_ALGORITHM) return FC_SUCCESS;
    if (st != FC_SUCCESS) return st;
    if (fc_precision_active() != FC_PRECISION_HIGH) return FC_SUCCESS;
    *yes = g_mode >= 0 ? g_mode
                       : d->C >= 64 && d->K >= 64 && g.TH * g.TW >= 16;
    return FC_SUCCESS;
}

fc_status fc_conv2d_blocked_winograd_weights_size(const fc_conv2d_desc *d, size_t *floats) {
    FC_CALL_SCOPE();
    if (!floats) return FC_INVALID_ARGUMENT;
    wgb_geom g;
    fc_status st = make_geom(d, &g);
    if (st != FC_SUCCESS) return st;
    *floats = (size_t)(XI * g.w_xi);
    return FC_SUCCESS;
}

fc_status fc_conv2d_blocked_winograd_transform_weights(const fc_conv2d_desc *d, const float *w,
                                                       float *wb, size_t wb_floats) {
    FC_CALL_SCOPE();
    if (!w || !wb) return FC_INVALID_ARGUMENT;
    wgb_geom g;
    fc_status st = make_geom(d, &g);
    if (st != FC_SUCCESS) return st;
    if (wb_floats < (size_t)(XI * g.w_xi)) return FC_INVALID_WORKSPACE;
    int64_t plane;
    if (!fc_mul_ok(d->K, d->C, &plane)) return FC_SIZE_OVERFLOW;
    /* U[xi][k][c], once per layer: not from the thread's workspace cache, which would
     * keep its size after the call */
    float *u = malloc((size_t)(XI * plane) * sizeof(float));
    if (!u) return FC_OUT_OF_MEMORY;
    fc_winograd_transform_filters(d, 2, w, u);
    for (int xi = 0; xi < XI; xi++)
        fc_blocked_arrange_weights(d->K, d->C, 1, u + xi * plane, d->C, 1, 1, wb + xi * g.w_xi);
    free(u);
    return FC_SUCCESS;
}

/* Workspace: V, M and the products' (the blocked kernel's) workspace. */
static size_t workspace_bytes(const wgb_geom *g, size_t *gemm) {
    size_t total = 0;
    if (fc_conv2d_blocked_workspace_size(&g->g1, gemm) != FC_SUCCESS) return SIZE_MAX;
    if (!fc_ws_add(&total, XI * pos_floats(g->CBn, g->band, g->TW), sizeof(float)) ||
        !fc_ws_add(&total, XI * pos_floats(g->KB, g->band, g->TW), sizeof(float)) ||
        !fc_ws_add(&total, 2 * g->KB * CB, sizeof(float)) || /* scale, bias */
        !fc_ws_add(&total, (int64_t)*gemm, 1))
        return SIZE_MAX;
    return total;
}

fc_status fc_conv2d_blocked_winograd_workspace_size(const fc_conv2d_desc *d, size_t *bytes) {
    FC_CALL_SCOPE();
    if (!bytes) return FC_INVALID_ARGUMENT;
    wgb_geom g;
    fc_status st = make_geom(d, &g);
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
        for (int64_t c = 0; c < d->C; c++) {
            const float *plane = f->xb + ((f->n * CBn + c / CB) * d->H * d->W) * CB + c % CB;
            for (int r = 0; r < 3; r++) {
                int64_t h = oh + r - d->pad_top;
                if (h < 0 || h >= d->H) continue;
                for (int s = 0; s < 3; s++) {
                    int64_t x = ow + s - d->pad_left;
                    if (x < 0 || x >= d->W) continue;
                    acc += (double)plane[(h * d->W + x) * CB] *
                           f->w[((k * d->C + c) * 3 + r) * 3 + s];
                }
            }
        }
        v[l] = (float)acc;
    }
}

fc_status fc_conv2d_blocked_winograd_forward(const fc_conv2d_desc *d, const float *xb,
                                             const float *wb, const float *w,
                                             const fc_epilogue *ep, float *yb, void *workspace,
                                             size_t workspace_size) {
    FC_CALL_SCOPE();
    if (!xb || !wb || !w || !yb) return FC_INVALID_ARGUMENT;
    wgb_geom g;
    fc_status st = make_geom(d, &g);
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
    float *v = fc_arena_alloc(&ws, (size_t)(XI * pos_floats(g.CBn, g.band, g.TW)) * sizeof(float));
    float *m = fc_arena_alloc(&ws, (size_t)(XI * pos_floats(g.KB, g.band, g.TW)) * sizeof(float));
    void *gws = fc_arena_alloc(&ws, gemm);
    float *scale = fc_arena_alloc(&ws, (size_t)(2 * g.KB * CB) * sizeof(float));
    if (!v || !m || !scale || (gemm && !gws)) return FC_INVALID_WORKSPACE;
    /* scale (1 when absent) and bias padded to whole blocks */
    float *bias = scale + g.KB * CB;
    for (int64_t k = 0; k < g.KB * CB; k++) {
        scale[k] = !ep->scale ? 1.0f : k < d->K ? ep->scale[k] : 0.0f;
        bias[k] = ep->bias && k < d->K ? ep->bias[k] : 0.0f;
    }
    for (int64_t n = 0; n < d->N; n++)
        for (int64_t t0 = 0; t0 < g.TH; t0 += g.band) {
            int64_t rows = fc_min64(g.band, g.TH - t0);
            fc_conv2d_desc g1 = g.g1;
            g1.H = rows;
            #pragma omp parallel for num_threads(fc_threads()) schedule(static)
            for (int64_t r = 0; r < g.CBn * rows; r++) {
                int64_t cb = r / rows, th = t0 + r % rows;
                fc_blocked_wg_in in = {
                    .x = xb + (n * g.CBn + cb) * d->H * d->W * CB, .H = d->H, .W = d->W,
                    .h0 = 2 * th - d->pad_top, .w0 = -d->pad_left, .TW = g.TW,
                    .v = v + (cb * rows + th - t0) * g.TW * CB,
                    .pos = pos_floats(g.CBn, rows, g.TW)};
                kt->conv_blocked.wg_input(&in);
            }
            st = fc_blocked_forward_image_weights(&g1, v, wb, XI, g.w_xi,
                                                  pos_floats(g.CBn, rows, g.TW),
                                                  pos_floats(g.KB, rows, g.TW), NULL, m, gws,
                                                  gemm);
            if (st != FC_SUCCESS) return st;
            #pragma omp parallel for num_threads(fc_threads()) schedule(static)
            for (int64_t r = 0; r < g.KB * rows; r++) {
                int64_t kb = r / rows, th = t0 + r % rows, plane = g.OH * g.OW * CB;
                int64_t at = (n * g.KB + kb) * plane + 2 * th * g.OW * CB;
                wgb_fix f = {d, xb, w, n, kb * CB, 2 * th};
                fc_blocked_wg_out out = {
                    .m = m + (kb * rows + th - t0) * g.TW * CB,
                    .pos = pos_floats(g.KB, rows, g.TW), .TW = g.TW,
                    .rows = fc_min64(2, g.OH - 2 * th), .OW = g.OW, .y = yb + at,
                    .res = ep->residual ? ep->residual + at : NULL, .scale = scale + kb * CB,
                    .bias = bias + kb * CB, .relu = ep->relu != 0,
                    .kn = (int)fc_min64(CB, d->K - kb * CB), .fix = fix_output, .ctx = &f};
                kt->conv_blocked.wg_output(&out);
            }
        }
    return FC_SUCCESS;
}

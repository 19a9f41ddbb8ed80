/* Backward-weights of a 3x3 (or 5x5: F(2x2,5x5)) stride-1 layer by Winograd on the blocked layout NCHW8c, for
 * AUTO's NCHW calls (conv2d.c), the reorders at the call's edge. The forward computes
 * each tile as AT [U . V] A with U = G g GT and V = BT x B, so the gradient of U is,
 * position by position, the sum over the tiles of (A gy AT) times V, and gw = GT dU G:
 *   x and grad_y reordered to NCHW8c;
 *   in bands of the batch's tile rows: V (the forward's input transform, wg_input) and
 *     Y = A gy AT (wg_grad), both [xi][tile][channel]; one GEMM per position
 *     dU[xi] (K x C) += Y[xi]^T V[xi], accumulated over the bands;
 *   gw[k][c] = GT dU[.][k][c] G.
 * grad_y's tiles past the output map are zeros, so the cropped outputs contribute
 * nothing. A non-finite gradient (NaN or infinity in x or grad_y, or a transform's
 * overflow) is recomputed directly in double, so it has the direct sum's value. */
#include <math.h>
#include <string.h>

#include "blocked.h"
#include "blocked_nchw.h"
#include "conv_desc.h"
#include "winograd.h"
#include "core/registry.h"
#include "gemm/gemm.h"

#define CB FC_BLOCKED_CB

/* A band: about this many bytes of V and Y, and at least this many tiles (the depth of
 * its GEMMs; each band reads and writes all of dU). */
#define BWW_BAND_BYTES (8 << 20)
#define BWW_BAND_MIN_TILES 128

#include "winograd_filters.inc"

/* Filters back-transformed at once (vectorised along them). */
#define BWW_LANES 64

typedef struct bww_geom {
    int m, r;             /* output tile m x m, kernel r x r (F(2x2,5x5): m 2, r 5) */
    int64_t XI, OH, OW, TH, TW, Cp, Kp;
    int64_t band;         /* tile rows of a band (of the batch's N * TH) */
    int64_t xb, gyb, vy, du; /* floats of the workspace's pieces: x and grad_y blocked, a
                                band's V and Y, dU */
    size_t gemm;          /* the GEMMs' arena bytes, a slice per thread */
} bww_geom;

static fc_status geom(const fc_conv2d_desc *d, fc_conv_algorithm algo, bww_geom *g) {
    g->m = fc_winograd_tile(algo);
    if (!g->m) return FC_INVALID_ARGUMENT;
    fc_status st = fc_conv2d_check(d, &g->OH, &g->OW);
    if (st != FC_SUCCESS) return st;
    int five = algo == FC_CONV_WINOGRAD_F23 && d->R == 5 && d->S == 5 && d->stride_h == 1 &&
               d->stride_w == 1 && d->dilation_h == 1 && d->dilation_w == 1;
    if (d->groups != 1 || !(fc_winograd_serves(d) || five)) return FC_UNSUPPORTED_ALGORITHM;
    g->r = five ? 5 : 3;
    g->XI = (g->m + g->r - 1) * (g->m + g->r - 1);
    g->TH = fc_ceil_div(g->OH, g->m);
    g->TW = fc_ceil_div(g->OW, g->m);
    g->Cp = fc_ceil_div(d->C, CB) * CB;
    g->Kp = fc_ceil_div(d->K, CB) * CB;
    int64_t row;
    if (!fc_prod4(g->XI * (g->Cp + g->Kp), g->TW, (int64_t)sizeof(float), 1, &row))
        return FC_SIZE_OVERFLOW;
    g->band = fc_blocked_wg_band(d->N * g->TH, g->TW, row, BWW_BAND_BYTES, BWW_BAND_MIN_TILES);
    int64_t T = g->band * g->TW;
    if (!fc_prod4(d->N, g->Cp, d->H, d->W, &g->xb) ||
        !fc_prod4(d->N, g->Kp, g->OH, g->OW, &g->gyb) ||
        !fc_prod4(g->XI, T, g->Cp + g->Kp, 1, &g->vy) || !fc_prod4(g->XI, d->K, d->C, 1, &g->du))
        return FC_SIZE_OVERFLOW;
    /* the positions' GEMMs split over the threads, one thread each: a team per GEMM
     * cost more in joins than it gained on the small ones (64 channels) */
    size_t one = fc_gemm_workspace(d->K, d->C, T, 1);
    g->gemm = one;
    if (one == SIZE_MAX || __builtin_mul_overflow(one, (size_t)fc_threads(), &g->gemm))
        return FC_SIZE_OVERFLOW;
    return FC_SUCCESS;
}

size_t fc_conv_blocked_nchw_winograd_bwd_weights_workspace(const fc_conv2d_desc *d,
                                                           fc_conv_algorithm algo) {
    bww_geom g;
    if (geom(d, algo, &g) != FC_SUCCESS) return SIZE_MAX;
    size_t total = 0;
    if (!fc_ws_add(&total, g.xb, sizeof(float)) || !fc_ws_add(&total, g.gyb, sizeof(float)) ||
        !fc_ws_add(&total, g.vy, sizeof(float)) || !fc_ws_add(&total, g.du, sizeof(float)) ||
        g.gemm > (size_t)INT64_MAX || !fc_ws_add(&total, (int64_t)g.gemm, 1))
        return SIZE_MAX;
    return total;
}

/* gw[k][c] summed directly in double over the batch (taps over the padding skipped). */
static float direct_grad(const fc_conv2d_desc *d, const bww_geom *g, const float *gy,
                         const float *x, int64_t k, int64_t c, int r, int s) {
    double acc = 0.0;
    for (int64_t n = 0; n < d->N; n++)
        for (int64_t oh = 0; oh < g->OH; oh++) {
            int64_t h = oh + r - d->pad_top;
            if (h < 0 || h >= d->H) continue;
            for (int64_t ow = 0; ow < g->OW; ow++) {
                int64_t w = ow + s - d->pad_left;
                if (w < 0 || w >= d->W) continue;
                acc += (double)gy[((n * d->K + k) * g->OH + oh) * g->OW + ow] *
                       x[((n * d->C + c) * d->H + h) * d->W + w];
            }
        }
    return (float)acc;
}

/* Test hook (not in fastconv.h): how many calls ran this way. */
FC_TEST_COUNTER(fc_conv_blocked_winograd_bwd_weights_runs)

fc_status fc_conv_blocked_nchw_winograd_bwd_weights(const fc_conv2d_desc *d,
                                                    fc_conv_algorithm algo, const float *gy,
                                                    const float *x, float *gw, fc_arena *ws) {
    bww_geom g;
    fc_status st = geom(d, algo, &g);
    if (st != FC_SUCCESS) return st;
    const int64_t T = g.band * g.TW, plane = d->K * d->C;
    const int R = g.r, RS = g.r * g.r;
    if (d->N == 0) { /* no terms */
        memset(gw, 0, (size_t)(plane * RS) * sizeof(float));
        return FC_SUCCESS;
    }
    float *xb = fc_arena_alloc(ws, (size_t)g.xb * sizeof(float));
    float *gyb = fc_arena_alloc(ws, (size_t)g.gyb * sizeof(float));
    float *v = fc_arena_alloc(ws, (size_t)g.vy * sizeof(float));
    float *du = fc_arena_alloc(ws, (size_t)g.du * sizeof(float));
    char *gws = fc_arena_alloc(ws, g.gemm);
    if (!xb || !gyb || !v || !du || (g.gemm && !gws)) return FC_INVALID_WORKSPACE;
    float *y = v + g.XI * T * g.Cp;
    FC_TEST_COUNT(fc_conv_blocked_winograd_bwd_weights_runs);
    if ((st = fc_reorder_nchw_to_nchw8c(d->N, d->C, d->H, d->W, x, xb)) != FC_SUCCESS ||
        (st = fc_reorder_nchw_to_nchw8c(d->N, d->K, g.OH, g.OW, gy, gyb)) != FC_SUCCESS)
        return st;
    const fc_kernels *kt = fc_kernels_active();
    const int64_t CBn = g.Cp / CB, KB = g.Kp / CB, all = d->N * g.TH;
    for (int64_t t0 = 0; t0 < all; t0 += g.band) {
        int64_t rows = fc_min64(g.band, all - t0), tiles = rows * g.TW;
        /* V[xi][tile][Cp] and Y[xi][tile][Kp]: a tile's channels contiguous */
        #pragma omp parallel for num_threads(fc_threads()) schedule(static)
        for (int64_t r = 0; r < (CBn + KB) * rows; r++) {
            int64_t b = r / rows, gr = t0 + r % rows, n = gr / g.TH, th = gr % g.TH;
            int64_t at = (r % rows) * g.TW;
            if (b < CBn) {
                fc_blocked_wg_in in = {
                    .x = xb + (n * CBn + b) * d->H * d->W * CB, .H = d->H, .W = d->W,
                    .h0 = g.m * th - d->pad_top, .w0 = -d->pad_left, .TW = g.TW, .m = g.m, .r = R,
                    .v = v + at * g.Cp + b * CB, .pos = T * g.Cp, .ts = g.Cp};
                kt->conv_blocked.wg_input(&in);
            } else {
                int64_t kb = b - CBn;
                fc_blocked_wg_in in = {
                    .x = gyb + (n * KB + kb) * g.OH * g.OW * CB, .H = g.OH, .W = g.OW,
                    .h0 = g.m * th, .w0 = 0, .TW = g.TW, .m = g.m, .r = R,
                    .v = y + at * g.Kp + kb * CB, .pos = T * g.Kp, .ts = g.Kp};
                kt->conv_blocked.wg_grad(&in);
            }
        }
        fc_status bad = FC_SUCCESS;
        size_t slice = g.gemm / (size_t)fc_threads();
        #pragma omp parallel for num_threads(fc_threads()) schedule(static)
        for (int64_t xi = 0; xi < g.XI; xi++) {
            int id, team;
            fc_team(&id, &team);
            fc_arena a_ws = {.base = gws + (size_t)id * slice, .size = slice};
            fc_gemm_args a = {.trans_a = 1, .trans_b = 0, .M = d->K, .N = d->C, .K = tiles,
                              .alpha = 1.0f, .A = y + xi * T * g.Kp, .lda = g.Kp,
                              .B = v + xi * T * g.Cp, .ldb = g.Cp, .beta = t0 ? 1.0f : 0.0f,
                              .C = du + xi * plane, .ldc = d->C};
            fc_status e = fc_gemm_run(&a, 1, &a_ws);
            if (e != FC_SUCCESS) __atomic_store_n(&bad, e, __ATOMIC_RELAXED); /* after the loop */
        }
        if (bad != FC_SUCCESS) return bad;
    }
    /* gw = GT dU G, BWW_LANES filters at a time (each position's run of them
     * contiguous in dU); a non-finite entry recomputed directly */
    const double *G = R == 5 ? &wg_f25_G[0][0] : g.m == 2 ? &wg_f23_G[0][0] : &wg_f43_G[0][0];
    const int al = g.m + R - 1;
    #pragma omp parallel for num_threads(fc_threads()) schedule(static)
    for (int64_t kc0 = 0; kc0 < plane; kc0 += BWW_LANES) {
        int64_t n = fc_min64(BWW_LANES, plane - kc0);
        float t[6][5][BWW_LANES], o[25][BWW_LANES];
        for (int i = 0; i < al; i++) /* dU G: runs along the filters, vectorised */
            for (int s = 0; s < R; s++) {
                float *acc = t[i][s];
                for (int64_t l = 0; l < n; l++) acc[l] = 0.0f;
                for (int j = 0; j < al; j++) {
                    float gjs = (float)G[j * R + s];
                    const float *row = du + (int64_t)(i * al + j) * plane + kc0;
                    if (gjs != 0.0f)
                        for (int64_t l = 0; l < n; l++) acc[l] += row[l] * gjs;
                }
            }
        for (int r = 0; r < R; r++) /* GT (dU G) */
            for (int s = 0; s < R; s++) {
                float *acc = o[r * R + s];
                for (int64_t l = 0; l < n; l++) acc[l] = 0.0f;
                for (int i = 0; i < al; i++) {
                    float gir = (float)G[i * R + r];
                    if (gir != 0.0f)
                        for (int64_t l = 0; l < n; l++) acc[l] += gir * t[i][s][l];
                }
            }
        for (int64_t l = 0; l < n; l++)
            for (int q = 0; q < RS; q++) {
                float f = o[q][l];
                int64_t kc = kc0 + l;
                if (!isfinite(f)) f = direct_grad(d, &g, gy, x, kc / d->C, kc % d->C, q / R, q % R);
                gw[kc * RS + q] = f;
            }
    }
    return FC_SUCCESS;
}

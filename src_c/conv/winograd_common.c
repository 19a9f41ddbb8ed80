/* Winograd convolution F(2x2,3x3) / F(4x4,3x3): geometry, packing, filter transform,
 * the tile-block loop with its batched GEMMs, and the public pre-transformed-weights
 * entry points. Backward-data is the forward pass on grad_y with the flipped,
 * transposed filter and padding 2 - p (negative padding crops); backward-weights
 * delegates to im2col (see fc_winograd_backward_weights).
 *
 * Non-finite values: every Winograd output mixes its whole (m+2)x(m+2) input window
 * (one NaN input pixel spoils m*m outputs per channel, not the 3x3 receptive field's
 * footprint), and the transforms scale by up to ~8 (F(4x4)), so inputs near FLT_MAX
 * can overflow where the direct sum does not. NaN and infinities only propagate
 * (no arithmetic here turns them finite), so every output whose exact value is
 * non-finite is non-finite in Winograd too: the output transform flags the tile rows
 * holding a non-finite value (one vector add per stored vector), and only those rows
 * are re-scanned, each non-finite output recomputed directly (double accumulation)
 * from the input and the pass's 3x3 filter. The result has exactly the direct
 * algorithm's (and torch's) set of non-finite outputs.
 *
 * A forward epilogue (conv/epilogue.h) beyond a bias: the output transform writes a
 * tile row of plain convolution values into a per-thread buffer of m output rows, the
 * fix-up repairs them there, and the epilogue writes them to y (so that the residual
 * may be y: each element is read before it is written). */
#include <math.h>
#include <string.h>

#include "conv_desc.h"
#include "plane.h"
#include "direct.h"
#include "epilogue.h"
#include "im2col.h"
#include "winograd.h"
#include "gemm/gemm.h"
#include "core/registry.h"
#include "winograd_filters.inc"

/* Floats kernels may read past a packed input or the M block (whole-vector loads of
 * lanes that are discarded). */
#define WG_SLACK 64
/* Target bytes of one tile block's V and M (kept near the caches between the input
 * transform, the GEMMs and the output transform); at least WG_MIN_TILES tiles so that
 * each GEMM has a wide enough N dimension. */
#define WG_BLOCK_BYTES (3u << 20)
#define WG_MIN_TILES 128

typedef struct wg_geom {
    int m, al, a2;
    int64_t N, C, K, G, Cg, Kg;   /* C input, K output channels of the pass */
    int64_t H, W, pt, pl, OH, OW;
    int64_t TH, TW;               /* tiles per image */
    int64_t phase, qrow, Hq, qplane;
    fc_plane_geom packed;         /* the padded input plane: m phases, qrow x Hq */
    int64_t rows_per_block, tb_max;
} wg_geom;

int fc_winograd_serves(const fc_conv2d_desc *d) {
    return d->R == 3 && d->S == 3 && d->stride_h == 1 && d->stride_w == 1 &&
           d->dilation_h == 1 && d->dilation_w == 1;
}

int fc_winograd_tile(fc_conv_algorithm algo) {
    return algo == FC_CONV_WINOGRAD_F23 ? 2 : algo == FC_CONV_WINOGRAD_F43 ? 4 : 0;
}

/* 1 on success, 0 when a size overflows. */
static int make_geom(wg_geom *g, int m, int64_t N, int64_t C, int64_t H, int64_t W, int64_t K,
                     int64_t G, int64_t pt, int64_t pl, int64_t OH, int64_t OW) {
    g->m = m;
    g->al = m + 2;
    g->a2 = g->al * g->al;
    g->N = N; g->C = C; g->K = K; g->G = G; g->Cg = C / G; g->Kg = K / G;
    g->H = H; g->W = W; g->pt = pt; g->pl = pl; g->OH = OH; g->OW = OW;
    g->TH = fc_ceil_div(OH, m);
    g->TW = fc_ceil_div(OW, m);
    g->phase = g->TW + 1;
    g->qrow = m * g->phase;
    g->Hq = g->TH * m + 2;
    if (!fc_mul_ok(g->qrow, g->Hq, &g->qplane)) return 0;
    /* m phases of phase = TW + 1 floats: padded columns [0, TW*m + 2) */
    g->packed = fc_plane_geom_make(H, W, pt, pl, g->Hq, g->TW * m + 2, 1, 1, m);
    int64_t t, rows = N * g->TH;
    if (!fc_mul_ok(g->a2, C + K, &t) || !fc_mul_ok(t, 4, &t)) return 0;
    int64_t tiles = fc_max64(WG_MIN_TILES, (int64_t)WG_BLOCK_BYTES / t);
    g->rows_per_block = fc_min64(rows, fc_max64(1, tiles / g->TW));
    return fc_mul_ok(g->rows_per_block, g->TW, &g->tb_max);
}

static int forward_geom(const fc_conv2d_desc *d, int m, wg_geom *g) {
    int64_t OH, OW;
    fc_conv2d_out_shape(d, &OH, &OW);
    return make_geom(g, m, d->N, d->C, d->H, d->W, d->K, d->groups, d->pad_top, d->pad_left, OH, OW);
}

/* grad_x = conv(grad_y, flipped transposed w, padding 2 - p): a 3x3 stride-1 problem. */
static int backward_geom(const fc_conv2d_desc *d, int m, wg_geom *g) {
    int64_t OH, OW;
    fc_conv2d_out_shape(d, &OH, &OW);
    return make_geom(g, m, d->N, d->K, OH, OW, d->C, d->groups, 2 - d->pad_top, 2 - d->pad_left,
                     d->H, d->W);
}

static int64_t u_floats(const wg_geom *g) { return g->G * g->a2 * g->Kg * g->Cg; }

/* Workspace of one run (without U): SIZE_MAX on overflow, as every size query. */
static size_t run_workspace(const wg_geom *g) {
    int64_t xq, v, mm;
    if (!fc_prod4(g->N, g->C, g->qplane, 1, &xq) || xq > INT64_MAX - WG_SLACK) return SIZE_MAX;
    if (!fc_prod4(g->a2, g->C, g->tb_max, 1, &v)) return SIZE_MAX;
    if (!fc_prod4(g->a2, g->K, g->tb_max, 1, &mm) || mm > INT64_MAX - WG_SLACK) return SIZE_MAX;
    size_t total = 0;
    if (!fc_ws_add(&total, xq + WG_SLACK, sizeof(float)) || !fc_ws_add(&total, v, sizeof(float)) ||
        !fc_ws_add(&total, mm + WG_SLACK, sizeof(float)) ||
        !fc_ws_add(&total, g->rows_per_block * g->K, 1))
        return SIZE_MAX;
    int64_t rowbuf; /* per thread: one tile row of output for the epilogue */
    if (!fc_prod4(g->m, g->OW, fc_threads(), 1, &rowbuf) || !fc_ws_add(&total, rowbuf, sizeof(float)))
        return SIZE_MAX;
    /* Each thread's GEMM packs into its own slice of this workspace (the per-thread
     * cache is already holding this workspace, so fc_sgemm must not reopen it). */
    size_t gw = fc_gemm_workspace(g->Kg, g->tb_max, g->Cg, 1);
    if (gw == SIZE_MAX || !fc_ws_add(&total, (int64_t)gw, (size_t)fc_threads())) return SIZE_MAX;
    return total;
}

/* --------------------------------------------------------- timing aid */


/* ------------------------------------------------------------ filters */

/* Filters transformed at once: the lanes of the double-precision arithmetic (the
 * compiler vectorises the lane loops). */
#define WG_TB 8

/* u[xi * u_xi + l] = (G f_l G^T)[xi] for the n (<= WG_TB) 3x3 filters f_l = f[l] (row
 * stride fr, column stride fs, so that a flipped filter is read with negative
 * strides), in double precision. Per lane the same sums in the same order as one
 * filter at a time. */
static inline __attribute__((always_inline)) void
transform_filters(const int m, const float *const *f, int n, int64_t fr, int64_t fs,
                  float *u, int64_t u_xi) {
    const double *Gm = m == 2 ? &wg_f23_G[0][0] : &wg_f43_G[0][0];
    int al = m + 2;
    double x[3][3][WG_TB], t[6][3][WG_TB];
    for (int r = 0; r < 3; r++)
        for (int s = 0; s < 3; s++)
            for (int l = 0; l < WG_TB; l++)
                x[r][s][l] = l < n ? (double)f[l][r * fr + s * fs] : 0.0;
    for (int i = 0; i < al; i++)
        for (int s = 0; s < 3; s++)
            for (int l = 0; l < WG_TB; l++) {
                double acc = 0.0;
                for (int r = 0; r < 3; r++) acc += Gm[i * 3 + r] * x[r][s][l];
                t[i][s][l] = acc;
            }
    for (int i = 0; i < al; i++)
        for (int j = 0; j < al; j++) {
            double v[WG_TB];
            for (int l = 0; l < WG_TB; l++) {
                double acc = 0.0;
                for (int s = 0; s < 3; s++) acc += t[i][s][l] * Gm[j * 3 + s];
                v[l] = acc;
            }
            float *d = u + (int64_t)(i * al + j) * u_xi;
            for (int l = 0; l < n; l++) d[l] = (float)v[l];
        }
}

/* U[g][xi][o][i] of the pass: forward o = k, i = c; backward-data o = c, i = k with the
 * filter flipped. A row (g, o) at a time, WG_TB filters of consecutive i at once: a
 * filter at a time, each behind three integer divisions, took about 20 ms for the
 * 512x512 filters of a 7x7 layer (one Zen 3 thread), more than the layer's batch-1
 * convolution. */
static void transform_weights(const fc_conv2d_desc *d, int m, int backward, const float *w, float *u) {
    int64_t G = d->groups, Kg = d->K / G, Cg = d->C / G;
    int64_t outg = backward ? Cg : Kg, ing = backward ? Kg : Cg, plane = outg * ing;
    int64_t a2 = (m + 2) * (m + 2);
    /* forward reads f[r][s] = w[..][r][s]; backward-data the flipped w[..][2-r][2-s] */
    int64_t fr = backward ? -3 : 3, fs = backward ? -1 : 1, f0 = backward ? 8 : 0;
    #pragma omp parallel for num_threads(fc_threads()) schedule(static)
    for (int64_t row = 0; row < G * outg; row++) {
        int64_t gi = row / outg, o = row % outg;
        float *dst = u + gi * a2 * plane + o * ing;
        for (int64_t i0 = 0; i0 < ing; i0 += WG_TB) {
            int n = (int)fc_min64(WG_TB, ing - i0);
            const float *f[WG_TB];
            for (int l = 0; l < n; l++) {
                int64_t i = i0 + l, k = backward ? i : o, c = backward ? o : i;
                f[l] = w + ((gi * Kg + k) * Cg + c) * 9 + f0;
            }
            /* constant tile sizes: the compiler unrolls and folds the matrices */
            if (m == 2) transform_filters(2, f, n, fr, fs, dst + i0, plane);
            else transform_filters(4, f, n, fr, fs, dst + i0, plane);
        }
    }
}

/* --------------------------------------------------------------- run */


/* ------------------------------------------- non-finite fix-up (rare) */

/* The pass's 3x3 filters, for recomputing single outputs directly: the caller's
 * weights (forward: w[k][c]; backward-data: w read flipped and transposed) or, for
 * the pre-transformed entry points, filters recovered from U into the forward layout
 * wp[o][i][3][3] (o the pass's output channel, i the input channel in its group). */
typedef struct wg_filter {
    const float *w;
    int backward;
} wg_filter;

/* f = L U L^T with L G = I: rows 0 and m+1 of G pick f0 and f2, rows 1 and 2 give f1.
 * Exact up to the rounding of U to float32 (a few eps of the filter's magnitude). */
static void recover_filters(const wg_geom *g, const float *U, float *wp) {
    static const double L23[3][4] = {{-1, 0, 0, 0}, {0, 1, -1, 0}, {0, 0, 0, 1}};
    static const double L43[3][6] = {{1, 0, 0, 0, 0, 0}, {0, 1.5, 1.5, 0, 0, 0}, {0, 0, 0, 0, 0, 1}};
    const double *L = g->m == 2 ? &L23[0][0] : &L43[0][0];
    int al = g->al;
    int64_t per = g->Kg * g->Cg;
    #pragma omp parallel for num_threads(fc_threads()) schedule(static)
    for (int64_t t = 0; t < g->G * per; t++) {
        const float *u = U + (t / per) * g->a2 * per + t % per;
        for (int r = 0; r < 3; r++)
            for (int q = 0; q < 3; q++) {
                double acc = 0.0;
                for (int a = 0; a < al; a++) {
                    if (L[r * al + a] == 0.0) continue;
                    for (int b = 0; b < al; b++)
                        if (L[q * al + b] != 0.0)
                            acc += L[r * al + a] * (double)u[(a * al + b) * per] * L[q * al + b];
                }
                wp[t * 9 + r * 3 + q] = (float)acc;
            }
    }
}

/* Output (oh, ow) of pass output channel o of image n, computed directly over the
 * 3x3 receptive field (taps in the padding skipped), accumulated in double. */
static float direct_output(const wg_geom *g, const float *x, const wg_filter *wf, float bias,
                           int64_t n, int64_t o, int64_t oh, int64_t ow) {
    int64_t gi = o / g->Kg, Cg = g->Cg, H = g->H, W = g->W;
    int64_t ih0 = oh - g->pt, iw0 = ow - g->pl;
    int64_t r0 = fc_max64(0, -ih0), r1 = fc_min64(3, H - ih0);
    int64_t s0 = fc_max64(0, -iw0), s1 = fc_min64(3, W - iw0);
    double acc = bias;
    for (int64_t i = 0; i < Cg && acc == acc; i++) {   /* NaN is final */
        const float *xp = x + (n * g->C + gi * Cg + i) * H * W;
        const float *f;
        int64_t fr = 3, fs = 1;
        if (wf->backward) {
            /* original weight w[K0][Cg0][3][3]: K0 = this pass's C, Cg0 = its Kg */
            f = wf->w + ((gi * Cg + i) * g->Kg + o % g->Kg) * 9 + 8;
            fr = -3; fs = -1;
        } else {
            f = wf->w + (o * Cg + i) * 9;
        }
        for (int64_t r = r0; r < r1; r++)
            for (int64_t q = s0; q < s1; q++)
                acc += (double)xp[(ih0 + r) * W + iw0 + q] * (double)f[r * fr + q * fs];
    }
    return (float)acc;
}

/* Recomputes every non-finite output of tile row th of plane (n, o), whose first
 * output row is at `rows` (in y, or an epilogue's row buffer). */
static void fix_row(const wg_geom *g, const float *x, const wg_filter *wf, float bias, float *rows,
                    int64_t n, int64_t o, int64_t th) {
    int64_t oh1 = fc_min64(g->OH, (th + 1) * g->m);
    for (int64_t oh = th * g->m; oh < oh1; oh++)
        for (int64_t ow = 0; ow < g->OW; ow++) {
            float *v = rows + (oh - th * g->m) * g->OW + ow;
            if (!isfinite(*v)) *v = direct_output(g, x, wf, bias, n, o, oh, ow);
        }
}

/* The batched element-wise products of one transform position and group:
 * M[Kg][TB] = U[Kg][Cg] x V[Cg][TB], single-threaded in the calling thread with
 * packing buffers from `ws`. The one place Winograd calls the SGEMM. */
static void wg_gemm(int64_t Kg, int64_t TB, int64_t Cg, const float *U, const float *V, float *M,
                    fc_arena *ws) {
    fc_gemm_args a = {0, 0, Kg, TB, Cg, 1.0f, U, Cg, V, TB, 0.0f, M, TB};
    ws->used = 0;
    fc_gemm_run(&a, 1, ws);
}

/* Floats of the filters recovered from U (pre-transformed entry points only). */
static int64_t wp_floats(const wg_geom *g) { return g->K * g->Cg * 9; }

/* wf->w NULL: the filters for the rare fix-up are recovered from U, into a buffer of
 * wp_floats() the caller's workspace holds beyond run_workspace(). */
/* The fix-up's filters: the caller's, or those recovered from U on first need (once,
 * by whichever thread gets there first). */
static const float *fixup_filters(const wg_geom *g, const float *U, const float **w, float *wp) {
    const float *f = __atomic_load_n(w, __ATOMIC_ACQUIRE);
    if (f) return f;
    #pragma omp critical(fc_winograd_recover)
    {
        if (!__atomic_load_n(w, __ATOMIC_ACQUIRE)) {
            recover_filters(g, U, wp);
            __atomic_store_n(w, (const float *)wp, __ATOMIC_RELEASE);
        }
    }
    return __atomic_load_n(w, __ATOMIC_ACQUIRE);
}

/* The output transforms of a block with an epilogue (see the top of this file). */
static void output_epilogue(const wg_geom *g, const float *x, const float *U, wg_filter *wf,
                            float *wp, const fc_epilogue *ep, const float *M, int64_t gr0,
                            int64_t nr, float *rowbufs, float *y, fc_winograd_output_fn kout) {
    int64_t K = g->K, TW = g->TW, TH = g->TH, TB = nr * TW, m = g->m;
    #pragma omp parallel for num_threads(fc_threads()) schedule(static)
    for (int64_t t = 0; t < nr * K; t++) {
        int64_t r = t / K, k = t % K, gr = gr0 + r, n = gr / TH, th = gr % TH;
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        float *rb = rowbufs + (int64_t)tid * m * g->OW;
        int64_t rows = fc_min64(m, g->OH - th * m);
        /* th 0 of a plane `rows` high: the kernel writes rows [0, rows) of rb */
        fc_winograd_output a = {M + k * TB + r * TW, K * TB, 0, TW, rows, g->OW, 0.0f, rb};
        if (kout(&a)) {
            wg_filter f = {fixup_filters(g, U, &wf->w, wp), wf->backward};
            fix_row(g, x, &f, 0.0f, rb, n, k, th);
        }
        for (int64_t q = 0; q < rows; q++)
            fc_epilogue_row(ep, k, rb + q * g->OW, y, ((n * K + k) * g->OH + th * m + q) * g->OW,
                            g->OW);
    }
}

static fc_status wg_run(const wg_geom *g, const float *x, const float *U, wg_filter wf,
                        const fc_epilogue *ep, float *y, fc_arena *ws) {
    int64_t C = g->C, K = g->K, TW = g->TW, TH = g->TH, a2 = g->a2;
    float *xq = fc_arena_alloc(ws, (size_t)(g->N * C * g->qplane + WG_SLACK) * sizeof(float));
    float *V = fc_arena_alloc(ws, (size_t)(a2 * C * g->tb_max) * sizeof(float));
    float *M = fc_arena_alloc(ws, (size_t)(a2 * K * g->tb_max + WG_SLACK) * sizeof(float));
    unsigned char *rowbad = fc_arena_alloc(ws, (size_t)(g->rows_per_block * K));
    int nt = fc_threads();
    size_t gw = fc_gemm_workspace(g->Kg, g->tb_max, g->Cg, 1);
    char *gbuf = fc_arena_alloc(ws, gw * (size_t)nt);
    float *wp = wf.w ? NULL : fc_arena_alloc(ws, (size_t)wp_floats(g) * sizeof(float));
    float *rowbufs = fc_arena_alloc(ws, (size_t)(g->m * g->OW * nt) * sizeof(float));
    if (!xq || !V || !M || !rowbad || !gbuf || (!wf.w && !wp) || !rowbufs)
        return FC_INVALID_WORKSPACE;
    const float *bias = ep->bias;
    const fc_kernels *kt = fc_kernels_active();
    fc_winograd_input_fn kin = g->m == 2 ? kt->winograd.input_2x2 : kt->winograd.input_4x4;
    fc_winograd_output_fn kout = g->m == 2 ? kt->winograd.output_2x2 : kt->winograd.output_4x4;

    #pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t p = 0; p < g->N * C; p++) fc_plane_pack(&g->packed, x + p * g->H * g->W, xq + p * g->qplane);
    memset(xq + g->N * C * g->qplane, 0, WG_SLACK * sizeof(float));
    memset(M + a2 * K * g->tb_max, 0, WG_SLACK * sizeof(float));

    int64_t rows = g->N * TH;
    for (int64_t gr0 = 0; gr0 < rows; gr0 += g->rows_per_block) {
        int64_t nr = fc_min64(g->rows_per_block, rows - gr0), TB = nr * TW;

        #pragma omp parallel for num_threads(nt) schedule(static)
        for (int64_t t = 0; t < nr * C; t++) {
            int64_t r = t / C, c = t % C, gr = gr0 + r;
            fc_winograd_input a = {xq + ((gr / TH) * C + c) * g->qplane, g->qrow, g->phase, gr % TH, TW,
                          V + c * TB + r * TW, C * TB};
            kin(&a);
        }

        #pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
        for (int64_t t = 0; t < g->G * a2; t++) {
            int64_t gi = t / a2, xi = t % a2;
            int tid = 0;
#ifdef _OPENMP
            tid = omp_get_thread_num();
#endif
            fc_arena mine = {gbuf + (size_t)tid * gw, gw, 0};
            wg_gemm(g->Kg, TB, g->Cg, U + (gi * a2 + xi) * g->Kg * g->Cg,
                    V + (xi * C + gi * g->Cg) * TB, M + (xi * K + gi * g->Kg) * TB, &mine);
        }

        if (!fc_epilogue_bias_only(ep)) {
            output_epilogue(g, x, U, &wf, wp, ep, M, gr0, nr, rowbufs, y, kout);
            continue;
        }
        int any = 0;
        #pragma omp parallel for num_threads(nt) schedule(static) reduction(|:any)
        for (int64_t t = 0; t < nr * K; t++) {
            int64_t r = t / K, k = t % K, gr = gr0 + r;
            fc_winograd_output a = {M + k * TB + r * TW, K * TB, gr % TH, TW, g->OH, g->OW,
                           bias ? bias[k] : 0.0f, y + ((gr / TH) * K + k) * g->OH * g->OW};
            rowbad[t] = (unsigned char)(kout(&a) != 0);
            any |= rowbad[t];
        }
        if (!any) continue;
        if (!wf.w) {   /* first fix-up of a pre-transformed run */
            recover_filters(g, U, wp);
            wf.w = wp;
        }
        #pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
        for (int64_t t = 0; t < nr * K; t++) {
            if (!rowbad[t]) continue;
            int64_t gr = gr0 + t / K, k = t % K;
            fix_row(g, x, &wf, bias ? bias[k] : 0.0f,
                    y + ((gr / TH) * K + k) * g->OH * g->OW + (gr % TH) * g->m * g->OW, gr / TH,
                    k, gr % TH);
        }
    }
    return FC_SUCCESS;
}

/* ------------------------------------------------- algorithm interface */

static int pass_geom(const fc_conv2d_desc *d, int m, fc_conv_pass pass, wg_geom *g) {
    return pass == FC_PASS_BACKWARD_DATA ? backward_geom(d, m, g) : forward_geom(d, m, g);
}

size_t fc_winograd_workspace(const fc_conv2d_desc *d, fc_conv_algorithm algo, fc_conv_pass pass) {
    int m = fc_winograd_tile(algo);
    if (!m) return SIZE_MAX;
    if (pass == FC_PASS_BACKWARD_WEIGHTS) return fc_conv_im2col_workspace(d, pass);
    wg_geom g;
    if (!pass_geom(d, m, pass, &g)) return SIZE_MAX;
    size_t total = run_workspace(&g);
    if (total == SIZE_MAX || !fc_ws_add(&total, u_floats(&g), sizeof(float))) return SIZE_MAX;
    return total;
}

fc_status fc_winograd_forward(const fc_conv2d_desc *d, fc_conv_algorithm algo, const float *x,
                              const float *w, const fc_epilogue *ep, float *y, fc_arena *ws) {
    wg_geom g;
    int m = fc_winograd_tile(algo);
    if (!m || !forward_geom(d, m, &g)) return FC_SIZE_OVERFLOW;
    float *U = fc_arena_alloc(ws, (size_t)u_floats(&g) * sizeof(float));
    if (!U) return FC_INVALID_WORKSPACE;
    transform_weights(d, m, 0, w, U);
    return wg_run(&g, x, U, (wg_filter){w, 0}, ep, y, ws);
}

fc_status fc_winograd_backward_data(const fc_conv2d_desc *d, fc_conv_algorithm algo,
                                    const float *gy, const float *w, float *gx, fc_arena *ws) {
    wg_geom g;
    int m = fc_winograd_tile(algo);
    if (!m || !backward_geom(d, m, &g)) return FC_SIZE_OVERFLOW;
    float *U = fc_arena_alloc(ws, (size_t)u_floats(&g) * sizeof(float));
    if (!U) return FC_INVALID_WORKSPACE;
    transform_weights(d, m, 1, w, U);
    const fc_epilogue none = {NULL, NULL, NULL, 0};
    return wg_run(&g, gy, U, (wg_filter){w, 1}, &none, gx, ws);
}

/* The weight gradient is a 3x3 correlation of x with grad_y summed over images; by
 * Winograd it needs an OHxOW-sized filter transform per image and channel pair. It
 * delegates to im2col, measured 2-20x faster than the direct kernels on the 3x3
 * stride-1 benchmark shapes (e.g. AlexNet conv5 134 ms against 703 ms). */
fc_status fc_winograd_backward_weights(const fc_conv2d_desc *d, const float *gy,
                                       const float *x, float *gw, float *gb, fc_arena *ws) {
    return fc_conv_im2col_backward_weights(d, gy, x, gw, gb, ws);
}

/* ------------------------------------ public: pre-transformed weights */

static fc_status check_public(const fc_conv2d_desc *d, fc_conv_algorithm algo, fc_conv_pass pass) {
    fc_status st = fc_conv2d_check(d, NULL, NULL);
    if (st != FC_SUCCESS) return st;
    if (pass != FC_PASS_FORWARD && pass != FC_PASS_BACKWARD_DATA) return FC_INVALID_ARGUMENT;
    if (!fc_winograd_tile(algo)) {
        int known = algo == FC_CONV_AUTO || algo == FC_CONV_DIRECT || algo == FC_CONV_IM2COL;
        return known ? FC_UNSUPPORTED_ALGORITHM : FC_INVALID_ARGUMENT;
    }
    return fc_winograd_serves(d) ? FC_SUCCESS : FC_UNSUPPORTED_ALGORITHM;
}

fc_status fc_conv2d_winograd_weights_size(const fc_conv2d_desc *d, fc_conv_algorithm algo,
                                          fc_conv_pass pass, size_t *floats) {
    FC_CALL_SCOPE();
    if (!floats) return FC_INVALID_ARGUMENT;
    fc_status st = check_public(d, algo, pass);
    if (st != FC_SUCCESS) return st;
    wg_geom g;
    if (!pass_geom(d, fc_winograd_tile(algo), pass, &g)) return FC_SIZE_OVERFLOW;
    *floats = (size_t)u_floats(&g);
    return FC_SUCCESS;
}

fc_status fc_conv2d_winograd_transform_weights(const fc_conv2d_desc *d, fc_conv_algorithm algo,
                                               fc_conv_pass pass, const float *w, float *u,
                                               size_t u_floats_given) {
    FC_CALL_SCOPE();
    if (!w || !u) return FC_INVALID_ARGUMENT;
    size_t need;
    fc_status st = fc_conv2d_winograd_weights_size(d, algo, pass, &need);
    if (st != FC_SUCCESS) return st;
    if (u_floats_given < need) return FC_INVALID_WORKSPACE;
    transform_weights(d, fc_winograd_tile(algo), pass == FC_PASS_BACKWARD_DATA, w, u);
    return FC_SUCCESS;
}

static fc_status run_public(const fc_conv2d_desc *d, fc_conv_algorithm algo, fc_conv_pass pass,
                            const float *in, const float *u, const fc_epilogue *ep, float *out,
                            void *workspace, size_t workspace_size) {
    if (!in || !u || !out) return FC_INVALID_ARGUMENT;
    fc_status st = check_public(d, algo, pass);
    if (st != FC_SUCCESS) return st;
    wg_geom g;
    if (!pass_geom(d, fc_winograd_tile(algo), pass, &g)) return FC_SIZE_OVERFLOW;
    st = fc_epilogue_check(ep, out, g.N * g.K * g.OH * g.OW);
    if (st != FC_SUCCESS) return st;
    /* run_workspace + the recovered filters: within fc_winograd_workspace (U's a^2 >= 16
     * floats per filter against 9) */
    size_t need = run_workspace(&g);
    if (need == SIZE_MAX || !fc_ws_add(&need, wp_floats(&g), sizeof(float))) return FC_SIZE_OVERFLOW;
    FC_ARENA(ws);
    st = fc_workspace_open(workspace, workspace_size, need, &ws);
    if (st != FC_SUCCESS) return st;
    return wg_run(&g, in, u, (wg_filter){NULL, 0}, ep, out, &ws);
}

fc_status fc_conv2d_winograd_forward_pretransformed(const fc_conv2d_desc *d, fc_conv_algorithm algo,
                                                   const float *x, const float *u,
                                                   const float *bias, float *y, void *workspace,
                                                   size_t workspace_size) {
    FC_CALL_SCOPE();
    const fc_epilogue ep = {NULL, bias, NULL, 0};
    return run_public(d, algo, FC_PASS_FORWARD, x, u, &ep, y, workspace, workspace_size);
}

fc_status fc_conv2d_winograd_forward_pretransformed_ex(const fc_conv2d_desc *d,
                                                      fc_conv_algorithm algo, const float *x,
                                                      const float *u, const fc_epilogue *ep,
                                                      float *y, void *workspace,
                                                      size_t workspace_size) {
    FC_CALL_SCOPE();
    const fc_epilogue none = {NULL, NULL, NULL, 0};
    return run_public(d, algo, FC_PASS_FORWARD, x, u, ep ? ep : &none, y, workspace,
                      workspace_size);
}

fc_status fc_conv2d_winograd_backward_data_pretransformed(const fc_conv2d_desc *d,
                                                         fc_conv_algorithm algo,
                                                         const float *grad_y, const float *u,
                                                         float *grad_x, void *workspace,
                                                         size_t workspace_size) {
    FC_CALL_SCOPE();
    const fc_epilogue none = {NULL, NULL, NULL, 0};
    return run_public(d, algo, FC_PASS_BACKWARD_DATA, grad_y, u, &none, grad_x, workspace,
                      workspace_size);
}

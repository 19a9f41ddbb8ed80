/* AUTO's NCHW forward through the blocked kernel (conv/blocked_nchw.c) under the
 * sanitizers and valgrind: a 5x5 layer and a 3x3 one AUTO sends there by its rules, and
 * odd shapes (5, 13, 17 channels, asymmetric padding, stride 2) forced there by the test
 * hook, with the full epilogue and the residual in place (residual == y); backward-data
 * as the flipped forward on that path (conv/bwd_data_flipped.c), by the 3x3 rule and
 * forced on odd shapes (dilation, 1x1, 5x3); each in a caller workspace of exactly the
 * reported size and in the thread's cache, against a double reference; both passes
 * again through Winograd on the blocked layout (the filters transformed on every call,
 * the backward-data's flipped), and backward-weights that way, forced by the hooks on
 * odd 3x3 shapes. Arguments: the
 * thread count (default 2). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "fastconv.h"

#define CHECK(c) do { if (!(c)) { printf("FAIL %s:%d %s\n", __FILE__, __LINE__, #c); return 1; } } while (0)

/* Test hooks of conv/blocked_nchw.c (not in fastconv.h). */
void fc_conv_blocked_nchw_set_mode(int mode);
int64_t fc_conv_blocked_nchw_runs(void);
void fc_conv_blocked_winograd_set_mode(int mode); /* conv/blocked_winograd.c */
int64_t fc_conv_blocked_nchw_winograd_runs(void);
int64_t fc_conv_blocked_winograd_bwd_weights_runs(void);
void fc_conv_bwd_data_phases_set_mode(int mode); /* conv/bwd_data_phases.c */
int64_t fc_conv_bwd_data_phases_runs(void);
/* The counter run_bwd expects one more of: the blocked NCHW forwards, or the phases. */
static int64_t (*g_bwd_runs)(void) = fc_conv_blocked_nchw_runs;

/* Error allowed per output, relative to its sum of |products| (+1): the direct kernel's,
 * or Winograd's looser one (its bound is norm-wise: tests/ops/conv2d/test_winograd.py). */
static double g_tol = 1e-5;

static float rnd(unsigned *s) { *s = *s * 1103515245u + 12345u; return ((*s >> 9) & 0xffff) / 32768.0f - 1.0f; }

static int run(const fc_conv2d_desc *d, unsigned seed, int caller_ws) {
    int64_t OH, OW;
    CHECK(fc_conv2d_output_shape(d, &OH, &OW) == FC_SUCCESS);
    int64_t nx = d->N * d->C * d->H * d->W, nw = d->K * d->C * d->R * d->S,
            ny = d->N * d->K * OH * OW;
    float *x = malloc(nx * sizeof(float)), *w = malloc(nw * sizeof(float));
    float *y = malloc(ny * sizeof(float)), *res = malloc(ny * sizeof(float));
    float *sc = malloc(d->K * sizeof(float)), *b = malloc(d->K * sizeof(float));
    for (int64_t i = 0; i < nx; i++) x[i] = rnd(&seed);
    for (int64_t i = 0; i < nw; i++) w[i] = rnd(&seed);
    for (int64_t i = 0; i < ny; i++) y[i] = res[i] = rnd(&seed);
    for (int64_t k = 0; k < d->K; k++) { sc[k] = 2 * rnd(&seed); b[k] = rnd(&seed); }
    size_t bytes;
    CHECK(fc_conv2d_workspace_size(d, FC_CONV_AUTO, FC_PASS_FORWARD, &bytes) == FC_SUCCESS);
    void *ws = caller_ws ? malloc(bytes) : NULL;
    const fc_epilogue ep = {sc, b, y, 1};   /* residual == y */
    int64_t before = fc_conv_blocked_nchw_runs();
    CHECK(fc_conv2d_forward_ex(d, FC_CONV_AUTO, x, w, &ep, y, ws, caller_ws ? bytes : 0) ==
          FC_SUCCESS);
    CHECK(fc_conv_blocked_nchw_runs() == before + 1);
    for (int64_t n = 0; n < d->N; n++)
        for (int64_t k = 0; k < d->K; k++)
            for (int64_t oh = 0; oh < OH; oh++)
                for (int64_t ow = 0; ow < OW; ow++) {
                    double acc = 0, mag = 0;
                    for (int64_t c = 0; c < d->C; c++)
                        for (int64_t r = 0; r < d->R; r++)
                            for (int64_t s = 0; s < d->S; s++) {
                                int64_t ih = oh * d->stride_h - d->pad_top + r * d->dilation_h;
                                int64_t iw = ow * d->stride_w - d->pad_left + s * d->dilation_w;
                                if (ih < 0 || ih >= d->H || iw < 0 || iw >= d->W) continue;
                                double p = (double)x[((n * d->C + c) * d->H + ih) * d->W + iw] *
                                           w[((k * d->C + c) * d->R + r) * d->S + s];
                                acc += p;
                                mag += fabs(p);
                            }
                    int64_t i = ((n * d->K + k) * OH + oh) * OW + ow;
                    double want = sc[k] * acc + b[k] + res[i];
                    want = want > 0 ? want : 0;
                    double tol = g_tol * (fabs(sc[k]) * mag + fabs(b[k]) + fabs(res[i]) + 1);
                    CHECK(fabs(y[i] - want) <= tol);
                }
    free(x); free(w); free(y); free(res); free(sc); free(b); free(ws);
    return 0;
}

/* Backward-data through the flipped forward on the blocked kernel (conv/
 * bwd_data_flipped.c): AUTO (by its rule or the hook), against a double scatter. */
static int run_bwd(const fc_conv2d_desc *d, unsigned seed, int caller_ws) {
    int64_t OH, OW;
    CHECK(fc_conv2d_output_shape(d, &OH, &OW) == FC_SUCCESS);
    int64_t nx = d->N * d->C * d->H * d->W, nw = d->K * d->C * d->R * d->S,
            ny = d->N * d->K * OH * OW;
    float *gx = malloc(nx * sizeof(float)), *w = malloc(nw * sizeof(float));
    float *gy = malloc(ny * sizeof(float));
    double *want = calloc(nx, sizeof(double)), *mag = calloc(nx, sizeof(double));
    for (int64_t i = 0; i < nw; i++) w[i] = rnd(&seed);
    for (int64_t i = 0; i < ny; i++) gy[i] = rnd(&seed);
    size_t bytes;
    CHECK(fc_conv2d_workspace_size(d, FC_CONV_AUTO, FC_PASS_BACKWARD_DATA, &bytes) ==
          FC_SUCCESS);
    void *ws = caller_ws ? malloc(bytes) : NULL;
    int64_t before = g_bwd_runs();
    CHECK(fc_conv2d_backward_data(d, FC_CONV_AUTO, gy, w, gx, ws, caller_ws ? bytes : 0) ==
          FC_SUCCESS);
    CHECK(g_bwd_runs() == before + 1);
    for (int64_t n = 0; n < d->N; n++)
        for (int64_t k = 0; k < d->K; k++)
            for (int64_t oh = 0; oh < OH; oh++)
                for (int64_t ow = 0; ow < OW; ow++)
                    for (int64_t c = 0; c < d->C; c++)
                        for (int64_t r = 0; r < d->R; r++)
                            for (int64_t s = 0; s < d->S; s++) {
                                int64_t ih = oh * d->stride_h - d->pad_top + r * d->dilation_h;
                                int64_t iw = ow * d->stride_w - d->pad_left + s * d->dilation_w;
                                if (ih < 0 || ih >= d->H || iw < 0 || iw >= d->W) continue;
                                double p = (double)gy[((n * d->K + k) * OH + oh) * OW + ow] *
                                           w[((k * d->C + c) * d->R + r) * d->S + s];
                                int64_t i = ((n * d->C + c) * d->H + ih) * d->W + iw;
                                want[i] += p;
                                mag[i] += fabs(p);
                            }
    for (int64_t i = 0; i < nx; i++) CHECK(fabs(gx[i] - want[i]) <= g_tol * (mag[i] + 1));
    free(gx); free(w); free(gy); free(want); free(mag); free(ws);
    return 0;
}

/* Backward-weights by Winograd on the blocked layout (conv/blocked_winograd_bwd_weights.c,
 * forced by the hooks), grad_bias beside it, against double sums. */
static int run_bwdw(const fc_conv2d_desc *d, unsigned seed, int caller_ws) {
    int64_t OH, OW;
    CHECK(fc_conv2d_output_shape(d, &OH, &OW) == FC_SUCCESS);
    int64_t RS = d->R * d->S;
    int64_t nx = d->N * d->C * d->H * d->W, nw = d->K * d->C * RS, ny = d->N * d->K * OH * OW;
    float *x = malloc(nx * sizeof(float)), *gy = malloc(ny * sizeof(float));
    float *gw = malloc(nw * sizeof(float)), *gb = malloc(d->K * sizeof(float));
    for (int64_t i = 0; i < nx; i++) x[i] = rnd(&seed);
    for (int64_t i = 0; i < ny; i++) gy[i] = rnd(&seed);
    size_t bytes;
    CHECK(fc_conv2d_workspace_size(d, FC_CONV_AUTO, FC_PASS_BACKWARD_WEIGHTS, &bytes) ==
          FC_SUCCESS);
    void *ws = caller_ws ? malloc(bytes) : NULL;
    int64_t before = fc_conv_blocked_winograd_bwd_weights_runs();
    CHECK(fc_conv2d_backward_weights(d, FC_CONV_AUTO, gy, x, gw, gb, ws, caller_ws ? bytes : 0) ==
          FC_SUCCESS);
    CHECK(fc_conv_blocked_winograd_bwd_weights_runs() == before + 1);
    for (int64_t k = 0; k < d->K; k++) {
        double b = 0, bm = 0;
        for (int64_t n = 0; n < d->N; n++)
            for (int64_t q = 0; q < OH * OW; q++) {
                b += gy[(n * d->K + k) * OH * OW + q];
                bm += fabs(gy[(n * d->K + k) * OH * OW + q]);
            }
        CHECK(fabs(gb[k] - b) <= 1e-5 * (bm + 1));
        for (int64_t c = 0; c < d->C; c++)
            for (int r = 0; r < d->R; r++)
                for (int s = 0; s < d->S; s++) {
                    double acc = 0, mag = 0;
                    for (int64_t n = 0; n < d->N; n++)
                        for (int64_t oh = 0; oh < OH; oh++)
                            for (int64_t ow = 0; ow < OW; ow++) {
                                int64_t ih = oh - d->pad_top + r, iw = ow - d->pad_left + s;
                                if (ih < 0 || ih >= d->H || iw < 0 || iw >= d->W) continue;
                                double p = (double)gy[((n * d->K + k) * OH + oh) * OW + ow] *
                                           x[((n * d->C + c) * d->H + ih) * d->W + iw];
                                acc += p;
                                mag += fabs(p);
                            }
                    CHECK(fabs(gw[(k * d->C + c) * RS + r * d->S + s] - acc) <= g_tol * (mag + 1));
                }
    }
    free(x); free(gy); free(gw); free(gb); free(ws);
    return 0;
}

/* fn on each of n descriptors, in the thread's cache and in a caller's workspace. */
static int run_each(const fc_conv2d_desc *ds, int n, unsigned seed,
                    int (*fn)(const fc_conv2d_desc *, unsigned, int)) {
    for (int i = 0; i < n; i++)
        for (int cw = 0; cw < 2; cw++) CHECK(fn(&ds[i], seed + 7u * (unsigned)i + (unsigned)cw, cw) == 0);
    return 0;
}

int main(int argc, char **argv) {
    fc_set_num_threads(argc > 1 ? atoi(argv[1]) : 2);
    /* by AUTO's rule: 5x5, pad 2, 16 channels, 2 x 18 x 17 output positions */
    fc_conv2d_desc d5 = {2, 16, 18, 17, 20, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1, 1};
    CHECK(run_each(&d5, 1, 11u, run) == 0);
    /* by AUTO's 3x3 rule (conv2d.c, blocked_3x3_pays): 65 channels, 9 x 10 maps, batch 3 */
    fc_conv2d_desc d3 = {3, 65, 9, 10, 65, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    CHECK(run_each(&d3, 1, 21u, run) == 0);
    CHECK(run_each(&d3, 1, 31u, run_bwd) == 0);
    fc_conv_blocked_nchw_set_mode(1);
    const fc_conv2d_desc odd[] = {
        {1, 5, 7, 9, 13, 5, 5, 1, 1, 1, 2, 0, 3, 1, 1, 1},
        {3, 17, 6, 5, 5, 3, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1},
        {2, 13, 9, 8, 17, 1, 1, 2, 2, 1, 0, 0, 1, 1, 1, 1},
        {1, 9, 10, 10, 9, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 1},
    };
    CHECK(run_each(odd, 4, 100u, run) == 0);
    /* backward-data forced: odd channels, asymmetric padding, dilation, 1x1 */
    const fc_conv2d_desc bodd[] = {
        {1, 13, 7, 9, 5, 3, 3, 1, 1, 2, 0, 1, 2, 1, 1, 1},
        {3, 5, 6, 8, 17, 5, 3, 1, 1, 1, 3, 2, 0, 1, 1, 1},
        {2, 17, 9, 7, 13, 3, 3, 1, 1, 2, 2, 1, 1, 2, 1, 1},
        {2, 9, 5, 6, 11, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1},
    };
    CHECK(run_each(bodd, 4, 200u, run_bwd) == 0);
    /* Winograd forced: F(2x2) on small maps, F(4x4) from 49 tiles of 4x4 (batch 1) or
     * 16 in a batch; odd channels, asymmetric padding */
    fc_conv_blocked_winograd_set_mode(1);
    g_tol = 1e-3;
    const fc_conv2d_desc wg[] = {
        {1, 13, 9, 7, 5, 3, 3, 1, 1, 1, 0, 2, 1, 1, 1, 1},
        {2, 9, 17, 15, 11, 3, 3, 1, 1, 1, 1, 0, 1, 1, 1, 1},
        {1, 10, 30, 29, 7, 3, 3, 1, 1, 2, 1, 1, 0, 1, 1, 1},
    };
    int64_t wg_before = fc_conv_blocked_nchw_winograd_runs();
    CHECK(run_each(wg, 3, 300u, run) == 0);
    CHECK(run_each(wg, 3, 400u, run_bwd) == 0);
    CHECK(fc_conv_blocked_nchw_winograd_runs() == wg_before + 12);
    CHECK(run_each(wg, 3, 500u, run_bwdw) == 0);
    /* F(2x2,5x5) forced: odd channels and maps, asymmetric padding up to 4 */
    const fc_conv2d_desc wg5[] = {
        {1, 13, 9, 7, 5, 5, 5, 1, 1, 2, 0, 4, 1, 1, 1, 1},
        {2, 9, 12, 11, 17, 5, 5, 1, 1, 2, 2, 1, 3, 1, 1, 1},
    };
    wg_before = fc_conv_blocked_nchw_winograd_runs();
    CHECK(run_each(wg5, 2, 600u, run) == 0);
    CHECK(run_each(wg5, 2, 700u, run_bwd) == 0);
    CHECK(fc_conv_blocked_nchw_winograd_runs() == wg_before + 8);
    CHECK(run_each(wg5, 2, 800u, run_bwdw) == 0);
    fc_conv_blocked_winograd_set_mode(-1);
    fc_conv_blocked_nchw_set_mode(-1);
    /* strided backward-data as a blocked forward per phase (conv/bwd_data_phases.c),
     * forced: odd channels, strides 2-4 and mixed, a 1x1 kernel (phases without taps),
     * asymmetric padding (phases computing rows past their own), a map narrower than the
     * stride */
    g_tol = 1e-5;
    g_bwd_runs = fc_conv_bwd_data_phases_runs;
    fc_conv_bwd_data_phases_set_mode(1);
    const fc_conv2d_desc ph[] = {
        {2, 19, 14, 14, 21, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1},
        {1, 9, 7, 9, 17, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1},
        {2, 5, 8, 7, 6, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 1},
        {3, 8, 9, 10, 8, 4, 3, 3, 2, 0, 3, 0, 2, 1, 1, 1},
        {1, 4, 1, 3, 3, 1, 3, 2, 4, 0, 0, 1, 0, 1, 1, 1},
        {2, 13, 11, 6, 7, 5, 2, 4, 1, 2, 1, 0, 1, 1, 1, 1},
    };
    CHECK(run_each(ph, 6, 900u, run_bwd) == 0);
    fc_conv_bwd_data_phases_set_mode(-1);
    printf("blocked NCHW forward, backward-data and backward-weights: ok\n");
    return 0;
}

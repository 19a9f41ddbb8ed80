/*
 * fastconv_example.c -- a tour of the fastconv C API, checked against naive loops.
 *
 * Covers: version and ISA, threads, status strings, convolution (forward with a
 * caller workspace, backward data and weights), Winograd with pre-transformed
 * weights, transposed convolution, depthwise convolution, max / average / global
 * pooling (forward and backward), SGEMM, and concurrent calls from several threads.
 * Plain C99 (with POSIX threads) that also compiles as C++.
 *
 * Build (see docs/c_api.md):
 *   INC=$(python -c 'import fastconv; print(fastconv.get_include())')
 *   LIB=$(python -c 'import fastconv; print(fastconv.get_library_dir())')
 *   cc -std=c99 -O2 fastconv_example.c -I$INC -L$LIB -lfastconv -Wl,-rpath,$LIB -lm -pthread
 *
 * Exit status 0 when every result matches its reference; prints one line per check.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastconv.h"

static int failures = 0;

/* Stops on an unexpected status, with the library's own message. */
#define FC_CHECK(call)                                                          \
    do {                                                                        \
        fc_status st_ = (call);                                                 \
        if (st_ != FC_SUCCESS) {                                                \
            fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call, \
                    fc_status_string(st_));                                     \
            exit(2);                                                            \
        }                                                                       \
    } while (0)

static float *alloc_floats(int64_t n) { return (float *)malloc((size_t)n * sizeof(float)); }

static void fill(float *a, int64_t n, unsigned *seed) {
    for (int64_t i = 0; i < n; i++) {
        *seed = *seed * 1664525u + 1013904223u;
        a[i] = (float)((*seed >> 8) & 0xffff) / 32768.0f - 1.0f; /* in [-1, 1) */
    }
}

/* Reports max |got - want| relative to max |want|; float32 tolerance. */
static void compare(const char *what, const float *got, const double *want, int64_t n) {
    double err = 0, scale = 1e-30;
    for (int64_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]);
        if (e > err || e != e) err = e;
        if (fabs(want[i]) > scale) scale = fabs(want[i]);
    }
    int ok = err <= 1e-5 * scale;
    printf("%-28s max rel error %.2e  %s\n", what, err / scale, ok ? "ok" : "FAIL");
    if (!ok) failures++;
}

static double dot(const float *a, const float *b, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* <a, b> == <c, d>: the adjoint identity that ties a backward pass to its forward. */
static void compare_dots(const char *what, double ab, double cd) {
    double rel = fabs(ab - cd) / (fabs(ab) + fabs(cd) + 1e-30);
    int ok = rel <= 1e-5;
    printf("%-28s adjoint rel error %.2e  %s\n", what, rel, ok ? "ok" : "FAIL");
    if (!ok) failures++;
}

/* Naive grouped convolution in double: y[N][K][OH][OW]. */
static void conv_ref(const fc_conv2d_desc *d, int64_t OH, int64_t OW, const float *x,
                     const float *w, const float *bias, double *y) {
    int64_t cg = d->C / d->groups, kg = d->K / d->groups;
    for (int64_t n = 0; n < d->N; n++)
        for (int64_t k = 0; k < d->K; k++)
            for (int64_t oh = 0; oh < OH; oh++)
                for (int64_t ow = 0; ow < OW; ow++) {
                    double s = bias ? bias[k] : 0.0;
                    for (int64_t c = 0; c < cg; c++)
                        for (int64_t r = 0; r < d->R; r++)
                            for (int64_t q = 0; q < d->S; q++) {
                                int64_t h = oh * d->stride_h - d->pad_top + r * d->dilation_h;
                                int64_t v = ow * d->stride_w - d->pad_left + q * d->dilation_w;
                                if (h < 0 || h >= d->H || v < 0 || v >= d->W) continue;
                                int64_t ci = (k / kg) * cg + c;
                                s += (double)x[((n * d->C + ci) * d->H + h) * d->W + v] *
                                     w[((k * cg + c) * d->R + r) * d->S + q];
                            }
                    y[((n * d->K + k) * OH + oh) * OW + ow] = s;
                }
}

static void example_conv2d(unsigned *seed) {
    /* N C H W, K, R S, stride, pads (top bottom left right), dilation, groups */
    fc_conv2d_desc d = {2, 6, 13, 11, 8, 3, 3, 2, 1, 1, 0, 2, 1, 1, 2, 2};
    int64_t OH, OW;
    FC_CHECK(fc_conv2d_output_shape(&d, &OH, &OW));
    int64_t nx = d.N * d.C * d.H * d.W, nw = d.K * (d.C / d.groups) * d.R * d.S;
    int64_t ny = d.N * d.K * OH * OW;
    float *x = alloc_floats(nx), *w = alloc_floats(nw), *b = alloc_floats(d.K);
    float *y = alloc_floats(ny), *gy = alloc_floats(ny), *gx = alloc_floats(nx);
    float *gw = alloc_floats(nw), *gb = alloc_floats(d.K);
    double *want = (double *)malloc((size_t)ny * sizeof(double));
    fill(x, nx, seed);
    fill(w, nw, seed);
    fill(b, d.K, seed);
    fill(gy, ny, seed);
    conv_ref(&d, OH, OW, x, w, b, want);

    /* Forward with the library's per-thread cached workspace (NULL) ... */
    FC_CHECK(fc_conv2d_forward(&d, FC_CONV_AUTO, x, w, b, y, NULL, 0));
    compare("conv2d forward (auto)", y, want, ny);

    /* ... and with a caller workspace for each algorithm. The size depends on the
     * thread count and ISA in effect: query it right before the call. */
    for (int a = FC_CONV_DIRECT; a <= FC_CONV_IM2COL; a++) {
        size_t bytes = 0;
        FC_CHECK(fc_conv2d_workspace_size(&d, (fc_conv_algorithm)a, FC_PASS_FORWARD, &bytes));
        void *ws = bytes ? malloc(bytes) : NULL;
        memset(y, 0, (size_t)ny * sizeof(float));
        FC_CHECK(fc_conv2d_forward(&d, (fc_conv_algorithm)a, x, w, b, y, ws, bytes));
        compare(a == FC_CONV_DIRECT ? "conv2d forward (direct, ws)" : "conv2d forward (im2col, ws)",
                y, want, ny);
        free(ws);
    }

    /* Backward: <conv(x, w), gy> == <x, grad_x> == <w, grad_w>; grad_b = sum(gy). */
    FC_CHECK(fc_conv2d_forward(&d, FC_CONV_AUTO, x, w, NULL, y, NULL, 0));
    FC_CHECK(fc_conv2d_backward_data(&d, FC_CONV_AUTO, gy, w, gx, NULL, 0));
    FC_CHECK(fc_conv2d_backward_weights(&d, FC_CONV_AUTO, gy, x, gw, gb, NULL, 0));
    compare_dots("conv2d backward data", dot(y, gy, ny), dot(x, gx, nx));
    compare_dots("conv2d backward weights", dot(y, gy, ny), dot(w, gw, nw));
    {
        double sb[8] = {0};
        for (int64_t i = 0; i < ny; i++) sb[(i / (OH * OW)) % d.K] += gy[i];
        compare("conv2d grad bias", gb, sb, d.K);
    }
    free(x); free(w); free(b); free(y); free(gy); free(gx); free(gw); free(gb); free(want);
}

static void example_winograd(unsigned *seed) {
    /* 3x3, stride 1, dilation 1: the shapes Winograd serves. */
    fc_conv2d_desc d = {1, 8, 10, 9, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    int64_t OH, OW;
    FC_CHECK(fc_conv2d_output_shape(&d, &OH, &OW));
    int64_t nx = d.N * d.C * d.H * d.W, nw = d.K * d.C * 9, ny = d.N * d.K * OH * OW;
    float *x = alloc_floats(nx), *w = alloc_floats(nw), *y = alloc_floats(ny);
    double *want = (double *)malloc((size_t)ny * sizeof(double));
    fill(x, nx, seed);
    fill(w, nw, seed);
    conv_ref(&d, OH, OW, x, w, NULL, want);
    /* Transform the weights once, then run as often as needed. */
    size_t u_floats = 0;
    FC_CHECK(fc_conv2d_winograd_weights_size(&d, FC_CONV_WINOGRAD_F43, FC_PASS_FORWARD, &u_floats));
    float *u = alloc_floats((int64_t)u_floats);
    FC_CHECK(fc_conv2d_winograd_transform_weights(&d, FC_CONV_WINOGRAD_F43, FC_PASS_FORWARD, w, u,
                                                  u_floats));
    FC_CHECK(fc_conv2d_winograd_forward_pretransformed(&d, FC_CONV_WINOGRAD_F43, x, u, NULL, y,
                                                       NULL, 0));
    /* Winograd's error bound is wider than direct summation's (docs/c_api.md). */
    {
        double err = 0, scale = 0;
        for (int64_t i = 0; i < ny; i++) {
            if (fabs(y[i] - want[i]) > err) err = fabs(y[i] - want[i]);
            if (fabs(want[i]) > scale) scale = fabs(want[i]);
        }
        int ok = err <= 1e-4 * scale;
        printf("%-28s max rel error %.2e  %s\n", "winograd F(4x4,3x3) pre-tx", err / scale,
               ok ? "ok" : "FAIL");
        if (!ok) failures++;
    }
    /* A 5x5 kernel is refused, with a status, not a crash. */
    d.R = d.S = 5;
    fc_status st = fc_conv2d_winograd_weights_size(&d, FC_CONV_WINOGRAD_F43, FC_PASS_FORWARD, &u_floats);
    printf("%-28s %s (%s)\n", "winograd on 5x5", fc_status_string(st),
           st == FC_UNSUPPORTED_ALGORITHM ? "ok" : "FAIL");
    if (st != FC_UNSUPPORTED_ALGORITHM) failures++;
    free(x); free(w); free(y); free(u); free(want);
}

static void example_conv_transpose2d(unsigned *seed) {
    /* N C H W, K, R S, stride, pads, output_padding, dilation, groups */
    fc_conv_transpose2d_desc d = {2, 4, 5, 6, 6, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 2};
    int64_t OH, OW;
    FC_CHECK(fc_conv_transpose2d_output_shape(&d, &OH, &OW));
    int64_t nx = d.N * d.C * d.H * d.W, nw = d.C * (d.K / d.groups) * d.R * d.S;
    int64_t ny = d.N * d.K * OH * OW;
    float *x = alloc_floats(nx), *w = alloc_floats(nw), *b = alloc_floats(d.K);
    float *y = alloc_floats(ny), *gy = alloc_floats(ny), *gx = alloc_floats(nx);
    float *gw = alloc_floats(nw), *gb = alloc_floats(d.K);
    double *want = (double *)calloc((size_t)ny, sizeof(double));
    fill(x, nx, seed);
    fill(w, nw, seed);
    fill(b, d.K, seed);
    fill(gy, ny, seed);
    /* Reference: every input pixel scatters its weighted kernel into the output. */
    int64_t cg = d.C / d.groups, kg = d.K / d.groups;
    for (int64_t n = 0; n < d.N; n++)
        for (int64_t c = 0; c < d.C; c++)
            for (int64_t h = 0; h < d.H; h++)
                for (int64_t v = 0; v < d.W; v++)
                    for (int64_t kk = 0; kk < kg; kk++)
                        for (int64_t r = 0; r < d.R; r++)
                            for (int64_t q = 0; q < d.S; q++) {
                                int64_t oh = h * d.stride_h - d.pad_top + r * d.dilation_h;
                                int64_t ow = v * d.stride_w - d.pad_left + q * d.dilation_w;
                                if (oh < 0 || oh >= OH || ow < 0 || ow >= OW) continue;
                                int64_t k = (c / cg) * kg + kk;
                                want[((n * d.K + k) * OH + oh) * OW + ow] +=
                                    (double)x[((n * d.C + c) * d.H + h) * d.W + v] *
                                    w[((c * kg + kk) * d.R + r) * d.S + q];
                            }
    for (int64_t i = 0; i < ny; i++) want[i] += b[(i / (OH * OW)) % d.K];
    size_t bytes = 0;
    FC_CHECK(fc_conv_transpose2d_workspace_size(&d, FC_PASS_FORWARD, &bytes));
    void *ws = bytes ? malloc(bytes) : NULL;
    FC_CHECK(fc_conv_transpose2d_forward(&d, x, w, b, y, ws, bytes));
    free(ws);
    compare("conv_transpose2d forward", y, want, ny);
    FC_CHECK(fc_conv_transpose2d_forward(&d, x, w, NULL, y, NULL, 0));
    FC_CHECK(fc_conv_transpose2d_backward_data(&d, gy, w, gx, NULL, 0));
    FC_CHECK(fc_conv_transpose2d_backward_weights(&d, gy, x, gw, gb, NULL, 0));
    compare_dots("conv_transpose2d bwd data", dot(y, gy, ny), dot(x, gx, nx));
    compare_dots("conv_transpose2d bwd weights", dot(y, gy, ny), dot(w, gw, nw));
    free(x); free(w); free(b); free(y); free(gy); free(gx); free(gw); free(gb); free(want);
}

static void example_depthwise(unsigned *seed) {
    /* N C H W, multiplier, R S, stride, pads, dilation */
    fc_depthwise_conv2d_desc d = {2, 5, 12, 9, 2, 3, 3, 2, 1, 1, 1, 0, 2, 1, 1};
    int64_t OH, OW;
    FC_CHECK(fc_depthwise_conv2d_output_shape(&d, &OH, &OW));
    int64_t K = d.C * d.multiplier;
    int64_t nx = d.N * d.C * d.H * d.W, nw = K * d.R * d.S, ny = d.N * K * OH * OW;
    float *x = alloc_floats(nx), *w = alloc_floats(nw), *b = alloc_floats(K);
    float *y = alloc_floats(ny), *gy = alloc_floats(ny), *gx = alloc_floats(nx);
    float *gw = alloc_floats(nw), *gb = alloc_floats(K);
    double *want = (double *)malloc((size_t)ny * sizeof(double));
    fill(x, nx, seed);
    fill(w, nw, seed);
    fill(b, K, seed);
    fill(gy, ny, seed);
    /* Depthwise = grouped convolution with groups = C. */
    fc_conv2d_desc cd = {d.N, d.C, d.H, d.W, K, d.R, d.S, d.stride_h, d.stride_w, d.pad_top,
                         d.pad_bottom, d.pad_left, d.pad_right, d.dilation_h, d.dilation_w, d.C};
    conv_ref(&cd, OH, OW, x, w, b, want);
    FC_CHECK(fc_depthwise_conv2d_forward(&d, x, w, b, y));
    compare("depthwise forward", y, want, ny);
    FC_CHECK(fc_depthwise_conv2d_forward(&d, x, w, NULL, y));
    FC_CHECK(fc_depthwise_conv2d_backward_data(&d, gy, w, gx));
    FC_CHECK(fc_depthwise_conv2d_backward_weights(&d, gy, x, gw, gb));
    compare_dots("depthwise backward data", dot(y, gy, ny), dot(x, gx, nx));
    compare_dots("depthwise backward weights", dot(y, gy, ny), dot(w, gw, nw));
    free(x); free(w); free(b); free(y); free(gy); free(gx); free(gw); free(gb); free(want);
}

static void example_pooling(unsigned *seed) {
    /* N C H W, kernel, stride, pads, dilation, ceil_mode, count_include_pad */
    fc_pool2d_desc d = {2, 3, 9, 8, 3, 3, 2, 2, 1, 1, 1, 0, 1, 1, 0, 0};
    int64_t OH, OW;
    FC_CHECK(fc_pool2d_output_shape(&d, &OH, &OW));
    int64_t nx = d.N * d.C * d.H * d.W, ny = d.N * d.C * OH * OW;
    float *x = alloc_floats(nx), *y = alloc_floats(ny), *gy = alloc_floats(ny);
    float *gx = alloc_floats(nx);
    int64_t *idx = (int64_t *)malloc((size_t)ny * sizeof(int64_t));
    double *mx = (double *)malloc((size_t)ny * sizeof(double));
    double *av = (double *)malloc((size_t)ny * sizeof(double));
    double *gref = (double *)calloc((size_t)nx, sizeof(double));
    fill(x, nx, seed);
    fill(gy, ny, seed);
    for (int64_t p = 0; p < d.N * d.C; p++)
        for (int64_t oh = 0; oh < OH; oh++)
            for (int64_t ow = 0; ow < OW; ow++) {
                double m = -INFINITY, s = 0;
                int64_t cnt = 0, arg = 0;
                for (int64_t r = 0; r < d.kernel_h; r++)
                    for (int64_t q = 0; q < d.kernel_w; q++) {
                        int64_t h = oh * d.stride_h - d.pad_top + r;
                        int64_t v = ow * d.stride_w - d.pad_left + q;
                        if (h < 0 || h >= d.H || v < 0 || v >= d.W) continue;
                        double xv = x[p * d.H * d.W + h * d.W + v];
                        if (xv > m) { m = xv; arg = h * d.W + v; }
                        s += xv;
                        cnt++; /* count_include_pad = 0: only real pixels */
                    }
                int64_t o = (p * OH + oh) * OW + ow;
                mx[o] = m;
                av[o] = s / (double)cnt;
                gref[p * d.H * d.W + arg] += gy[o];
            }
    FC_CHECK(fc_max_pool2d_forward(&d, x, y, idx));
    compare("max_pool2d forward", y, mx, ny);
    FC_CHECK(fc_max_pool2d_backward(&d, gy, NULL, idx, gx)); /* from the saved indices */
    compare("max_pool2d backward", gx, gref, nx);
    d.dilation_h = d.dilation_w = 1;
    FC_CHECK(fc_avg_pool2d_forward(&d, x, y));
    compare("avg_pool2d forward", y, av, ny);
    /* avg backward: <avg(x), gy> == <x, grad_x> */
    FC_CHECK(fc_avg_pool2d_backward(&d, gy, gx));
    compare_dots("avg_pool2d backward", dot(y, gy, ny), dot(x, gx, nx));

    /* Global pooling: y[N][C]. */
    {
        int64_t P = d.N * d.C, HW = d.H * d.W;
        float g[6], gmax[6];
        double wa[6], wm[6];
        for (int64_t p = 0; p < P; p++) {
            wa[p] = 0;
            wm[p] = -INFINITY;
            for (int64_t i = 0; i < HW; i++) {
                wa[p] += x[p * HW + i] / (double)HW;
                if (x[p * HW + i] > wm[p]) wm[p] = x[p * HW + i];
            }
        }
        FC_CHECK(fc_global_avg_pool2d_forward(d.N, d.C, d.H, d.W, x, g));
        compare("global_avg_pool2d forward", g, wa, P);
        FC_CHECK(fc_global_max_pool2d_forward(d.N, d.C, d.H, d.W, x, gmax));
        compare("global_max_pool2d forward", gmax, wm, P);
        FC_CHECK(fc_global_avg_pool2d_backward(d.N, d.C, d.H, d.W, g, gx));
        FC_CHECK(fc_global_max_pool2d_backward(d.N, d.C, d.H, d.W, gmax, x, gx));
    }
    free(x); free(y); free(gy); free(gx); free(idx); free(mx); free(av); free(gref);
}

static void example_sgemm(void) {
    /* C = A B with A 2x3, B 3x2; then A^T stored as [K][M]. */
    const float A[6] = {1, 2, 3, 4, 5, 6}, B[6] = {7, 8, 9, 10, 11, 12};
    const float At[6] = {1, 4, 2, 5, 3, 6};
    float C[4], Ct[4];
    FC_CHECK(fc_sgemm(0, 0, 2, 2, 3, 1.0f, A, 3, B, 2, 0.0f, C, 2));
    FC_CHECK(fc_sgemm(1, 0, 2, 2, 3, 1.0f, At, 2, B, 2, 0.0f, Ct, 2));
    printf("sgemm C = [%g %g; %g %g]\n", C[0], C[1], C[2], C[3]);
    const double want[4] = {58, 64, 139, 154};
    compare("sgemm", C, want, 4);
    compare("sgemm (A transposed)", Ct, want, 4);
}

/* Several threads calling fastconv at once on their own buffers: each gets the
 * answer a lone call gives (every thread uses its own cached workspace). */
typedef struct job {
    const fc_conv2d_desc *d;
    const float *x, *w;
    float *y;
    fc_status st;
} job;

static void *run_job(void *arg) {
    job *j = (job *)arg;
    for (int rep = 0; rep < 3 && j->st == FC_SUCCESS; rep++)
        j->st = fc_conv2d_forward(j->d, FC_CONV_AUTO, j->x, j->w, NULL, j->y, NULL, 0);
    return NULL;
}

static void example_threads(unsigned *seed) {
    enum { T = 4 };
    fc_conv2d_desc d = {1, 16, 12, 12, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    int64_t nx = 16 * 144, nw = 16 * 16 * 9;
    float *x = alloc_floats(nx * T), *w = alloc_floats(nw), *y = alloc_floats(nx * T);
    float *alone = alloc_floats(nx * T);
    fill(x, nx * T, seed);
    fill(w, nw, seed);
    for (int t = 0; t < T; t++)
        FC_CHECK(fc_conv2d_forward(&d, FC_CONV_AUTO, x + t * nx, w, NULL, alone + t * nx, NULL, 0));
    pthread_t tid[T];
    job jobs[T];
    for (int t = 0; t < T; t++) {
        job j = {&d, x + t * nx, w, y + t * nx, FC_SUCCESS};
        jobs[t] = j;
        if (pthread_create(&tid[t], NULL, run_job, &jobs[t]) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            exit(2);
        }
    }
    int ok = 1;
    for (int t = 0; t < T; t++) {
        pthread_join(tid[t], NULL);
        ok &= jobs[t].st == FC_SUCCESS;
    }
    ok &= memcmp(y, alone, (size_t)(nx * T) * sizeof(float)) == 0;
    printf("%-28s %d threads, results identical to lone calls: %s\n", "concurrent conv2d", T,
           ok ? "ok" : "FAIL");
    if (!ok) failures++;
    free(x); free(w); free(y); free(alone);
}

static void example_errors(void) {
    /* Bad arguments come back as a status; nothing is written, nothing aborts. */
    fc_conv2d_desc d = {1, 3, 8, 8, 4, 3, 3, 0, 1, 0, 0, 0, 0, 1, 1, 1}; /* stride_h = 0 */
    int64_t OH, OW;
    fc_status st = fc_conv2d_output_shape(&d, &OH, &OW);
    printf("stride 0 -> status %d: %s\n", (int)st, fc_status_string(st));
    if (st != FC_INVALID_STRIDE) failures++;
    d.stride_h = 1;
    d.groups = 2; /* 3 channels are not divisible by 2 */
    st = fc_conv2d_output_shape(&d, &OH, &OW);
    printf("groups 2 on 3 channels -> %s\n", fc_status_string(st));
    if (st != FC_INVALID_GROUPS) failures++;
    st = fc_conv2d_forward(NULL, FC_CONV_AUTO, NULL, NULL, NULL, NULL, NULL, 0);
    printf("NULL descriptor -> %s\n", fc_status_string(st));
    if (st != FC_INVALID_ARGUMENT) failures++;
    /* A caller workspace one byte short is refused. */
    fc_conv2d_desc ok = {1, 16, 8, 8, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    size_t bytes = 0;
    FC_CHECK(fc_conv2d_workspace_size(&ok, FC_CONV_IM2COL, FC_PASS_FORWARD, &bytes));
    if (bytes > 0) {
        float *x = alloc_floats(16 * 64), *w = alloc_floats(16 * 16 * 9), *y = alloc_floats(16 * 64);
        void *ws = malloc(bytes);
        memset(x, 0, 16 * 64 * sizeof(float));
        memset(w, 0, 16 * 16 * 9 * sizeof(float));
        st = fc_conv2d_forward(&ok, FC_CONV_IM2COL, x, w, NULL, y, ws, bytes - 1);
        printf("workspace one byte short -> %s\n", fc_status_string(st));
        if (st != FC_INVALID_WORKSPACE) failures++;
        free(ws); free(x); free(w); free(y);
    }
}

int main(void) {
    unsigned seed = 12345u;
    printf("fastconv %s, ISA %s (CPU best: %s), OpenMP %s\n", fc_version(),
           fc_isa_name(fc_get_isa()), fc_isa_name(fc_cpu_isa()), fc_has_openmp() ? "yes" : "no");
    FC_CHECK(fc_set_num_threads(2));
    printf("threads %d\n", fc_get_num_threads());
    example_conv2d(&seed);
    example_winograd(&seed);
    example_conv_transpose2d(&seed);
    example_depthwise(&seed);
    example_pooling(&seed);
    example_sgemm();
    example_threads(&seed);
    example_errors();
    fc_release_workspace(); /* free this thread's cached workspace */
    if (failures) {
        printf("%d check(s) FAILED\n", failures);
        return 1;
    }
    printf("all checks passed\n");
    return 0;
}

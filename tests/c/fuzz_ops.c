/* Fuzz harness for the C API's other op families: transposed convolution,
 * depthwise convolution, max/avg/global pooling and SGEMM, each with arbitrary
 * descriptors (hostile sizes, negatives, overflowing products) and buffers of exactly
 * the size the descriptor implies, so that AddressSanitizer sees any access past them.
 * Every call must return a status; an invalid descriptor must be refused (never
 * FC_SUCCESS) by every entry point. The first input byte picks the op family.
 *
 * With clang: clang -fsanitize=fuzzer,address,undefined ... -DFC_LIBFUZZER.
 * With gcc:   a built-in driver feeds pseudo-random inputs: ./fuzz_ops SECONDS [SEED]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fastconv.h"

#define MAX_ELEMS (1 << 16)

typedef struct reader {
    const uint8_t *p;
    size_t n;
} reader;

static uint8_t byte(reader *r) { return r->n ? (r->n--, *r->p++) : 0; }

static int64_t take(reader *r) {
    /* Mostly small values, sometimes extremes, so both valid and hostile descriptors occur. */
    uint8_t sel = byte(r);
    int64_t v = 0;
    for (int i = 0; i < 2; i++) v = (v << 8) | byte(r);
    switch (sel % 16) {
    case 0: return -v;
    case 1: return INT64_MAX - v;
    case 2: return (int64_t)1 << (v % 63);
    case 3: return INT64_MIN + v;
    case 4: return v % 40;
    default: return v % 7;
    }
}

/* a*b*c*d when all are >= 0 and the product is at most MAX_ELEMS. */
static int small(int64_t a, int64_t b, int64_t c, int64_t d, int64_t *out) {
    int64_t t;
    if (a < 0 || b < 0 || c < 0 || d < 0) return 0;
    if (__builtin_mul_overflow(a, b, &t) || __builtin_mul_overflow(t, c, &t) ||
        __builtin_mul_overflow(t, d, &t) || t > MAX_ELEMS)
        return 0;
    *out = t;
    return 1;
}

/* Whether every field is at most 64: only such descriptors are run (legal ones with
 * huge pads or strides may need gigabytes of padded planes and minutes of work). */
static int tame(const int64_t *f, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (f[i] > 64) return 0;
    return 1;
}

static float *buf(int64_t n, reader *r) {
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    uint8_t k = byte(r);
    for (int64_t i = 0; i < n; i++) p[i] = (float)((i * 7 + k) % 13) - 6.0f;
    if (n > 0 && (k & 3) == 0) p[k % n] = (k & 4) ? __builtin_nanf("") : __builtin_inff();
    return p;
}

static void must_refuse(fc_status st) {
    if (st == FC_SUCCESS) abort();
}

static void fuzz_tconv(reader *r) {
    fc_conv_transpose2d_desc d;
    int64_t *f = &d.N;
    for (size_t i = 0; i < sizeof d / sizeof(int64_t); i++) f[i] = take(r);
    int64_t OH = 0, OW = 0;
    size_t ws = 0;
    for (int p = -1; p < 4; p++) fc_conv_transpose2d_workspace_size(&d, (fc_conv_pass)p, &ws);
    float dummy[4];
    if (fc_conv_transpose2d_output_shape(&d, &OH, &OW) != FC_SUCCESS) {
        must_refuse(fc_conv_transpose2d_forward(&d, dummy, dummy, NULL, dummy, NULL, 0));
        must_refuse(fc_conv_transpose2d_backward_data(&d, dummy, dummy, dummy, NULL, 0));
        must_refuse(fc_conv_transpose2d_backward_weights(&d, dummy, dummy, dummy, NULL, NULL, 0));
        return;
    }
    int64_t nx, nw, ny;
    if (!tame(f, sizeof d / sizeof(int64_t)) || d.groups < 1 || !small(d.N, d.C, d.H, d.W, &nx) ||
        !small(d.C, d.K / d.groups, d.R, d.S, &nw) || !small(d.N, d.K, OH, OW, &ny))
        return;
    /* an exact caller workspace half the time, so that overruns of it are caught too */
    size_t wf = 0, wd = 0, ww = 0;
    int own = byte(r) & 1;
    if (own && (fc_conv_transpose2d_workspace_size(&d, FC_PASS_FORWARD, &wf) ||
                fc_conv_transpose2d_workspace_size(&d, FC_PASS_BACKWARD_DATA, &wd) ||
                fc_conv_transpose2d_workspace_size(&d, FC_PASS_BACKWARD_WEIGHTS, &ww) ||
                wf > (1u << 24) || wd > (1u << 24) || ww > (1u << 24)))
        return;
    void *w1 = own && wf ? malloc(wf) : NULL, *w2 = own && wd ? malloc(wd) : NULL;
    void *w3 = own && ww ? malloc(ww) : NULL;
    float *x = buf(nx, r), *w = buf(nw, r), *y = buf(ny, r), *b = buf(d.K, r);
    float *gx = buf(nx, r), *gw = buf(nw, r);
    fc_conv_transpose2d_forward(&d, x, w, b, y, w1, wf);
    fc_conv_transpose2d_backward_data(&d, y, w, gx, w2, wd);
    fc_conv_transpose2d_backward_weights(&d, y, x, gw, b, w3, ww);
    free(x); free(w); free(y); free(b); free(gx); free(gw); free(w1); free(w2); free(w3);
}

static void fuzz_depthwise(reader *r) {
    fc_depthwise_conv2d_desc d;
    int64_t *f = &d.N;
    for (size_t i = 0; i < sizeof d / sizeof(int64_t); i++) f[i] = take(r);
    int64_t OH = 0, OW = 0;
    float dummy[4];
    if (fc_depthwise_conv2d_output_shape(&d, &OH, &OW) != FC_SUCCESS) {
        must_refuse(fc_depthwise_conv2d_forward(&d, dummy, dummy, NULL, dummy));
        must_refuse(fc_depthwise_conv2d_backward_data(&d, dummy, dummy, dummy));
        must_refuse(fc_depthwise_conv2d_backward_weights(&d, dummy, dummy, dummy, NULL));
        return;
    }
    int64_t nx, nw, ny, K = d.C * d.multiplier;
    if (!tame(f, sizeof d / sizeof(int64_t)) || !small(d.N, d.C, d.H, d.W, &nx) ||
        !small(K, 1, d.R, d.S, &nw) ||
        !small(d.N, K, OH, OW, &ny))
        return;
    float *x = buf(nx, r), *w = buf(nw, r), *y = buf(ny, r), *b = buf(K, r);
    float *gx = buf(nx, r), *gw = buf(nw, r);
    fc_depthwise_conv2d_forward(&d, x, w, b, y);
    fc_depthwise_conv2d_backward_data(&d, y, w, gx);
    fc_depthwise_conv2d_backward_weights(&d, y, x, gw, b);
    free(x); free(w); free(y); free(b); free(gx); free(gw);
}

static void fuzz_pool(reader *r) {
    fc_pool2d_desc d;
    int64_t *f = &d.N;
    for (int i = 0; i < 14; i++) f[i] = take(r);
    d.ceil_mode = byte(r) & 1;
    d.count_include_pad = byte(r) & 1;
    int is_avg = byte(r) & 1;
    if (is_avg && (byte(r) & 3)) d.dilation_h = d.dilation_w = 1;
    int64_t OH = 0, OW = 0;
    fc_status st = fc_pool2d_output_shape(&d, &OH, &OW);
    float dummy[4];
    int64_t idummy[4];
    if (st != FC_SUCCESS) {
        must_refuse(fc_max_pool2d_forward(&d, dummy, dummy, idummy));
        must_refuse(fc_max_pool2d_backward(&d, dummy, dummy, NULL, dummy));
        must_refuse(fc_avg_pool2d_forward(&d, dummy, dummy));
        must_refuse(fc_avg_pool2d_backward(&d, dummy, dummy));
        return;
    }
    int64_t nx, ny;
    if (!tame(f, 14) || !small(d.N, d.C, d.H, d.W, &nx) || !small(d.N, d.C, OH, OW, &ny)) return;
    float *x = buf(nx, r), *y = buf(ny, r), *gx = buf(nx, r);
    if (is_avg) {
        fc_avg_pool2d_forward(&d, x, y);
        fc_avg_pool2d_backward(&d, y, gx);
    } else {
        int64_t *idx = malloc((size_t)ny * sizeof(int64_t));
        if (fc_max_pool2d_forward(&d, x, y, idx) == FC_SUCCESS) {
            for (int64_t i = 0; i < ny; i++)
                if (idx[i] < 0 || idx[i] >= d.H * d.W) abort(); /* an index outside its plane */
            fc_max_pool2d_backward(&d, y, NULL, idx, gx);
        }
        fc_max_pool2d_backward(&d, y, x, NULL, gx);
        free(idx);
    }
    free(x); free(y); free(gx);
}

static void fuzz_global(reader *r) {
    int64_t N = take(r), C = take(r), H = take(r), W = take(r), nx;
    float dummy[4];
    must_refuse(fc_global_max_pool2d_forward(N, C, H, W, NULL, dummy));
    if (N < 1 || C < 1 || H < 1 || W < 1) {
        must_refuse(fc_global_avg_pool2d_forward(N, C, H, W, dummy, dummy));
        must_refuse(fc_global_max_pool2d_backward(N, C, H, W, dummy, dummy, dummy));
        return;
    }
    if (!small(N, C, H, W, &nx)) return; /* legal but too big to allocate here */
    float *x = buf(nx, r), *y = buf(N * C, r), *gx = buf(nx, r);
    fc_global_avg_pool2d_forward(N, C, H, W, x, y);
    fc_global_avg_pool2d_backward(N, C, H, W, y, gx);
    fc_global_max_pool2d_forward(N, C, H, W, x, y);
    fc_global_max_pool2d_backward(N, C, H, W, y, x, gx);
    free(x); free(y); free(gx);
}

/* Elements of a rows x cols matrix with leading dimension ld, or -1 when not small. */
static int64_t extent(int64_t rows, int64_t cols, int64_t ld) {
    int64_t t;
    if (rows < 1 || cols < 1 || ld < cols || ld > MAX_ELEMS) return -1;
    if (__builtin_mul_overflow(rows - 1, ld, &t) || t > MAX_ELEMS - cols) return -1;
    return t + cols;
}

static void fuzz_sgemm(reader *r) {
    int ta = byte(r) & 1, tb = byte(r) & 1;
    int64_t M = take(r), N = take(r), K = take(r);
    int64_t lda = take(r), ldb = take(r), ldc = take(r);
    uint8_t mode = byte(r);
    /* half the time the tightest legal leading dimensions */
    if (mode & 1) {
        lda = ta ? M : K;
        ldb = tb ? K : N;
        ldc = N;
    }
    float alpha = (mode & 6) == 0 ? 0.0f : 1.5f, beta = (mode & 24) == 0 ? 0.0f : -0.5f;
    int64_t na = extent(ta ? K : M, ta ? M : K, lda), nb = extent(tb ? N : K, tb ? K : N, ldb);
    int64_t nc = extent(M, N, ldc);
    if (na < 0 || nb < 0 || nc < 0) {
        /* Not small: anything but success is fine, as long as nothing is touched. A
         * shape that is legal and non-empty would need real buffers: skip those. */
        int empty = M == 0 || N == 0;
        int legal = M >= 0 && N >= 0 && K >= 0 && ldc >= N;
        if (!legal || empty) {
            fc_status st = fc_sgemm(ta, tb, M, N, K, alpha, NULL, lda, NULL, ldb, beta, NULL, ldc);
            if (!legal && st == FC_SUCCESS && !empty) abort();
        }
        return;
    }
    float *A = buf(na, r), *B = buf(nb, r), *C = buf(nc, r);
    fc_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    free(A); free(B); free(C);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    reader r = {data, size};
    switch (byte(&r) % 5) {
    case 0: fuzz_tconv(&r); break;
    case 1: fuzz_depthwise(&r); break;
    case 2: fuzz_pool(&r); break;
    case 3: fuzz_global(&r); break;
    default: fuzz_sgemm(&r); break;
    }
    return 0;
}

#define FUZZ_NAME "fuzz_ops"
#define FUZZ_MAX_INPUT 200
#include "fuzz_main.h"

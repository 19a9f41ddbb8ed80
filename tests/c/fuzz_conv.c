/* Fuzz harness for the C API: arbitrary descriptors (including hostile sizes,
 * negative values and overflowing products) and buffers sized from them. Every call
 * must return a status; none may crash, hang or touch memory outside the buffers.
 *
 * With clang: clang -fsanitize=fuzzer,address ... -DFC_LIBFUZZER (libFuzzer drives it).
 * With gcc:   a built-in driver feeds pseudo-random inputs: ./fuzz_conv SECONDS [SEED]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fastconv.h"

/* Buffers are only allocated (and the op only run) when the descriptor is small. */
#define MAX_ELEMS (1 << 16)

typedef struct reader {
    const uint8_t *p;
    size_t n;
} reader;

static int64_t take(reader *r) {
    /* Mostly small values, sometimes extremes, so both valid and hostile descriptors occur. */
    uint8_t sel = r->n ? (r->p++, r->n--, r->p[-1]) : 0;
    int64_t v = 0;
    for (int i = 0; i < 2 && r->n; i++, r->n--) v = (v << 8) | *r->p++;
    switch (sel % 16) {
    case 0: return -v;
    case 1: return INT64_MAX - v;
    case 2: return (int64_t)1 << (v % 63);
    case 3: return INT64_MIN + v;
    default: return v % 9;
    }
}

static float *buf(int64_t n) {
    float *p = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) p[i] = (float)(i % 7) - 3.0f;
    return p;
}

static int small(int64_t a, int64_t b, int64_t c, int64_t d, int64_t *out) {
    int64_t t;
    if (a < 0 || b < 0 || c < 0 || d < 0) return 0;
    if (__builtin_mul_overflow(a, b, &t) || __builtin_mul_overflow(t, c, &t) ||
        __builtin_mul_overflow(t, d, &t) || t > MAX_ELEMS)
        return 0;
    *out = t;
    return 1;
}

/* Test hook (conv/bwd_data_phases.c, not in fastconv.h): AUTO's strided backward-data
 * through the phases on every descriptor it serves, not only 64+ channels. */
void fc_conv_bwd_data_phases_set_mode(int mode);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    reader r = {data, size};
    fc_conv_bwd_data_phases_set_mode(size % 2 ? 1 : -1);
    fc_conv2d_desc d;
    int64_t *f = &d.N;
    for (size_t i = 0; i < sizeof d / sizeof(int64_t); i++) f[i] = take(&r);
    fc_conv_algorithm algo = (fc_conv_algorithm)(take(&r) % 7 - 1);
    int64_t OH = 0, OW = 0;
    size_t ws = 0;
    for (int p = 0; p < 4; p++) fc_conv2d_workspace_size(&d, algo, (fc_conv_pass)(p - 1), &ws);
    if (fc_conv2d_output_shape(&d, &OH, &OW) != FC_SUCCESS) {
        /* Invalid descriptors must be refused by every entry point, with any pointers. */
        float dummy[4];
        if (fc_conv2d_forward(&d, algo, dummy, dummy, NULL, dummy, NULL, 0) == FC_SUCCESS) abort();
        return 0;
    }
    int64_t nx, nw, ny;
    if (d.groups < 1 || !small(d.N, d.C, d.H, d.W, &nx) ||
        !small(d.K, d.C / d.groups, d.R, d.S, &nw) || !small(d.N, d.K, OH, OW, &ny))
        return 0;
    float *x = buf(nx), *w = buf(nw), *y = buf(ny), *b = buf(d.K);
    float *gx = buf(nx), *gw = buf(nw);
    fc_conv2d_forward(&d, algo, x, w, b, y, NULL, 0);
    fc_conv2d_backward_data(&d, algo, y, w, gx, NULL, 0);
    fc_conv2d_backward_weights(&d, algo, y, x, gw, b, NULL, 0);
    free(x); free(w); free(y); free(b); free(gx); free(gw);
    return 0;
}

#define FUZZ_NAME "fuzz_conv"
#define FUZZ_MAX_INPUT 160
#include "fuzz_main.h"

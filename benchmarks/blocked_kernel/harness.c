/* The blocked-layout kernel alone, on data it keeps in cache: how close its code comes
 * to the FMA peak, apart from the layer's memory traffic, threads and Python. Built and
 * run by blocked_kernel_peak.py (beside this file), one binary per ISA.
 *
 * harness CB KB TILES REPS: one image of TILES tiles of HARNESS_NP pixels (side by
 * side, as a 1x1 layer's), CB input blocks (8 channels each), KB output blocks in one group, bias
 * and ReLU in the epilogue; the best of 5 timings of REPS passes over the tiles.
 * Prints "GFLOPS <rate>". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conv/blocked.h"

void HARNESS_UKERNEL(const fc_blocked_args *a, int64_t kb, int64_t nkb, int64_t q0, int64_t np);

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static float *floats(int64_t n, float scale) {
    float *p = aligned_alloc(64, (size_t)((n * 4 + 63) / 64 * 64));
    if (!p) exit(2);
    for (int64_t i = 0; i < n; i++) p[i] = scale * (float)(i % 7 - 3);
    return p;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s CB KB TILES REPS\n", argv[0]);
        return 2;
    }
    int64_t cb = atoll(argv[1]), KB = atoll(argv[2]), tiles = atoll(argv[3]),
            reps = atoll(argv[4]);
    if (cb < 1 || KB < 1 || tiles < 1 || reps < 1) return 2;
    int64_t px = HARNESS_NP * tiles, toff[1] = {0};
    float *x = floats(cb * px * 8, 1e-3f), *w = floats(KB * cb * 64, 1e-3f);
    float *y = floats(KB * px * 8, 0.0f), *bias = floats(KB * 8, 0.0f);
    int64_t *pix = malloc((size_t)(2 * px) * sizeof(int64_t));
    if (!pix) return 2;
    for (int64_t p = 0; p < px; p++) pix[p] = pix[px + p] = p * 8;
    fc_blocked_args a = {.xp = x, .cb = cb, .x_cb = px * 8, .pix_x = pix,
                         .pix_y = pix + px, .toff = toff, .tap0 = 0, .nrows = 1,
                         .ncols = 1, .S = 1, .T = 1, .wb = w, .w_kb = cb * 64, .y = y,
                         .y_kb = px * 8, .K = KB * 8, .scale = NULL, .bias = bias,
                         .res = NULL, .relu = 1};
    double best = 1e30;
    for (int r = 0; r < 5; r++) {
        double t0 = now();
        for (int64_t i = 0; i < reps; i++)
            for (int64_t t = 0; t < tiles; t++)
                HARNESS_UKERNEL(&a, 0, KB, t * HARNESS_NP, HARNESS_NP);
        double t = now() - t0;
        if (t < best) best = t;
    }
    double flops = 2.0 * (double)(reps * px * KB * 8 * cb * 8);
    printf("GFLOPS %.2f\n", flops / best / 1e9);
    return y[0] == 12345.0f; /* keeps the results alive */
}

/* Random convolution descriptors checked against a naive double-precision
 * reference, on every ISA path the CPU has, for all three passes and every general
 * algorithm; caller workspaces are sized exactly as queried so that AddressSanitizer
 * and valgrind catch any access past them. Exit status 0 = pass. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastconv.h"

static uint64_t rng_state = 88172645463325252ull;
static uint64_t next_u64(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static int64_t rand_in(int64_t lo, int64_t hi) { return lo + (int64_t)(next_u64() % (uint64_t)(hi - lo + 1)); }
static float rand_f(void) { return (float)((double)(next_u64() >> 11) / 9007199254740992.0 * 2.0 - 1.0); }

static float *rand_buf(int64_t n) {
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++) p[i] = rand_f();
    return p;
}

/* y, gx, gw (double) of the naive seven-loop convolution. */
static void reference(const fc_conv2d_desc *d, int64_t OH, int64_t OW, const float *x,
                      const float *w, const float *gy, double *y, double *gx, double *gw,
                      double *ay, double *agx, double *agw) {
    int64_t G = d->groups, Cg = d->C / G, Kg = d->K / G;
    for (int64_t n = 0; n < d->N; n++)
        for (int64_t k = 0; k < d->K; k++)
            for (int64_t oh = 0; oh < OH; oh++)
                for (int64_t ow = 0; ow < OW; ow++) {
                    int64_t g = k / Kg;
                    int64_t yi = ((n * d->K + k) * OH + oh) * OW + ow;
                    for (int64_t c = 0; c < Cg; c++)
                        for (int64_t r = 0; r < d->R; r++)
                            for (int64_t s = 0; s < d->S; s++) {
                                int64_t ih = oh * d->stride_h - d->pad_top + r * d->dilation_h;
                                int64_t iw = ow * d->stride_w - d->pad_left + s * d->dilation_w;
                                if (ih < 0 || ih >= d->H || iw < 0 || iw >= d->W) continue;
                                int64_t xi = ((n * d->C + g * Cg + c) * d->H + ih) * d->W + iw;
                                int64_t wi = ((k * Cg + c) * d->R + r) * d->S + s;
                                y[yi] += (double)x[xi] * w[wi];
                                ay[yi] += fabs((double)x[xi] * w[wi]);
                                gx[xi] += (double)gy[yi] * w[wi];
                                agx[xi] += fabs((double)gy[yi] * w[wi]);
                                gw[wi] += (double)gy[yi] * x[xi];
                                agw[wi] += fabs((double)gy[yi] * x[xi]);
                            }
                }
}

static int close_enough(const char *what, const float *got, const double *want,
                        const double *absw, int64_t n, int64_t terms) {
    double tol = 8.0 * 1.1920929e-7 * sqrt((double)(terms > 0 ? terms : 1));
    for (int64_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - want[i]);
        if (!(err <= tol * absw[i] + 1e-30)) {
            fprintf(stderr, "%s[%lld]: got %g want %g\n", what, (long long)i, got[i], want[i]);
            return 0;
        }
    }
    return 1;
}

static int run_case(const fc_conv2d_desc *d, fc_conv_algorithm algo) {
    int64_t OH, OW;
    if (fc_conv2d_output_shape(d, &OH, &OW) != FC_SUCCESS) return 1;
    int64_t nx = d->N * d->C * d->H * d->W, nw = d->K * (d->C / d->groups) * d->R * d->S;
    int64_t ny = d->N * d->K * OH * OW;
    float *x = rand_buf(nx), *w = rand_buf(nw), *gy = rand_buf(ny);
    float *y = malloc(ny * sizeof(float)), *gx = malloc(nx * sizeof(float));
    float *gw = malloc(nw * sizeof(float)), *gb = malloc(d->K * sizeof(float));
    double *ry = calloc(ny, 8), *rgx = calloc(nx, 8), *rgw = calloc(nw, 8);
    double *ay = calloc(ny, 8), *agx = calloc(nx, 8), *agw = calloc(nw, 8);
    reference(d, OH, OW, x, w, gy, ry, rgx, rgw, ay, agx, agw);
    int ok = 1, skipped = 0;
    fc_conv_pass passes[3] = {FC_PASS_FORWARD, FC_PASS_BACKWARD_DATA, FC_PASS_BACKWARD_WEIGHTS};
    for (int p = 0; p < 3 && ok; p++) {
        size_t need = 0;
        fc_status st = fc_conv2d_workspace_size(d, algo, passes[p], &need);
        if (st == FC_UNSUPPORTED_ALGORITHM) { /* this algorithm does not serve d */
            skipped = 1;
            break;
        }
        if (st != FC_SUCCESS) {
            fprintf(stderr, "workspace query: %s\n", fc_status_string(st));
            ok = 0;
            break;
        }
        void *ws = malloc(need ? need : 1);
        if (p == 0) st = fc_conv2d_forward(d, algo, x, w, NULL, y, need ? ws : NULL, need);
        if (p == 1) st = fc_conv2d_backward_data(d, algo, gy, w, gx, need ? ws : NULL, need);
        if (p == 2) st = fc_conv2d_backward_weights(d, algo, gy, x, gw, gb, need ? ws : NULL, need);
        free(ws);
        if (st != FC_SUCCESS) {
            fprintf(stderr, "pass %d: %s\n", p, fc_status_string(st));
            ok = 0;
        }
    }
    if (ok && !skipped) {
        int64_t Kg = d->K / d->groups, Cg = d->C / d->groups;
        ok = close_enough("y", y, ry, ay, ny, Cg * d->R * d->S) &&
             close_enough("grad_x", gx, rgx, agx, nx, Kg * d->R * d->S) &&
             close_enough("grad_w", gw, rgw, agw, nw, d->N * OH * OW);
    }
    free(x); free(w); free(gy); free(y); free(gx); free(gw); free(gb);
    free(ry); free(rgx); free(rgw); free(ay); free(agx); free(agw);
    return skipped && ok ? -1 : ok;
}

/* The listed descriptors through one algorithm on every ISA. */
static void run_list(const fc_conv2d_desc *list, int n, fc_conv_algorithm algo,
                     const char *what, fc_isa best, int *ran, int *fails, int *skipped) {
    for (int isa = FC_ISA_PORTABLE; isa <= (int)best; isa++) {
        fc_set_isa((fc_isa)isa);
        for (int i = 0; i < n; i++) {
            int res = run_case(&list[i], algo);
            if (res < 0) {
                (*skipped)++;
                continue;
            }
            (*ran)++;
            if (!res) {
                fprintf(stderr, "FAIL isa=%s %s case %d (algorithm %d)\n",
                        fc_isa_name((fc_isa)isa), what, i, (int)algo);
                (*fails)++;
            }
        }
    }
}

int main(int argc, char **argv) {
    int cases = argc > 1 ? atoi(argv[1]) : 60;
    int fails = 0, ran = 0, skipped = 0;
    fc_isa best = fc_cpu_isa();
    for (int isa = FC_ISA_PORTABLE; isa <= (int)best; isa++) {
        fc_set_isa((fc_isa)isa);
        rng_state = 88172645463325252ull;
        for (int i = 0; i < cases; i++) {
            fc_conv2d_desc d;
            d.groups = rand_in(1, 3);
            d.N = rand_in(1, 3);
            d.C = d.groups * rand_in(1, 5);
            d.K = d.groups * rand_in(1, 10);
            d.H = rand_in(1, 12);
            d.W = rand_in(1, 24);
            d.R = rand_in(1, 5);
            d.S = rand_in(1, 5);
            d.stride_h = rand_in(1, 3);
            d.stride_w = rand_in(1, 3);
            d.dilation_h = rand_in(1, 2);
            d.dilation_w = rand_in(1, 3);
            d.pad_top = rand_in(0, 3);
            d.pad_bottom = rand_in(0, 3);
            d.pad_left = rand_in(0, 3);
            d.pad_right = rand_in(0, 3);
            int64_t OH, OW;
            if (fc_conv2d_output_shape(&d, &OH, &OW) != FC_SUCCESS) continue;
            for (int a = FC_CONV_AUTO; a <= FC_CONV_DEPTHWISE; a++) {
                int res = run_case(&d, (fc_conv_algorithm)a);
                if (res < 0) {
                    skipped++;
                    continue;
                }
                ran++;
                if (!res) {
                    fprintf(stderr, "FAIL isa=%s algo=%d N%lld C%lld H%lld W%lld K%lld R%lld S%lld\n",
                            fc_isa_name((fc_isa)isa), a, (long long)d.N, (long long)d.C,
                            (long long)d.H, (long long)d.W, (long long)d.K, (long long)d.R,
                            (long long)d.S);
                    fails++;
                }
            }
        }
    }
    /* Planes large enough that direct backward-weights runs in chunks of grad_y, each
     * thread summing into its own vector sums: one segment (stride 1) and whole rows
     * (stride 2), 9 output channels (blocks of 8 + 1). */
    const fc_conv2d_desc large[] = {
        {1, 2, 48, 70, 9, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1, 1},
        {1, 1, 120, 45, 9, 3, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1},
    };
    /* 1x1 layers on small maps at batch > 1 (im2col folds several images into a block
     * for every pass, grad_x written plane by plane from the GEMM), one grouped. */
    const fc_conv2d_desc folded[] = {
        {3, 20, 7, 7, 13, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1},
        {5, 12, 5, 6, 10, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 2},
    };
    run_list(large, 2, FC_CONV_DIRECT, "large plane", best, &ran, &fails, &skipped);
    run_list(folded, 2, FC_CONV_IM2COL, "folded 1x1", best, &ran, &fails, &skipped);
    printf("%d passed, %d failed, %d skipped\n", ran - fails, fails, skipped);
    return fails ? 1 : 0;
}

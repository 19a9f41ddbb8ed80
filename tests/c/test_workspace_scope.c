/* The workspace cache under nested calls: a transposed convolution with groups == C
 * (served by the depthwise kernels) and output_padding >= stride crops through a
 * buffer in the calling thread's cache while the depthwise kernel takes scratch of its
 * own. Under ASan this was a heap-use-after-free: the nested call grew the cache the
 * crop buffer pointed into. Checked against a float64 scatter reference, with growing
 * sizes (so every call would grow the cache), NULL workspace, all three passes; then
 * the cache limit and release. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastconv.h"

#define CHECK(c) do { if (!(c)) { printf("FAIL %s:%d %s\n", __FILE__, __LINE__, #c); return 1; } } while (0)

static float rnd(unsigned *s) { *s = *s * 1103515245u + 12345u; return ((*s >> 9) & 0xffff) / 32768.0f - 1.0f; }

/* y[n][c*m+j] += scatter of x[n][c] through w[c][j] (groups == C), then cropped. */
static void tconv_ref(const fc_conv_transpose2d_desc *d, const float *x, const float *w,
                      int64_t OH, int64_t OW, double *y) {
    int64_t m = d->K / d->C;
    memset(y, 0, sizeof(double) * (size_t)(d->N * d->K * OH * OW));
    for (int64_t n = 0; n < d->N; n++)
        for (int64_t c = 0; c < d->C; c++)
            for (int64_t j = 0; j < m; j++)
                for (int64_t i = 0; i < d->H; i++)
                    for (int64_t k = 0; k < d->W; k++)
                        for (int64_t r = 0; r < d->R; r++)
                            for (int64_t s = 0; s < d->S; s++) {
                                int64_t oh = i * d->stride_h + r * d->dilation_h - d->pad_top;
                                int64_t ow = k * d->stride_w + s * d->dilation_w - d->pad_left;
                                if (oh < 0 || oh >= OH || ow < 0 || ow >= OW) continue;
                                y[((n * d->K + c * m + j) * OH + oh) * OW + ow] +=
                                    (double)x[((n * d->C + c) * d->H + i) * d->W + k] *
                                    w[((c * m + j) * d->R + r) * d->S + s];
                            }
}

int main(void) {
    unsigned seed = 11;
    for (int round = 0; round < 6; round++) {
        int64_t C = 2 + round, m = 1 + round % 2, H = 4 + 3 * round, W = 5 + 2 * round;
        /* stride 1, dilation 2 + round % 2, output_padding 1 or 2 (>= stride): crop */
        int64_t dil = 2 + round % 2, op = 1 + round % 2, R = 1 + round % 3, S = 1 + (round + 1) % 3;
        fc_conv_transpose2d_desc d = {1 + round % 2, C, H, W, C * m, R, S, 1, 1, 0, 0, 0, 0,
                                      op, op, dil, dil, C};
        int64_t OH, OW;
        CHECK(fc_conv_transpose2d_output_shape(&d, &OH, &OW) == FC_SUCCESS);
        size_t nx = (size_t)(d.N * C * H * W), ny = (size_t)(d.N * C * m * OH * OW);
        size_t nw = (size_t)(C * m * R * S);
        float *x = malloc(nx * 4), *w = malloc(nw * 4), *y = malloc(ny * 4), *gy = malloc(ny * 4);
        float *gx = malloc(nx * 4), *gw = malloc(nw * 4);
        double *ref = malloc(ny * sizeof(double));
        for (size_t i = 0; i < nx; i++) x[i] = rnd(&seed);
        for (size_t i = 0; i < nw; i++) w[i] = rnd(&seed);
        for (size_t i = 0; i < ny; i++) gy[i] = rnd(&seed);
        CHECK(fc_conv_transpose2d_forward(&d, x, w, NULL, y, NULL, 0) == FC_SUCCESS);
        tconv_ref(&d, x, w, OH, OW, ref);
        for (size_t i = 0; i < ny; i++) CHECK(fabs(y[i] - ref[i]) <= 1e-4 * (1 + fabs(ref[i])));
        /* adjoint: <tconv(x), gy> == <x, tconv_backward_data(gy)> */
        CHECK(fc_conv_transpose2d_backward_data(&d, gy, w, gx, NULL, 0) == FC_SUCCESS);
        double lhs = 0, rhs = 0, scale = 0;
        for (size_t i = 0; i < ny; i++) { lhs += ref[i] * gy[i]; scale += fabs(ref[i] * gy[i]); }
        for (size_t i = 0; i < nx; i++) rhs += (double)x[i] * gx[i];
        CHECK(fabs(lhs - rhs) <= 1e-5 * (1 + scale));
        CHECK(fc_conv_transpose2d_backward_weights(&d, gy, x, gw, NULL, NULL, 0) == FC_SUCCESS);
        /* <tconv(x, w), gy> is linear in w: sum_k gw[k] * w[k] == <y, gy> */
        double dotw = 0;
        for (size_t i = 0; i < nw; i++) dotw += (double)gw[i] * w[i];
        CHECK(fabs(dotw - lhs) <= 1e-5 * (1 + scale));
        free(x); free(w); free(y); free(gy); free(gx); free(gw); free(ref);
    }

    /* The cache: kept below the limit, freed above it, released on demand. */
    size_t old = fc_get_workspace_cache_limit();
    fc_conv2d_desc cd = {1, 4, 300, 300, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    size_t n = 4 * 300 * 300;
    float *x = calloc(n, 4), *y = calloc(n, 4), w[144] = {0};
    CHECK(fc_conv2d_forward(&cd, FC_CONV_DIRECT, x, w, NULL, y, NULL, 0) == FC_SUCCESS);
    CHECK(fc_workspace_cache_bytes() > 0);
    fc_release_workspace();
    CHECK(fc_workspace_cache_bytes() == 0);
    fc_set_workspace_cache_limit(0);
    CHECK(fc_conv2d_forward(&cd, FC_CONV_DIRECT, x, w, NULL, y, NULL, 0) == FC_SUCCESS);
    CHECK(fc_workspace_cache_bytes() == 0);
    fc_set_workspace_cache_limit(old);
    CHECK(fc_get_workspace_cache_limit() == old);
    free(x); free(y);
    printf("ok\n");
    return 0;
}

/* Winograd F(2x2,3x3), F(4x4,3x3) and F(2x2,5x5) on the blocked layout through the C API
 * (fc_conv2d_blocked_winograd_*): on every ISA path this CPU runs, against a
 * double-precision reference with each algorithm's norm-wise bound, every epilogue combination,
 * the residual in place, a caller workspace of exactly the reported size, odd maps (a
 * cropped last tile), paddings 0-3, batch > 1 and maps of several bands; a NaN input
 * spoils only its 3x3 footprint and an infinite weight over padding alone makes no NaN;
 * the plan's rule; bad arguments refused. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastconv.h"

#define CHECK(c) do { if (!(c)) { printf("FAIL %s:%d %s\n", __FILE__, __LINE__, #c); return 1; } } while (0)

static float rnd(unsigned *s) { *s = *s * 1103515245u + 12345u; return ((*s >> 9) & 0xffff) / 32768.0f - 1.0f; }
static int64_t blocks(int64_t c) { return (c + 7) / 8; }

/* conv(x, w)[n][k][oh][ow] in double, over the taps that read the map; *mag the sum of
 * the products' magnitudes */
static double ref(const fc_conv2d_desc *d, const float *x, const float *w, int64_t n, int64_t k,
                  int64_t oh, int64_t ow, double *mag) {
    double acc = 0;
    *mag = 0;
    for (int64_t c = 0; c < d->C; c++)
        for (int64_t r = 0; r < d->R; r++)
            for (int64_t s = 0; s < d->S; s++) {
                int64_t ih = oh - d->pad_top + r, iw = ow - d->pad_left + s;
                if (ih < 0 || ih >= d->H || iw < 0 || iw >= d->W) continue;
                double p = (double)x[((n * d->C + c) * d->H + ih) * d->W + iw] *
                           w[((k * d->C + c) * d->R + r) * d->S + s];
                acc += p;
                *mag += fabs(p);
            }
    return acc;
}

static int check_case(const fc_conv2d_desc *d, fc_conv_algorithm algo, int combo,
                      unsigned *seed) {
    int64_t OH, OW;
    CHECK(fc_conv2d_output_shape(d, &OH, &OW) == FC_SUCCESS);
    int64_t KB = blocks(d->K), CBn = blocks(d->C), P = OH * OW;
    size_t nx = (size_t)(d->N * d->C * d->H * d->W), nw = (size_t)(d->K * d->C * d->R * d->S);
    size_t nxb = (size_t)(d->N * CBn * 8 * d->H * d->W), nyb = (size_t)(d->N * KB * 8 * P);
    size_t ny = (size_t)(d->N * d->K * P), nwb, ws;
    int64_t al = (algo == FC_CONV_WINOGRAD_F43 ? 4 : 2) + d->R - 1, xi = al * al;
    CHECK(fc_conv2d_blocked_winograd_weights_size(d, algo, &nwb) == FC_SUCCESS);
    CHECK(nwb == (size_t)(xi * KB * 8 * CBn * 8));
    CHECK(fc_conv2d_blocked_winograd_workspace_size(d, algo, &ws) == FC_SUCCESS);
    float *x = malloc(nx * 4), *w = malloc(nw * 4), *xb = malloc(nxb * 4), *wb = malloc(nwb * 4);
    float *res = malloc(ny * 4), *resb = malloc(nyb * 4), *yb = malloc(nyb * 4);
    float *scale = malloc((size_t)d->K * 4), *bias = malloc((size_t)d->K * 4);
    void *buf = malloc(ws);
    for (size_t i = 0; i < nx; i++) x[i] = rnd(seed);
    for (size_t i = 0; i < nw; i++) w[i] = rnd(seed);
    for (size_t i = 0; i < ny; i++) res[i] = rnd(seed);
    for (int64_t k = 0; k < d->K; k++) { scale[k] = 2 * rnd(seed); bias[k] = rnd(seed); }
    CHECK(fc_reorder_nchw_to_nchw8c(d->N, d->C, d->H, d->W, x, xb) == FC_SUCCESS);
    CHECK(fc_reorder_nchw_to_nchw8c(d->N, d->K, OH, OW, res, resb) == FC_SUCCESS);
    CHECK(fc_conv2d_blocked_winograd_transform_weights(d, algo, w, wb, nwb) == FC_SUCCESS);
    fc_epilogue ep = {combo & 1 ? scale : NULL, combo & 2 ? bias : NULL, combo & 4 ? resb : NULL,
                      (combo & 8) != 0};
    /* the norm-wise bound (README): f eps32 sqrt(RSC) max|conv| and the epilogue, f = 4
     * (F23), 16 (F43 and F(2x2,5x5), whose points are F43's) */
    double most = 0, mag;
    for (int64_t n = 0; n < d->N; n++)
        for (int64_t k = 0; k < d->K; k++)
            for (int64_t oh = 0; oh < OH; oh++)
                for (int64_t ow = 0; ow < OW; ow++) {
                    ref(d, x, w, n, k, oh, ow, &mag);
                    if (mag > most) most = mag;
                }
    double tol = (algo == FC_CONV_WINOGRAD_F43 || d->R == 5 ? 16 : 4) * 6e-8 *
                 sqrt((double)(d->R * d->S) * d->C + 2) *
                 (2 * most + 2);
    for (int in_place = 0; in_place < (ep.residual ? 2 : 1); in_place++) {
        fc_epilogue e = ep;
        if (in_place) { memcpy(yb, resb, nyb * 4); e.residual = yb; }
        else memset(yb, 0xff, nyb * 4); /* NaN: yb is never read */
        CHECK(fc_conv2d_blocked_winograd_forward(d, algo, xb, wb, w, &e, yb, buf, ws) ==
              FC_SUCCESS);
        for (int64_t n = 0; n < d->N; n++)
            for (int64_t k = 0; k < KB * 8; k++)
                for (int64_t oh = 0; oh < OH; oh++)
                    for (int64_t ow = 0; ow < OW; ow++) {
                        float got = yb[((n * KB + k / 8) * P + oh * OW + ow) * 8 + k % 8];
                        if (k >= d->K) { CHECK(got == 0.0f); continue; }
                        double acc = ref(d, x, w, n, k, oh, ow, &mag);
                        double sc = ep.scale ? scale[k] : 1.0, b = ep.bias ? bias[k] : 0.0;
                        double rv = ep.residual ? res[((n * d->K + k) * OH + oh) * OW + ow] : 0.0;
                        double v = sc * acc + b + rv;
                        if (ep.relu && v < 0) v = 0;
                        if (!(fabs(got - v) <= tol)) {
                            printf("algo %d combo %d in_place %d: y[%lld][%lld][%lld][%lld] = %g, want %g\n",
                                   (int)algo, combo, in_place, (long long)n, (long long)k, (long long)oh,
                                   (long long)ow, got, v);
                            return 1;
                        }
                    }
    }
    free(x); free(w); free(xb); free(wb); free(res); free(resb); free(yb); free(scale);
    free(bias); free(buf);
    return 0;
}

int main(int argc, char **argv) {
    unsigned seed = 23;
    int few = argc > 1; /* under valgrind: the small cases only */
    /* N, C, H, W, K, R, S, stride, pads (t, b, l, r), dilation, groups */
    const fc_conv2d_desc cases[] = {
        {1, 11, 7, 7, 19, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
        {2, 5, 9, 8, 16, 3, 3, 1, 1, 0, 2, 3, 1, 1, 1, 1},
        {1, 16, 6, 13, 9, 3, 3, 1, 1, 3, 3, 0, 0, 1, 1, 1},
        {3, 3, 4, 5, 4, 3, 3, 1, 1, 1, 0, 2, 1, 1, 1, 1},
        {1, 8, 3, 3, 8, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1},
        /* several bands of tile rows: 64 channels on 40x40 (F23: 4 bands of 5 rows, F43:
         * 2 of 5), 40 -> 48 on 45x37 at batch 2 (8, 8 and 7 rows; 6 and 6) */
        {1, 64, 40, 40, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
        {2, 40, 45, 37, 48, 3, 3, 1, 1, 1, 2, 0, 1, 1, 1, 1},
        /* F(2x2,5x5) only (F23 on a 5x5 kernel): odd maps, paddings 0-4, several bands */
        {1, 11, 9, 7, 19, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1, 1},
        {2, 5, 8, 11, 16, 5, 5, 1, 1, 0, 4, 3, 1, 1, 1, 1},
        {1, 48, 26, 21, 24, 5, 5, 1, 1, 2, 1, 2, 2, 1, 1, 1},
    };
    int ncases = (int)(sizeof cases / sizeof cases[0]);
    const fc_conv_algorithm algos[2] = {FC_CONV_WINOGRAD_F23, FC_CONV_WINOGRAD_F43};
    fc_isa best = fc_cpu_isa();
    for (int isa = 0; isa <= (int)best; isa++) {
        if (fc_set_isa((fc_isa)isa) != FC_SUCCESS) continue;
        for (int a = 0; a < 2; a++)
            for (int combo = 0; combo < 16; combo++)
                for (int i = 0; i < ncases; i++)
                    if ((i < 5 || (combo % 5 == 0 && !few) || (i == 7 && combo % 5 == 1)) &&
                        (cases[i].R == 3 || algos[a] == FC_CONV_WINOGRAD_F23) &&
                        check_case(&cases[i], algos[a], combo, &seed))
                        return 1;
    }
    fc_set_isa(best);

    /* a NaN input pixel: exactly the outputs whose 3x3 window holds it are NaN; an
     * infinite weight on tap column 0 (i % 3 == 0), which for the one output column
     * reads only the left padding, makes no NaN (the fix-up skips taps over padding, as direct does) */
    {
        const fc_conv2d_desc p = {1, 8, 6, 6, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1};
        float px[8 * 36], pw[8 * 8 * 9], pwb[36 * 64], pxb[8 * 36], pyb[8 * 36];
        for (int i = 0; i < 8 * 36; i++) px[i] = 1.0f;
        for (int i = 0; i < 8 * 8 * 9; i++) pw[i] = 0.5f;
        px[2 * 6 + 3] = NAN; /* channel 0, row 2, column 3 */
        CHECK(fc_reorder_nchw_to_nchw8c(1, 8, 6, 6, px, pxb) == FC_SUCCESS);
        for (int isa = 0; isa <= (int)best; isa++)
        for (int a = 0; a < 2; a++) {
            if (fc_set_isa((fc_isa)isa) != FC_SUCCESS) continue;
            CHECK(fc_conv2d_blocked_winograd_transform_weights(&p, algos[a], pw, pwb, 36 * 64) ==
                  FC_SUCCESS);
            CHECK(fc_conv2d_blocked_winograd_forward(&p, algos[a], pxb, pwb, pw, NULL, pyb, NULL,
                                                     0) == FC_SUCCESS);
            for (int oh = 0; oh < 6; oh++)
                for (int ow = 0; ow < 6; ow++) {
                    int hit = oh >= 1 && oh <= 3 && ow >= 2 && ow <= 4;
                    for (int k = 0; k < 8; k++) CHECK(isnan(pyb[(oh * 6 + ow) * 8 + k]) == hit);
                }
        }
        fc_set_isa(best);
        const fc_conv2d_desc q = {1, 8, 5, 1, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1};
        float qx[8 * 5], qw[8 * 8 * 9], qwb[36 * 64], qxb[8 * 5], qyb[8 * 5];
        for (int i = 0; i < 8 * 5; i++) qx[i] = 1.0f;
        for (int i = 0; i < 8 * 8 * 9; i++) qw[i] = i % 3 == 0 ? INFINITY : 1.0f;
        CHECK(fc_reorder_nchw_to_nchw8c(1, 8, 5, 1, qx, qxb) == FC_SUCCESS);
        for (int isa = 0; isa <= (int)best; isa++)
        for (int a = 0; a < 2; a++) {
            if (fc_set_isa((fc_isa)isa) != FC_SUCCESS) continue;
            CHECK(fc_conv2d_blocked_winograd_transform_weights(&q, algos[a], qw, qwb, 36 * 64) ==
                  FC_SUCCESS);
            CHECK(fc_conv2d_blocked_winograd_forward(&q, algos[a], qxb, qwb, qw, NULL, qyb, NULL,
                                                     0) == FC_SUCCESS);
            for (int i = 0; i < 8 * 5; i++) CHECK(isfinite(qyb[i]));
        }
        fc_set_isa(best);
    }

    /* the plan's rule */
    {
        fc_conv_algorithm yes = FC_CONV_AUTO;
        const fc_conv2d_desc r1 = {1, 256, 14, 14, 256, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1};
        const fc_conv2d_desc r2 = {1, 32, 14, 14, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1};
        const fc_conv2d_desc r3 = {1, 256, 14, 14, 256, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1};
        const fc_conv2d_desc r4 = {1, 64, 56, 56, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1};
        CHECK(fc_conv2d_plan_blocked_winograd(&r1, &yes) == FC_SUCCESS &&
              yes == FC_CONV_WINOGRAD_F23);
        CHECK(fc_conv2d_plan_blocked_winograd(&r4, &yes) == FC_SUCCESS &&
              yes == FC_CONV_WINOGRAD_F43);
        CHECK(fc_conv2d_plan_blocked_winograd(&r2, &yes) == FC_SUCCESS && yes == FC_CONV_DIRECT);
        CHECK(fc_conv2d_plan_blocked_winograd(&r3, &yes) == FC_SUCCESS && yes == FC_CONV_DIRECT);
        /* 5x5: F(2x2,5x5) from 24 channels (48 on one side) on 16+ tiles */
        const fc_conv2d_desc r5 = {1, 96, 27, 27, 256, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1, 1};
        const fc_conv2d_desc r6 = {1, 16, 28, 28, 32, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1, 1};
        const fc_conv2d_desc r7 = {1, 64, 5, 5, 64, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1, 1};
        CHECK(fc_conv2d_plan_blocked_winograd(&r5, &yes) == FC_SUCCESS &&
              yes == FC_CONV_WINOGRAD_F23);
        CHECK(fc_conv2d_plan_blocked_winograd(&r6, &yes) == FC_SUCCESS && yes == FC_CONV_DIRECT);
        CHECK(fc_conv2d_plan_blocked_winograd(&r7, &yes) == FC_SUCCESS && yes == FC_CONV_DIRECT);
        CHECK(fc_set_precision(FC_PRECISION_HIGHEST) == FC_SUCCESS);
        CHECK(fc_conv2d_plan_blocked_winograd(&r1, &yes) == FC_SUCCESS && yes == FC_CONV_DIRECT);
        CHECK(fc_set_precision(FC_PRECISION_HIGH) == FC_SUCCESS);
        CHECK(fc_conv2d_plan_blocked_winograd(&r1, NULL) == FC_INVALID_ARGUMENT);
    }

    /* what Winograd does not serve, bad pointers and sizes */
    const fc_conv2d_desc *d = &cases[0];
    float one[64 * 16] = {0}, out[64 * 16];
    size_t n, ws;
    CHECK(fc_conv2d_blocked_winograd_weights_size(d, FC_CONV_WINOGRAD_F23, &n) == FC_SUCCESS);
    fc_conv2d_desc bad = *d;
    bad.stride_h = 2;
    CHECK(fc_conv2d_blocked_winograd_weights_size(&bad, FC_CONV_WINOGRAD_F43, &n) == FC_UNSUPPORTED_ALGORITHM);
    bad = *d; bad.R = bad.S = 5; /* F(2x2,5x5) only: no F(4x4,5x5), no 7x7 */
    CHECK(fc_conv2d_blocked_winograd_workspace_size(&bad, FC_CONV_WINOGRAD_F23, &ws) == FC_SUCCESS);
    CHECK(fc_conv2d_blocked_winograd_workspace_size(&bad, FC_CONV_WINOGRAD_F43, &ws) == FC_UNSUPPORTED_ALGORITHM);
    bad.R = bad.S = 7;
    CHECK(fc_conv2d_blocked_winograd_workspace_size(&bad, FC_CONV_WINOGRAD_F23, &ws) == FC_UNSUPPORTED_ALGORITHM);
    bad = *d; bad.C = 12; bad.K = 18; bad.groups = 2;
    CHECK(fc_conv2d_blocked_winograd_forward(&bad, FC_CONV_WINOGRAD_F23, one, one, one, NULL, out, NULL, 0) ==
          FC_UNSUPPORTED_ALGORITHM);
    bad = *d; bad.dilation_w = 2;
    CHECK(fc_conv2d_blocked_winograd_forward(&bad, FC_CONV_WINOGRAD_F23, one, one, one, NULL, out, NULL, 0) ==
          FC_UNSUPPORTED_ALGORITHM);
    CHECK(fc_conv2d_blocked_winograd_forward(d, FC_CONV_WINOGRAD_F23, NULL, one, one, NULL, out, NULL, 0) ==
          FC_INVALID_ARGUMENT);
    CHECK(fc_conv2d_blocked_winograd_forward(d, FC_CONV_WINOGRAD_F23, one, one, NULL, NULL, out, NULL, 0) ==
          FC_INVALID_ARGUMENT);
    CHECK(fc_conv2d_blocked_winograd_forward(NULL, FC_CONV_WINOGRAD_F23, one, one, one, NULL, out, NULL, 0) ==
          FC_INVALID_ARGUMENT);
    CHECK(fc_conv2d_blocked_winograd_transform_weights(d, FC_CONV_WINOGRAD_F23, one, out, 10) == FC_INVALID_WORKSPACE);
    CHECK(fc_conv2d_blocked_winograd_workspace_size(d, FC_CONV_WINOGRAD_F23, NULL) == FC_INVALID_ARGUMENT);
    CHECK(fc_conv2d_blocked_winograd_workspace_size(d, FC_CONV_WINOGRAD_F23, &ws) == FC_SUCCESS);
    CHECK(fc_conv2d_blocked_winograd_forward(d, FC_CONV_WINOGRAD_F23, one, one, one, NULL, out, out, 8) ==
          FC_INVALID_WORKSPACE);
    bad = *d; bad.N = INT64_MAX / 4; bad.H = bad.W = 1 << 20;
    CHECK(fc_conv2d_blocked_winograd_workspace_size(&bad, FC_CONV_WINOGRAD_F23, &ws) == FC_SIZE_OVERFLOW);
    /* an algorithm that is not a Winograd one */
    CHECK(fc_conv2d_blocked_winograd_weights_size(d, FC_CONV_DIRECT, &n) == FC_INVALID_ARGUMENT);
    CHECK(fc_conv2d_blocked_winograd_forward(d, FC_CONV_AUTO, one, one, one, NULL, out, NULL, 0) ==
          FC_INVALID_ARGUMENT);
    printf("blocked Winograd API ok\n");
    return 0;
}

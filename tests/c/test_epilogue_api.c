/* The forward epilogue through the C API (fc_conv2d_forward_ex and the Winograd
 * pre-transformed _ex): every algorithm and ISA path against a double-precision
 * reference, in a caller workspace of exactly the size fc_conv2d_workspace_size
 * reports (an epilogue needs no more), with the residual in place (residual == y),
 * a partial overlap rejected, and ep NULL the same as no epilogue. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastconv.h"

#define CHECK(c) do { if (!(c)) { printf("FAIL %s:%d %s\n", __FILE__, __LINE__, #c); return 1; } } while (0)

static float rnd(unsigned *s) { *s = *s * 1103515245u + 12345u; return ((*s >> 9) & 0xffff) / 32768.0f - 1.0f; }

/* act(scale * conv + bias + res) in double, and the magnitude its rounding scales with */
static void reference(const fc_conv2d_desc *d, int64_t OH, int64_t OW, const float *x,
                      const float *w, const fc_epilogue *ep, const float *res, double *y,
                      double *mag) {
    int64_t Cg = d->C / d->groups, Kg = d->K / d->groups;
    for (int64_t n = 0; n < d->N; n++)
        for (int64_t k = 0; k < d->K; k++)
            for (int64_t oh = 0; oh < OH; oh++)
                for (int64_t ow = 0; ow < OW; ow++) {
                    double acc = 0, abs_acc = 0;
                    for (int64_t c = 0; c < Cg; c++)
                        for (int64_t r = 0; r < d->R; r++)
                            for (int64_t s = 0; s < d->S; s++) {
                                int64_t ih = oh * d->stride_h - d->pad_top + r * d->dilation_h;
                                int64_t iw = ow * d->stride_w - d->pad_left + s * d->dilation_w;
                                if (ih < 0 || ih >= d->H || iw < 0 || iw >= d->W) continue;
                                double xv = x[((n * d->C + (k / Kg) * Cg + c) * d->H + ih) * d->W + iw];
                                double wv = w[((k * Cg + c) * d->R + r) * d->S + s];
                                acc += xv * wv;
                                abs_acc += fabs(xv * wv);
                            }
                    int64_t i = ((n * d->K + k) * OH + oh) * OW + ow;
                    double sc = ep->scale ? ep->scale[k] : 1.0, b = ep->bias ? ep->bias[k] : 0.0;
                    double rv = res ? res[i] : 0.0;
                    double v = sc * acc + b + rv;
                    y[i] = ep->relu && v < 0 ? 0 : v;
                    mag[i] = fabs(sc) * abs_acc + fabs(b) + fabs(rv);
                }
}

static int check_case(const fc_conv2d_desc *d, fc_conv_algorithm algo, int combo, unsigned *seed) {
    int64_t OH, OW;
    CHECK(fc_conv2d_output_shape(d, &OH, &OW) == FC_SUCCESS);
    size_t nx = (size_t)(d->N * d->C * d->H * d->W), nw = (size_t)(d->K * (d->C / d->groups) * d->R * d->S);
    size_t ny = (size_t)(d->N * d->K * OH * OW);
    float *x = malloc(nx * 4), *w = malloc(nw * 4), *y = malloc(ny * 4), *res = malloc(ny * 4);
    float *scale = malloc((size_t)d->K * 4), *bias = malloc((size_t)d->K * 4);
    double *ref = malloc(ny * 8), *mag = malloc(ny * 8);
    for (size_t i = 0; i < nx; i++) x[i] = rnd(seed);
    for (size_t i = 0; i < nw; i++) w[i] = rnd(seed);
    for (size_t i = 0; i < ny; i++) res[i] = rnd(seed);
    for (int64_t k = 0; k < d->K; k++) { scale[k] = 2 * rnd(seed); bias[k] = rnd(seed); }
    fc_epilogue ep = {combo & 1 ? scale : NULL, combo & 2 ? bias : NULL, combo & 4 ? res : NULL,
                      (combo & 8) != 0};
    reference(d, OH, OW, x, w, &ep, ep.residual, ref, mag);
    double terms = (double)(d->C / d->groups * d->R * d->S + 2);
    double f = algo == FC_CONV_WINOGRAD_F23 || algo == FC_CONV_WINOGRAD_F43 ? 64.0 : 8.0;
    size_t ws;
    CHECK(fc_conv2d_workspace_size(d, algo, FC_PASS_FORWARD, &ws) == FC_SUCCESS);
    void *buf = malloc(ws ? ws : 1);
    for (int in_place = 0; in_place < (ep.residual ? 2 : 1); in_place++) {
        fc_epilogue e = ep;
        if (in_place) { memcpy(y, res, ny * 4); e.residual = y; }
        else memset(y, 0xff, ny * 4); /* NaN: y is never read */
        CHECK(fc_conv2d_forward_ex(d, algo, x, w, &e, y, buf, ws) == FC_SUCCESS);
        for (size_t i = 0; i < ny; i++) {
            double tol = f * 6e-8 * sqrt(terms) * (mag[i] + 1e-3);
            if (!(fabs(y[i] - ref[i]) <= tol)) {
                printf("algo %d combo %d in_place %d: y[%zu] = %g, want %g\n", (int)algo, combo,
                       in_place, i, y[i], ref[i]);
                return 1;
            }
        }
    }
    free(x); free(w); free(y); free(res); free(scale); free(bias); free(ref); free(mag); free(buf);
    return 0;
}

int main(void) {
    unsigned seed = 11;
    /* N, C, H, W, K, R, S, stride, pads (t, b, l, r), dilation, groups */
    const fc_conv2d_desc general[] = {
        {2, 6, 9, 11, 10, 3, 2, 2, 1, 1, 0, 2, 1, 1, 2, 2},
        {1, 3, 7, 30, 9, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1},
        {3, 4, 5, 6, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    };
    const fc_conv2d_desc wino = {2, 5, 8, 9, 6, 3, 3, 1, 1, 1, 0, 1, 2, 1, 1, 1};
    const fc_conv2d_desc dw = {2, 4, 7, 9, 8, 3, 3, 1, 2, 1, 1, 1, 1, 1, 1, 4};
    fc_isa best = fc_cpu_isa();
    for (int isa = 0; isa <= (int)best; isa++) {
        /* valgrind runs the AVX2 and portable paths (it lacks AVX-512) */
        if (fc_set_isa((fc_isa)isa) != FC_SUCCESS) continue;
        for (int combo = 0; combo < 16; combo++) {
            for (int i = 0; i < 3; i++) {
                if (check_case(&general[i], FC_CONV_DIRECT, combo, &seed)) return 1;
                if (check_case(&general[i], FC_CONV_IM2COL, combo, &seed)) return 1;
            }
            if (check_case(&wino, FC_CONV_WINOGRAD_F23, combo, &seed)) return 1;
            if (check_case(&wino, FC_CONV_WINOGRAD_F43, combo, &seed)) return 1;
            if (check_case(&dw, FC_CONV_DEPTHWISE, combo, &seed)) return 1;
        }
    }
    fc_set_isa(best);

    /* ep NULL is no epilogue; a residual overlapping y other than exactly is refused */
    const fc_conv2d_desc *d = &general[2];
    int64_t OH, OW;
    CHECK(fc_conv2d_output_shape(d, &OH, &OW) == FC_SUCCESS);
    size_t ny = (size_t)(d->N * d->K * OH * OW);
    float x[3 * 4 * 5 * 6], w[7 * 4 * 9], *y1 = malloc(ny * 4), *y2 = malloc((ny + 1) * 4);
    for (size_t i = 0; i < sizeof x / 4; i++) x[i] = rnd(&seed);
    for (size_t i = 0; i < sizeof w / 4; i++) w[i] = rnd(&seed);
    CHECK(fc_conv2d_forward(d, FC_CONV_DIRECT, x, w, NULL, y1, NULL, 0) == FC_SUCCESS);
    CHECK(fc_conv2d_forward_ex(d, FC_CONV_DIRECT, x, w, NULL, y2, NULL, 0) == FC_SUCCESS);
    CHECK(memcmp(y1, y2, ny * 4) == 0);
    fc_epilogue bad = {NULL, NULL, y2 + 1, 0};
    CHECK(fc_conv2d_forward_ex(d, FC_CONV_IM2COL, x, w, &bad, y2, NULL, 0) == FC_INVALID_ARGUMENT);
    bad.residual = y2;
    CHECK(fc_conv2d_forward_ex(d, FC_CONV_IM2COL, x, w, &bad, y2, NULL, 0) == FC_SUCCESS);

    /* Winograd with pre-transformed weights: the same as fc_conv2d_forward_ex */
    const fc_conv2d_desc *wd = &wino;
    CHECK(fc_conv2d_output_shape(wd, &OH, &OW) == FC_SUCCESS);
    size_t nyw = (size_t)(wd->N * wd->K * OH * OW), nu;
    float xw[2 * 5 * 8 * 9], ww[6 * 5 * 9], sc[6], bs[6];
    for (size_t i = 0; i < sizeof xw / 4; i++) xw[i] = rnd(&seed);
    for (size_t i = 0; i < sizeof ww / 4; i++) ww[i] = rnd(&seed);
    for (int k = 0; k < 6; k++) { sc[k] = rnd(&seed); bs[k] = rnd(&seed); }
    float *res = malloc(nyw * 4), *ya = malloc(nyw * 4), *yb = malloc(nyw * 4);
    for (size_t i = 0; i < nyw; i++) res[i] = rnd(&seed);
    CHECK(fc_conv2d_winograd_weights_size(wd, FC_CONV_WINOGRAD_F43, FC_PASS_FORWARD, &nu) == FC_SUCCESS);
    float *u = malloc(nu * 4);
    CHECK(fc_conv2d_winograd_transform_weights(wd, FC_CONV_WINOGRAD_F43, FC_PASS_FORWARD, ww, u, nu) == FC_SUCCESS);
    fc_epilogue e = {sc, bs, res, 1};
    CHECK(fc_conv2d_forward_ex(wd, FC_CONV_WINOGRAD_F43, xw, ww, &e, ya, NULL, 0) == FC_SUCCESS);
    size_t ws;
    CHECK(fc_conv2d_workspace_size(wd, FC_CONV_WINOGRAD_F43, FC_PASS_FORWARD, &ws) == FC_SUCCESS);
    void *buf = malloc(ws);
    memcpy(yb, res, nyw * 4);
    e.residual = yb; /* in place */
    CHECK(fc_conv2d_winograd_forward_pretransformed_ex(wd, FC_CONV_WINOGRAD_F43, xw, u, &e, yb, buf, ws) == FC_SUCCESS);
    for (size_t i = 0; i < nyw; i++) CHECK(fabsf(ya[i] - yb[i]) <= 1e-4f * (1 + fabsf(ya[i])));
    e.residual = yb + 3;
    CHECK(fc_conv2d_winograd_forward_pretransformed_ex(wd, FC_CONV_WINOGRAD_F43, xw, u, &e, yb, NULL, 0) == FC_INVALID_ARGUMENT);
    CHECK(fc_conv2d_winograd_forward_pretransformed_ex(wd, FC_CONV_WINOGRAD_F43, xw, u, NULL, yb, NULL, 0) == FC_SUCCESS);
    free(y1); free(y2); free(res); free(ya); free(yb); free(u); free(buf);
    printf("ok\n");
    return 0;
}

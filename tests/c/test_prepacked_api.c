/* The im2col forward from pre-packed weights through the C API (fc_conv2d_pack_weights,
 * fc_conv2d_forward_prepacked_ex): every epilogue combination on every ISA path against
 * a double-precision reference, in a caller workspace of exactly the size
 * fc_conv2d_prepacked_workspace_size reports (the packed buffer exactly its size too,
 * so that the sanitizers see any read past either); bit-equal to fc_conv2d_forward_ex
 * with FC_CONV_IM2COL; a buffer packed for another weight shape, another ISA, of the
 * wrong size or not packed at all refused with its status. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastconv.h"

#define CHECK(c) do { if (!(c)) { printf("FAIL %s:%d %s\n", __FILE__, __LINE__, #c); return 1; } } while (0)

static float rnd(unsigned *s) { *s = *s * 1103515245u + 12345u; return ((*s >> 9) & 0xffff) / 32768.0f - 1.0f; }

static void reference(const fc_conv2d_desc *d, int64_t OH, int64_t OW, const float *x,
                      const float *w, const fc_epilogue *ep, double *y, double *mag) {
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
                    double rv = ep->residual ? ep->residual[i] : 0.0;
                    double v = sc * acc + b + rv;
                    y[i] = ep->relu && v < 0 ? 0 : v;
                    mag[i] = fabs(sc) * abs_acc + fabs(b) + fabs(rv);
                }
}

static int check_case(const fc_conv2d_desc *d, int combo, unsigned *seed) {
    int64_t OH, OW;
    CHECK(fc_conv2d_output_shape(d, &OH, &OW) == FC_SUCCESS);
    size_t nx = (size_t)(d->N * d->C * d->H * d->W), nw = (size_t)(d->K * (d->C / d->groups) * d->R * d->S);
    size_t ny = (size_t)(d->N * d->K * OH * OW);
    float *x = malloc(nx * 4), *w = malloc(nw * 4), *y = malloc(ny * 4), *y2 = malloc(ny * 4);
    float *res = malloc(ny * 4), *scale = malloc((size_t)d->K * 4), *bias = malloc((size_t)d->K * 4);
    double *ref = malloc(ny * 8), *mag = malloc(ny * 8);
    for (size_t i = 0; i < nx; i++) x[i] = rnd(seed);
    for (size_t i = 0; i < nw; i++) w[i] = rnd(seed);
    for (size_t i = 0; i < ny; i++) res[i] = rnd(seed);
    for (int64_t k = 0; k < d->K; k++) { scale[k] = 2 * rnd(seed); bias[k] = rnd(seed); }
    fc_epilogue ep = {combo & 1 ? scale : NULL, combo & 2 ? bias : NULL, combo & 4 ? res : NULL,
                      (combo & 8) != 0};
    reference(d, OH, OW, x, w, &ep, ref, mag);
    size_t np, ws;
    CHECK(fc_conv2d_packed_weights_size(d, &np) == FC_SUCCESS);
    CHECK(fc_conv2d_prepacked_workspace_size(d, &ws) == FC_SUCCESS);
    float *packed = malloc(np * 4);
    void *buf = malloc(ws ? ws : 1);
    CHECK(fc_conv2d_pack_weights(d, w, packed, np - 1) == FC_INVALID_WORKSPACE);
    CHECK(fc_conv2d_pack_weights(d, w, packed, np) == FC_SUCCESS);
    CHECK(fc_conv2d_packed_weights_check(d, packed, np) == FC_SUCCESS);
    double terms = (double)(d->C / d->groups * d->R * d->S + 2);
    for (int in_place = 0; in_place < (ep.residual ? 2 : 1); in_place++) {
        fc_epilogue e = ep;
        if (in_place) { memcpy(y, res, ny * 4); e.residual = y; }
        else memset(y, 0xff, ny * 4); /* NaN: y is never read */
        CHECK(fc_conv2d_forward_prepacked_ex(d, x, packed, np, &e, y, buf, ws) == FC_SUCCESS);
        for (size_t i = 0; i < ny; i++) {
            double tol = 8.0 * 6e-8 * sqrt(terms) * (mag[i] + 1e-3);
            if (!(fabs(y[i] - ref[i]) <= tol)) {
                printf("combo %d in_place %d: y[%zu] = %g, want %g\n", combo, in_place, i,
                       y[i], ref[i]);
                return 1;
            }
        }
    }
    /* the same arithmetic as the plain im2col forward */
    CHECK(fc_conv2d_forward_prepacked_ex(d, x, packed, np, &ep, y, NULL, 0) == FC_SUCCESS);
    CHECK(fc_conv2d_forward_ex(d, FC_CONV_IM2COL, x, w, &ep, y2, NULL, 0) == FC_SUCCESS);
    CHECK(memcmp(y, y2, ny * 4) == 0);
    free(x); free(w); free(y); free(y2); free(res); free(scale); free(bias); free(ref);
    free(mag); free(packed); free(buf);
    return 0;
}

int main(int argc, char **argv) {
    unsigned seed = 17;
    int combos = argc > 1 ? 4 : 16; /* valgrind: fewer */
    /* N, C, H, W, K, R, S, stride, pads (t, b, l, r), dilation, groups */
    const fc_conv2d_desc cases[] = {
        {2, 6, 9, 11, 10, 3, 2, 2, 1, 1, 0, 2, 1, 1, 2, 2},   /* grouped, strided, dilated */
        {1, 3, 7, 30, 9, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1},    /* 1x1: x is the column matrix */
        {3, 4, 5, 6, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},     /* multi-image blocks */
        {1, 13, 7, 7, 19, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},   /* a narrow 7x7 output */
        {1, 10, 6, 5, 14, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 2},   /* grouped strided 1x1 */
    };
    const int ncases = (int)(sizeof cases / sizeof cases[0]);
    fc_isa best = fc_cpu_isa();
    for (int isa = 0; isa <= (int)best; isa++) {
        if (fc_set_isa((fc_isa)isa) != FC_SUCCESS) continue;
        for (int combo = 0; combo < 16; combo += 16 / combos)
            for (int i = 0; i < ncases; i++)
                if (check_case(&cases[i], combo, &seed)) return 1;
    }
    fc_set_isa(best);

    /* refusals: another weight shape, wrong size, not packed, another ISA, NULLs */
    const fc_conv2d_desc *d = &cases[3];
    fc_conv2d_desc other = *d;
    other.K = 20;
    size_t np, npo;
    CHECK(fc_conv2d_packed_weights_size(d, &np) == FC_SUCCESS);
    CHECK(fc_conv2d_packed_weights_size(&other, &npo) == FC_SUCCESS);
    size_t nw = (size_t)(20 * 13 * 9), nx = 13 * 49, ny = 20 * 49;
    float *w = calloc(nw, 4), *x = calloc(nx, 4), *y = calloc(ny, 4);
    float *po = malloc(npo * 4), *p = malloc(np * 4);
    CHECK(fc_conv2d_pack_weights(&other, w, po, npo) == FC_SUCCESS);
    CHECK(fc_conv2d_pack_weights(d, w, p, np) == FC_SUCCESS);
    CHECK(fc_conv2d_forward_prepacked_ex(d, x, po, npo, NULL, y, NULL, 0) == FC_INVALID_SHAPE);
    CHECK(fc_conv2d_forward_prepacked_ex(d, x, p, np - 1, NULL, y, NULL, 0) == FC_INVALID_SHAPE);
    CHECK(fc_conv2d_forward_prepacked_ex(d, x, p, 3, NULL, y, NULL, 0) == FC_INVALID_ARGUMENT);
    CHECK(fc_conv2d_forward_prepacked_ex(d, x, p, np, NULL, y, NULL, 0) == FC_SUCCESS);
    CHECK(fc_conv2d_forward_prepacked_ex(d, NULL, p, np, NULL, y, NULL, 0) == FC_INVALID_ARGUMENT);
    CHECK(fc_conv2d_forward_prepacked_ex(d, x, NULL, np, NULL, y, NULL, 0) == FC_INVALID_ARGUMENT);
    CHECK(fc_conv2d_forward_prepacked_ex(NULL, x, p, np, NULL, y, NULL, 0) == FC_INVALID_ARGUMENT);
    CHECK(fc_conv2d_pack_weights(d, NULL, p, np) == FC_INVALID_ARGUMENT);
    CHECK(fc_conv2d_packed_weights_size(d, NULL) == FC_INVALID_ARGUMENT);
    size_t ws;
    CHECK(fc_conv2d_prepacked_workspace_size(d, &ws) == FC_SUCCESS);
    void *buf = malloc(ws + 1);
    if (ws > 0)
        CHECK(fc_conv2d_forward_prepacked_ex(d, x, p, np, NULL, y, buf, ws - 1) == FC_INVALID_WORKSPACE);
    free(buf);
    memset(p, 0, 16);
    CHECK(fc_conv2d_forward_prepacked_ex(d, x, p, np, NULL, y, NULL, 0) == FC_INVALID_ARGUMENT);
    CHECK(fc_conv2d_packed_weights_check(d, p, np) == FC_INVALID_ARGUMENT);
    if (best != FC_ISA_PORTABLE) { /* packed under one ISA, run under another */
        CHECK(fc_conv2d_pack_weights(d, w, p, np) == FC_SUCCESS);
        CHECK(fc_set_isa(FC_ISA_PORTABLE) == FC_SUCCESS);
        CHECK(fc_conv2d_forward_prepacked_ex(d, x, p, np, NULL, y, NULL, 0) == FC_INVALID_ARGUMENT);
        fc_set_isa(best);
    }
    free(w); free(x); free(y); free(po); free(p);
    printf("ok\n");
    return 0;
}

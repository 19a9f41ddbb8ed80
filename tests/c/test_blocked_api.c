/* The blocked-layout (NCHW8c) convolution through the C API: reorders (round trip
 * exact, padded channels zero), the weight arrangement, and fc_conv2d_blocked_forward on
 * every ISA path this CPU runs against a double-precision reference, every epilogue
 * combination, in a caller workspace of exactly the reported size and with the
 * residual in place; bad arguments refused. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastconv.h"

#define CHECK(c) do { if (!(c)) { printf("FAIL %s:%d %s\n", __FILE__, __LINE__, #c); return 1; } } while (0)

static float rnd(unsigned *s) { *s = *s * 1103515245u + 12345u; return ((*s >> 9) & 0xffff) / 32768.0f - 1.0f; }
static int64_t blocks(int64_t c) { return (c + 7) / 8; }

static int check_case(const fc_conv2d_desc *d, int combo, unsigned *seed) {
    int64_t OH, OW;
    CHECK(fc_conv2d_output_shape(d, &OH, &OW) == FC_SUCCESS);
    int64_t KB = blocks(d->K), CBn = blocks(d->C), P = OH * OW;
    size_t nx = (size_t)(d->N * d->C * d->H * d->W), nw = (size_t)(d->K * d->C * d->R * d->S);
    size_t nxb = (size_t)(d->N * CBn * 8 * d->H * d->W), nyb = (size_t)(d->N * KB * 8 * P);
    size_t ny = (size_t)(d->N * d->K * P), nwb;
    CHECK(fc_conv2d_blocked_weights_size(d, &nwb) == FC_SUCCESS);
    CHECK(nwb == (size_t)(KB * 8 * CBn * 8 * d->R * d->S));
    float *x = malloc(nx * 4), *w = malloc(nw * 4), *xb = malloc(nxb * 4), *wb = malloc(nwb * 4);
    float *res = malloc(ny * 4), *resb = malloc(nyb * 4), *yb = malloc(nyb * 4), *y = malloc(ny * 4);
    float *back = malloc(nx * 4), *scale = malloc((size_t)d->K * 4), *bias = malloc((size_t)d->K * 4);
    for (size_t i = 0; i < nx; i++) x[i] = rnd(seed);
    for (size_t i = 0; i < nw; i++) w[i] = rnd(seed);
    for (size_t i = 0; i < ny; i++) res[i] = rnd(seed);
    for (int64_t k = 0; k < d->K; k++) { scale[k] = 2 * rnd(seed); bias[k] = rnd(seed); }

    memset(xb, 0xff, nxb * 4);
    CHECK(fc_reorder_nchw_to_nchw8c(d->N, d->C, d->H, d->W, x, xb) == FC_SUCCESS);
    for (int64_t n = 0; n < d->N; n++)
        for (int64_t c = 0; c < CBn * 8; c++)
            for (int64_t i = 0; i < d->H * d->W; i++) {
                float got = xb[((n * CBn + c / 8) * d->H * d->W + i) * 8 + c % 8];
                float want = c < d->C ? x[(n * d->C + c) * d->H * d->W + i] : 0.0f;
                CHECK(memcmp(&got, &want, 4) == 0);
            }
    CHECK(fc_reorder_nchw8c_to_nchw(d->N, d->C, d->H, d->W, xb, back) == FC_SUCCESS);
    CHECK(memcmp(back, x, nx * 4) == 0);
    CHECK(fc_reorder_nchw_to_nchw8c(d->N, d->K, OH, OW, res, resb) == FC_SUCCESS);
    CHECK(fc_conv2d_blocked_transform_weights(d, w, wb, nwb) == FC_SUCCESS);

    fc_epilogue ep = {combo & 1 ? scale : NULL, combo & 2 ? bias : NULL, combo & 4 ? resb : NULL,
                      (combo & 8) != 0};
    size_t ws;
    CHECK(fc_conv2d_blocked_workspace_size(d, &ws) == FC_SUCCESS);
    void *buf = malloc(ws ? ws : 1);
    for (int in_place = 0; in_place < (ep.residual ? 2 : 1); in_place++) {
        fc_epilogue e = ep;
        if (in_place) { memcpy(yb, resb, nyb * 4); e.residual = yb; }
        else memset(yb, 0xff, nyb * 4); /* NaN: yb is never read */
        CHECK(fc_conv2d_blocked_forward(d, xb, wb, &e, yb, buf, ws) == FC_SUCCESS);
        for (int64_t n = 0; n < d->N; n++)
            for (int64_t k = 0; k < KB * 8; k++)
                for (int64_t oh = 0; oh < OH; oh++)
                    for (int64_t ow = 0; ow < OW; ow++) {
                        float got = yb[((n * KB + k / 8) * P + oh * OW + ow) * 8 + k % 8];
                        if (k >= d->K) { CHECK(got == 0.0f); continue; }
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
                        double sc = ep.scale ? scale[k] : 1.0, b = ep.bias ? bias[k] : 0.0;
                        double rv = ep.residual ? res[((n * d->K + k) * OH + oh) * OW + ow] : 0.0;
                        double v = sc * acc + b + rv;
                        if (ep.relu && v < 0) v = 0;
                        double tol = 8 * 6e-8 * sqrt((double)(d->C * d->R * d->S + 2)) *
                                     (fabs(sc) * mag + fabs(b) + fabs(rv) + 1e-3);
                        if (!(fabs(got - v) <= tol)) {
                            printf("combo %d in_place %d: y[%lld][%lld][%lld][%lld] = %g, want %g\n",
                                   combo, in_place, (long long)n, (long long)k, (long long)oh,
                                   (long long)ow, got, v);
                            return 1;
                        }
                    }
    }
    CHECK(fc_reorder_nchw8c_to_nchw(d->N, d->K, OH, OW, yb, y) == FC_SUCCESS);
    free(x); free(w); free(xb); free(wb); free(res); free(resb); free(yb); free(y); free(back);
    free(scale); free(bias); free(buf);
    return 0;
}

int main(void) {
    unsigned seed = 17;
    /* N, C, H, W, K, R, S, stride, pads (t, b, l, r), dilation, groups */
    const fc_conv2d_desc cases[] = {
        {1, 11, 7, 7, 19, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
        {2, 5, 9, 8, 16, 3, 3, 2, 2, 1, 0, 0, 1, 1, 1, 1},
        {1, 16, 6, 13, 9, 2, 5, 1, 3, 0, 2, 2, 1, 2, 1, 1},
        {3, 3, 4, 5, 4, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1},
        /* a strided, padded 1x1 layer: its input gathered into a dense map; unpadded
           at batch 2, read in place */
        {2, 13, 7, 9, 11, 1, 1, 2, 3, 1, 0, 2, 1, 1, 1, 1},
        {2, 13, 7, 9, 11, 1, 1, 2, 3, 0, 0, 0, 0, 1, 1, 1},
        /* padding columns (conv/blocked.c's classes of columns): 5x5 pad 2, unequal
         * left and right, columns over padding alone, 1x7 at stride 2, strided and
         * dilated */
        {1, 13, 9, 9, 17, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1, 1},
        {2, 5, 6, 7, 9, 3, 3, 1, 1, 1, 2, 0, 3, 1, 1, 1},
        {1, 8, 5, 6, 8, 3, 3, 1, 1, 0, 0, 4, 5, 1, 1, 1},
        {1, 5, 8, 11, 13, 1, 7, 1, 2, 0, 0, 3, 3, 1, 1, 1},
        {1, 5, 10, 13, 7, 3, 5, 2, 3, 2, 0, 3, 2, 1, 2, 1},
        /* more than 256 output pixels: padding read in place, never copied (only taps
         * over data run; the first row's pixels start before the buffer), corners as
         * tiles of their own: 3x3 pad 1 at batch 2, unequal pads, columns over padding
         * alone, strided and dilated, 9x9 (segments of more than 64 taps: the C loop) */
        {2, 11, 19, 17, 13, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
        {1, 9, 20, 21, 10, 5, 5, 1, 1, 2, 0, 3, 1, 1, 1, 1},
        {1, 5, 16, 18, 8, 3, 3, 1, 1, 0, 0, 4, 5, 1, 1, 1},
        {1, 6, 40, 37, 9, 3, 5, 2, 1, 3, 2, 2, 3, 1, 2, 1},
        {1, 8, 17, 17, 8, 9, 9, 1, 1, 4, 4, 4, 4, 1, 1, 1},
    };
    fc_isa best = fc_cpu_isa();
    for (int isa = 0; isa <= (int)best; isa++) {
        if (fc_set_isa((fc_isa)isa) != FC_SUCCESS) continue;
        for (int combo = 0; combo < 16; combo++)
            for (int i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++)
                if (check_case(&cases[i], combo, &seed)) return 1;
    }
    fc_set_isa(best);

    /* Rows of taps over padding rows alone are skipped: an infinite weight on tap row 0
     * never meets the zeros of the 3 padding rows on top (output row 0 reads only those,
     * row 1 reads the data row with tap row 2), on every ISA. */
    {
        const fc_conv2d_desc p = {1, 8, 1, 4, 8, 3, 1, 1, 1, 3, 0, 0, 0, 1, 1, 1};
        float px[8 * 4], pw[8 * 8 * 3], pwb[8 * 8 * 3], pxb[8 * 4], pyb[8 * 2 * 4];
        for (int i = 0; i < 8 * 4; i++) px[i] = 1.0f;
        for (int i = 0; i < 8 * 8 * 3; i++) pw[i] = i % 3 == 0 ? INFINITY : 1.0f;
        CHECK(fc_reorder_nchw_to_nchw8c(1, 8, 1, 4, px, pxb) == FC_SUCCESS);
        CHECK(fc_conv2d_blocked_transform_weights(&p, pw, pwb, 8 * 8 * 3) == FC_SUCCESS);
        for (int isa = 0; isa <= (int)best; isa++) {
            if (fc_set_isa((fc_isa)isa) != FC_SUCCESS) continue;
            CHECK(fc_conv2d_blocked_forward(&p, pxb, pwb, NULL, pyb, NULL, 0) == FC_SUCCESS);
            for (int q = 0; q < 8 * 8; q++) CHECK(pyb[q] == (q < 4 * 8 ? 0.0f : 8.0f));
        }
        fc_set_isa(best);
    }

    /* The same for columns: tap column 0 (infinite) of output column 1 reads padding
     * column -2 and is skipped; output column 0 reads only padding (4 rows: a class of
     * its own, not joined to another). */
    {
        const fc_conv2d_desc p = {1, 8, 4, 1, 8, 1, 3, 1, 1, 0, 0, 3, 0, 1, 1, 1};
        float px[8 * 4], pw[8 * 8 * 3], pwb[8 * 8 * 3], pxb[8 * 4], pyb[8 * 2 * 4];
        for (int i = 0; i < 8 * 4; i++) px[i] = 1.0f;
        for (int i = 0; i < 8 * 8 * 3; i++) pw[i] = i % 3 == 0 ? INFINITY : 1.0f;
        CHECK(fc_reorder_nchw_to_nchw8c(1, 8, 4, 1, px, pxb) == FC_SUCCESS);
        CHECK(fc_conv2d_blocked_transform_weights(&p, pw, pwb, 8 * 8 * 3) == FC_SUCCESS);
        for (int isa = 0; isa <= (int)best; isa++) {
            if (fc_set_isa((fc_isa)isa) != FC_SUCCESS) continue;
            CHECK(fc_conv2d_blocked_forward(&p, pxb, pwb, NULL, pyb, NULL, 0) == FC_SUCCESS);
            for (int q = 0; q < 8 * 8; q++) CHECK(pyb[q] == (q / 8 % 2 == 0 ? 0.0f : 8.0f));
        }
        fc_set_isa(best);
    }

    const fc_conv2d_desc *d = &cases[0];
    float one[64 * 8] = {0}, out[64 * 8];
    size_t n, ws;
    CHECK(fc_conv2d_blocked_weights_size(d, &n) == FC_SUCCESS);
    CHECK(fc_conv2d_blocked_workspace_size(d, &ws) == FC_SUCCESS);
    /* groups != 1 is not served; bad pointers and sizes are refused */
    fc_conv2d_desc g = *d;
    g.C = 12; g.K = 18; g.groups = 2;
    CHECK(fc_conv2d_blocked_weights_size(&g, &n) == FC_UNSUPPORTED_ALGORITHM);
    CHECK(fc_conv2d_blocked_forward(&g, one, one, NULL, out, NULL, 0) == FC_UNSUPPORTED_ALGORITHM);
    CHECK(fc_conv2d_blocked_forward(d, NULL, one, NULL, out, NULL, 0) == FC_INVALID_ARGUMENT);
    CHECK(fc_conv2d_blocked_transform_weights(d, one, out, 10) == FC_INVALID_WORKSPACE);
    CHECK(fc_conv2d_blocked_forward(NULL, one, one, NULL, out, NULL, 0) == FC_INVALID_ARGUMENT);
    CHECK(fc_reorder_nchw_to_nchw8c(1, 0, 2, 2, one, out) == FC_INVALID_SHAPE);
    CHECK(fc_reorder_nchw_to_nchw8c(1, 3, 2, 2, NULL, out) == FC_INVALID_ARGUMENT);
    CHECK(fc_reorder_nchw8c_to_nchw(-1, 3, 2, 2, one, out) == FC_INVALID_SHAPE);
    CHECK(fc_reorder_nchw8c_to_nchw(INT64_MAX / 4, 9, 1 << 20, 1 << 20, one, out) == FC_SIZE_OVERFLOW);
    CHECK(fc_conv2d_blocked_workspace_size(d, NULL) == FC_INVALID_ARGUMENT);
    printf("blocked API ok\n");
    return 0;
}

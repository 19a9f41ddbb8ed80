/* Transposed and depthwise convolution through the C API: a caller workspace of
 * exactly the queried size, NULL workspace, the adjoint identity
 * <conv(x), y> == <x, conv_transpose(y)>, and the cropped path (output_padding beyond
 * the padding by >= the stride) with a caller workspace; the depthwise forward with
 * channels in the vector lanes on every ISA. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "fastconv.h"

#define CHECK(c) do { if (!(c)) { printf("FAIL %s:%d %s\n", __FILE__, __LINE__, #c); return 1; } } while (0)

int64_t fc_depthwise_lanes_runs(void); /* test hook, conv/depthwise.c */

static float rnd(unsigned *s) { *s = *s * 1103515245u + 12345u; return ((*s >> 9) & 0xffff) / 32768.0f - 1.0f; }

int main(void) {
    unsigned seed = 7;
    /* conv: x[2][4][9][8] -> y[2][6][OH][OW], 3x3, stride 1, dilation 3, groups 2 */
    fc_conv2d_desc cd = {2, 4, 9, 8, 6, 3, 3, 1, 1, 0, 0, 0, 0, 3, 3, 2};
    int64_t OH, OW;
    CHECK(fc_conv2d_output_shape(&cd, &OH, &OW) == FC_SUCCESS);
    /* the matching transposed conv: input y, output x */
    fc_conv_transpose2d_desc td = {2, 6, OH, OW, 4, 3, 3, 1, 1, 0, 0, 0, 0, 0, 0, 3, 3, 2};
    td.output_padding_h = 9 - ((OH - 1) + 3 * 2 + 1);
    td.output_padding_w = 8 - ((OW - 1) + 3 * 2 + 1);
    int64_t H2, W2;
    CHECK(fc_conv_transpose2d_output_shape(&td, &H2, &W2) == FC_SUCCESS && H2 == 9 && W2 == 8);
    size_t nx = 2 * 4 * 9 * 8, ny = (size_t)(2 * 6 * OH * OW), nw = 6 * 2 * 9;
    float *x = malloc(nx * 4), *y = malloc(ny * 4), *w = malloc(nw * 4);
    float *cy = malloc(ny * 4), *tx = malloc(nx * 4), *tx2 = malloc(nx * 4);
    for (size_t i = 0; i < nx; i++) x[i] = rnd(&seed);
    for (size_t i = 0; i < ny; i++) y[i] = rnd(&seed);
    for (size_t i = 0; i < nw; i++) w[i] = rnd(&seed);
    CHECK(fc_conv2d_forward(&cd, FC_CONV_AUTO, x, w, NULL, cy, NULL, 0) == FC_SUCCESS);
    size_t ws;
    CHECK(fc_conv_transpose2d_workspace_size(&td, FC_PASS_FORWARD, &ws) == FC_SUCCESS);
    void *buf = malloc(ws ? ws : 1);
    if (ws) CHECK(fc_conv_transpose2d_forward(&td, y, w, NULL, tx, buf, ws - 1) == FC_INVALID_WORKSPACE);
    CHECK(fc_conv_transpose2d_forward(&td, y, w, NULL, tx, buf, ws) == FC_SUCCESS);
    CHECK(fc_conv_transpose2d_forward(&td, y, w, NULL, tx2, NULL, 0) == FC_SUCCESS);
    double lhs = 0, rhs = 0, scale = 0;
    for (size_t i = 0; i < ny; i++) { lhs += (double)cy[i] * y[i]; scale += fabs((double)cy[i] * y[i]); }
    for (size_t i = 0; i < nx; i++) { rhs += (double)x[i] * tx[i]; CHECK(tx[i] == tx2[i]); }
    CHECK(fabs(lhs - rhs) <= 1e-5 * scale);
    /* output_padding 2 >= stride 1: the last two rows/columns get no input (cropped path) */
    td.output_padding_h = td.output_padding_w = 2;
    CHECK(fc_conv_transpose2d_output_shape(&td, &H2, &W2) == FC_SUCCESS && H2 == 11 && W2 == 10);
    size_t nx2 = 2 * 4 * 11 * 10, ws2;
    float *t3 = malloc(nx2 * 4), *t4 = malloc(nx2 * 4);
    CHECK(fc_conv_transpose2d_workspace_size(&td, FC_PASS_FORWARD, &ws2) == FC_SUCCESS && ws2 > 0);
    void *buf2 = malloc(ws2);
    CHECK(fc_conv_transpose2d_forward(&td, y, w, NULL, t3, buf2, ws2) == FC_SUCCESS);
    CHECK(fc_conv_transpose2d_forward(&td, y, w, NULL, t4, NULL, 0) == FC_SUCCESS);
    for (size_t i = 0; i < nx2; i++) CHECK(t3[i] == t4[i]);
    for (int64_t r = 0; r < 11; r++)
        for (int64_t c = 0; c < 10; c++)
            if (r >= 9 || c >= 8) CHECK(t3[r * 10 + c] == 0.0f);
    CHECK(fc_conv_transpose2d_workspace_size(&td, FC_PASS_BACKWARD_WEIGHTS, &ws2) == FC_SUCCESS);
    free(buf2);
    buf2 = malloc(ws2 ? ws2 : 1);
    float gw1[108], gw2[108];
    CHECK(fc_conv_transpose2d_backward_weights(&td, t3, y, gw1, NULL, buf2, ws2) == FC_SUCCESS);
    CHECK(fc_conv_transpose2d_backward_weights(&td, t3, y, gw2, NULL, NULL, 0) == FC_SUCCESS);
    for (int i = 0; i < 108; i++) CHECK(gw1[i] == gw2[i]);
    free(t3); free(t4); free(buf2);
    td.output_padding_h = 3; /* >= max(stride 1, dilation 3) */
    CHECK(fc_conv_transpose2d_output_shape(&td, &H2, &W2) == FC_INVALID_PADDING);

    fc_depthwise_conv2d_desc dd = {1, 3, 5, 7, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1};
    CHECK(fc_depthwise_conv2d_output_shape(&dd, &OH, &OW) == FC_SUCCESS && OH == 5 && OW == 7);
    CHECK(fc_depthwise_conv2d_forward(&dd, NULL, w, NULL, y) == FC_INVALID_ARGUMENT);
    dd.pad_left = -1;
    CHECK(fc_depthwise_conv2d_forward(&dd, x, w, NULL, y) == FC_INVALID_PADDING);
    dd.pad_left = 1;
    dd.multiplier = 0;
    CHECK(fc_depthwise_conv2d_forward(&dd, x, w, NULL, y) == FC_INVALID_SHAPE);
    free(x); free(y); free(w); free(cy); free(tx); free(tx2); free(buf);

    /* the depthwise forward with channels in the lanes (rows of at most 8 outputs, one
     * output channel per input channel), on every ISA path: 19 channels (no whole
     * vector of 16, two of 8 and a part), stride 2 x 1, dilation 1 x 2, asymmetric
     * padding, a bias; a caller workspace of exactly the queried size (one byte less
     * refused) against double sums */
    {
        const fc_depthwise_conv2d_desc ld = {2, 19, 9, 6, 1, 3, 4, 2, 1, 1, 2, 2, 0, 1, 2};
        int64_t LH, LW;
        CHECK(fc_depthwise_conv2d_output_shape(&ld, &LH, &LW) == FC_SUCCESS && LW <= 8);
        size_t lx = 2 * 19 * 9 * 6, ly = (size_t)(2 * 19 * LH * LW), lw = 19 * 12;
        float *xl = malloc(lx * 4), *yl = malloc(ly * 4), *wl = malloc(lw * 4), bl[19];
        for (size_t i = 0; i < lx; i++) xl[i] = rnd(&seed);
        for (size_t i = 0; i < lw; i++) wl[i] = rnd(&seed);
        for (int i = 0; i < 19; i++) bl[i] = rnd(&seed);
        fc_isa best = fc_cpu_isa();
        for (int isa = 0; isa <= (int)best; isa++) {
            if (fc_set_isa((fc_isa)isa) != FC_SUCCESS) continue;
            size_t lws;
            CHECK(fc_depthwise_conv2d_workspace_size(&ld, FC_PASS_FORWARD, &lws) == FC_SUCCESS);
            void *lb = malloc(lws);
            CHECK(fc_depthwise_conv2d_forward_ws(&ld, xl, wl, bl, yl, lb, lws - 1) ==
                  FC_INVALID_WORKSPACE);
            int64_t runs = fc_depthwise_lanes_runs();
            CHECK(fc_depthwise_conv2d_forward_ws(&ld, xl, wl, bl, yl, lb, lws) == FC_SUCCESS);
            CHECK(fc_depthwise_lanes_runs() == runs + 1);
            for (int64_t n = 0; n < 2; n++)
                for (int64_t c = 0; c < 19; c++)
                    for (int64_t oh = 0; oh < LH; oh++)
                        for (int64_t ow = 0; ow < LW; ow++) {
                            double acc = bl[c], mag = fabs(bl[c]);
                            for (int64_t r = 0; r < 3; r++)
                                for (int64_t q = 0; q < 4; q++) {
                                    int64_t ih = oh * 2 - 1 + r, iw = ow - 2 + 2 * q;
                                    if (ih < 0 || ih >= 9 || iw < 0 || iw >= 6) continue;
                                    double p = (double)xl[((n * 19 + c) * 9 + ih) * 6 + iw] *
                                               wl[c * 12 + r * 4 + q];
                                    acc += p;
                                    mag += fabs(p);
                                }
                            float got = yl[((n * 19 + c) * LH + oh) * LW + ow];
                            CHECK(fabs(got - acc) <= 1e-6 * (mag + 1));
                        }
            /* backward-weights of the same layer, grad_y = the output: against double sums */
            CHECK(fc_depthwise_conv2d_workspace_size(&ld, FC_PASS_BACKWARD_WEIGHTS, &lws) ==
                  FC_SUCCESS);
            free(lb);
            lb = malloc(lws);
            float gwl[19 * 12], gbl[19];
            runs = fc_depthwise_lanes_runs();
            CHECK(fc_depthwise_conv2d_backward_weights_ws(&ld, yl, xl, gwl, gbl, lb, lws - 1) ==
                  FC_INVALID_WORKSPACE);
            CHECK(fc_depthwise_conv2d_backward_weights_ws(&ld, yl, xl, gwl, gbl, lb, lws) ==
                  FC_SUCCESS);
            CHECK(fc_depthwise_lanes_runs() == runs + 1);
            for (int64_t c = 0; c < 19; c++) {
                double b = 0, bm = 0;
                for (int64_t i = 0; i < 2 * LH * LW; i++) {
                    double g = yl[(i / (LH * LW) * 19 + c) * LH * LW + i % (LH * LW)];
                    b += g;
                    bm += fabs(g);
                }
                CHECK(fabs(gbl[c] - b) <= 1e-5 * (bm + 1));
                for (int64_t r = 0; r < 3; r++)
                    for (int64_t q = 0; q < 4; q++) {
                        double acc = 0, mag = 0;
                        for (int64_t n = 0; n < 2; n++)
                            for (int64_t oh = 0; oh < LH; oh++)
                                for (int64_t ow = 0; ow < LW; ow++) {
                                    int64_t ih = oh * 2 - 1 + r, iw = ow - 2 + 2 * q;
                                    if (ih < 0 || ih >= 9 || iw < 0 || iw >= 6) continue;
                                    double p = (double)yl[((n * 19 + c) * LH + oh) * LW + ow] *
                                               xl[((n * 19 + c) * 9 + ih) * 6 + iw];
                                    acc += p;
                                    mag += fabs(p);
                                }
                        CHECK(fabs(gwl[c * 12 + r * 4 + q] - acc) <= 1e-5 * (mag + 1));
                    }
            }
            free(lb);
        }
        fc_set_isa(best);
        free(xl); free(yl); free(wl);
    }
    /* its stride-1 backward-data (the forward of grad_y, taps turned around) on every ISA
     * path, a caller workspace of exactly the queried size: the adjoint identity
     * <conv(x), gy> == <x, grad_x> */
    {
        const fc_depthwise_conv2d_desc bd = {2, 19, 6, 7, 1, 3, 3, 1, 1, 1, 0, 2, 1, 1, 1};
        int64_t BH, BW;
        CHECK(fc_depthwise_conv2d_output_shape(&bd, &BH, &BW) == FC_SUCCESS);
        size_t bx = 2 * 19 * 6 * 7, by = (size_t)(2 * 19 * BH * BW);
        float *xb = malloc(bx * 4), *gxb = malloc(bx * 4), *yb = malloc(by * 4);
        float *gyb = malloc(by * 4), wb[19 * 9];
        for (size_t i = 0; i < bx; i++) xb[i] = rnd(&seed);
        for (size_t i = 0; i < by; i++) gyb[i] = rnd(&seed);
        for (int i = 0; i < 19 * 9; i++) wb[i] = rnd(&seed);
        fc_isa best = fc_cpu_isa();
        for (int isa = 0; isa <= (int)best; isa++) {
            if (fc_set_isa((fc_isa)isa) != FC_SUCCESS) continue;
            size_t bws;
            CHECK(fc_depthwise_conv2d_workspace_size(&bd, FC_PASS_BACKWARD_DATA, &bws) ==
                  FC_SUCCESS);
            void *bb = malloc(bws);
            int64_t runs = fc_depthwise_lanes_runs();
            CHECK(fc_depthwise_conv2d_forward(&bd, xb, wb, NULL, yb) == FC_SUCCESS);
            CHECK(fc_depthwise_conv2d_backward_data_ws(&bd, gyb, wb, gxb, bb, bws - 1) ==
                  FC_INVALID_WORKSPACE);
            CHECK(fc_depthwise_conv2d_backward_data_ws(&bd, gyb, wb, gxb, bb, bws) == FC_SUCCESS);
            CHECK(fc_depthwise_lanes_runs() == runs + 2);
            double l = 0, r = 0, mag = 0;
            for (size_t i = 0; i < by; i++) { l += (double)yb[i] * gyb[i]; mag += fabs((double)yb[i] * gyb[i]); }
            for (size_t i = 0; i < bx; i++) r += (double)xb[i] * gxb[i];
            CHECK(fabs(l - r) <= 1e-5 * mag);
            free(bb);
        }
        fc_set_isa(best);
        free(xb); free(gxb); free(yb); free(gyb);
    }
    printf("ok\n");
    return 0;
}

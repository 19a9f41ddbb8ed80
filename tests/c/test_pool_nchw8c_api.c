/* Max pooling on the blocked layout (fc_max_pool2d_forward_nchw8c) through the C API:
 * equal to fc_max_pool2d_forward on the NCHW data reordered, for shapes with odd channel
 * counts, asymmetric padding, dilation and ceil mode, NaN in the data; the padded
 * channels stay zero; bad arguments refused before any memory is touched. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastconv.h"

#define CHECK(c) do { if (!(c)) { printf("FAIL %s:%d %s\n", __FILE__, __LINE__, #c); return 1; } } while (0)

static float rnd(unsigned *s) { *s = *s * 1103515245u + 12345u; return ((*s >> 9) & 0xffff) / 32768.0f - 1.0f; }

static int check_case(const fc_pool2d_desc *d, unsigned *seed) {
    int64_t OH, OW, CB = (d->C + 7) / 8;
    CHECK(fc_pool2d_output_shape(d, &OH, &OW) == FC_SUCCESS);
    size_t nx = (size_t)(d->N * d->C * d->H * d->W), ny = (size_t)(d->N * d->C * OH * OW);
    size_t nxb = (size_t)(d->N * CB * d->H * d->W * 8), nyb = (size_t)(d->N * CB * OH * OW * 8);
    float *x = malloc(nx * 4), *y = malloc(ny * 4), *xb = malloc(nxb * 4);
    float *yb = malloc(nyb * 4), *back = malloc(ny * 4);
    CHECK(x && y && xb && yb && back);
    for (size_t i = 0; i < nx; i++) x[i] = i % 29 == 3 ? NAN : rnd(seed);
    CHECK(fc_max_pool2d_forward(d, x, y, NULL) == FC_SUCCESS);
    CHECK(fc_reorder_nchw_to_nchw8c(d->N, d->C, d->H, d->W, x, xb) == FC_SUCCESS);
    CHECK(fc_max_pool2d_forward_nchw8c(d, xb, yb) == FC_SUCCESS);
    CHECK(fc_reorder_nchw8c_to_nchw(d->N, d->C, OH, OW, yb, back) == FC_SUCCESS);
    for (size_t i = 0; i < ny; i++)
        CHECK(isnan(y[i]) ? isnan(back[i]) : back[i] == y[i]);
    for (int64_t nb = 0; nb < d->N * CB; nb++)   /* the padded channels of each block */
        for (int64_t q = 0; q < OH * OW; q++)
            for (int64_t j = 0; j < 8; j++)
                if ((nb % CB) * 8 + j >= d->C) CHECK(yb[(nb * OH * OW + q) * 8 + j] == 0.0f);
    free(x); free(y); free(xb); free(yb); free(back);
    return 0;
}

int main(void) {
    unsigned seed = 7;
    /* N, C, H, W, kernel, stride, pads (t, b, l, r), dilation, ceil, count_include_pad */
    const fc_pool2d_desc cases[] = {
        {1, 13, 27, 27, 3, 3, 2, 2, 0, 0, 0, 0, 1, 1, 0, 1},
        {2, 5, 9, 11, 3, 2, 2, 1, 1, 0, 1, 1, 1, 1, 1, 1},
        {1, 17, 8, 7, 2, 3, 1, 2, 1, 1, 0, 2, 2, 1, 0, 1},
        {3, 8, 5, 6, 2, 2, 3, 2, 0, 1, 1, 0, 1, 2, 1, 1},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        if (check_case(&cases[c], &seed)) return 1;

    const fc_pool2d_desc *d = &cases[0];
    float in[8] = {0}, out[8];
    CHECK(fc_max_pool2d_forward_nchw8c(NULL, in, out) == FC_INVALID_ARGUMENT);
    CHECK(fc_max_pool2d_forward_nchw8c(d, NULL, out) == FC_INVALID_ARGUMENT);
    CHECK(fc_max_pool2d_forward_nchw8c(d, in, NULL) == FC_INVALID_ARGUMENT);
    fc_pool2d_desc bad = *d;
    bad.pad_top = 3;   /* not below the kernel */
    CHECK(fc_max_pool2d_forward_nchw8c(&bad, in, out) == FC_INVALID_PADDING);
    bad = *d;
    bad.N = 0;
    CHECK(fc_max_pool2d_forward_nchw8c(&bad, in, out) == FC_INVALID_SHAPE);
    bad = *d;
    bad.N = INT64_MAX / 4;
    bad.C = 1 << 20;
    CHECK(fc_max_pool2d_forward_nchw8c(&bad, in, out) == FC_SIZE_OVERFLOW);
    printf("pool nchw8c API ok\n");
    return 0;
}

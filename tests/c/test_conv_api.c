/* Links against the installed libfastconv and checks a convolution by hand, plus
 * the status codes of bad descriptors. Compiled and run by tests/test_c_api.py as
 * C99 and as C++. Exit status 0 = pass. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "fastconv.h"

static int fails = 0;
#define CHECK(cond)                                                   \
    do {                                                              \
        if (!(cond)) {                                                \
            fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
            fails++;                                                  \
        }                                                             \
    } while (0)

int main(void) {
    /* The lecture's 4x3 image and 2x2 filter. */
    float x[12] = {1, 2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31};
    float w[4] = {2, -1, 0.5f, 3};
    float bias[1] = {0.25f};
    float y[6];
    fc_conv2d_desc d = {1, 1, 4, 3, 1, 2, 2, 1, 1, 0, 0, 0, 0, 1, 1, 1};
    int64_t OH = 0, OW = 0;
    int algo;
    CHECK(fc_conv2d_output_shape(&d, &OH, &OW) == FC_SUCCESS);
    CHECK(OH == 3 && OW == 2);
    for (algo = FC_CONV_AUTO; algo <= FC_CONV_DIRECT; algo++) {
        int i, j;
        CHECK(fc_conv2d_forward(&d, (fc_conv_algorithm)algo, x, w, bias, y, NULL, 0) == FC_SUCCESS);
        for (i = 0; i < 3; i++)
            for (j = 0; j < 2; j++) {
                float want = x[i * 3 + j] * w[0] + x[i * 3 + j + 1] * w[1] +
                             x[(i + 1) * 3 + j] * w[2] + x[(i + 1) * 3 + j + 1] * w[3] + bias[0];
                CHECK(fabsf(y[i * 2 + j] - want) <= 1e-5f * fabsf(want) + 1e-6f);
            }
    }

    /* A caller workspace: too small is refused, the queried size works. */
    {
        size_t need = 0;
        CHECK(fc_conv2d_workspace_size(&d, FC_CONV_DIRECT, FC_PASS_FORWARD, &need) == FC_SUCCESS);
        void *ws = malloc(need);
        CHECK(fc_conv2d_forward(&d, FC_CONV_DIRECT, x, w, NULL, y, ws, need) == FC_SUCCESS);
        if (need > 0)
            CHECK(fc_conv2d_forward(&d, FC_CONV_DIRECT, x, w, NULL, y, ws, need - 1) ==
                  FC_INVALID_WORKSPACE);
        free(ws);
    }

    /* Backward: grad_bias is the sum of grad_y. */
    {
        float gy[6] = {1, 1, 1, 1, 1, 1}, gx[12], gw[4], gb[1];
        CHECK(fc_conv2d_backward_data(&d, FC_CONV_AUTO, gy, w, gx, NULL, 0) == FC_SUCCESS);
        CHECK(fabsf(gx[0] - w[0]) < 1e-6f);
        CHECK(fc_conv2d_backward_weights(&d, FC_CONV_AUTO, gy, x, gw, gb, NULL, 0) == FC_SUCCESS);
        CHECK(fabsf(gb[0] - 6.0f) < 1e-6f);
        CHECK(fabsf(gw[0] - (1 + 2 + 5 + 7 + 13 + 17)) < 1e-4f);
    }

    /* Bad descriptors get statuses, never a crash. */
    {
        fc_conv2d_desc bad = d;
        bad.stride_h = 0;
        CHECK(fc_conv2d_forward(&bad, FC_CONV_AUTO, x, w, NULL, y, NULL, 0) == FC_INVALID_STRIDE);
        bad = d;
        bad.R = 9;
        CHECK(fc_conv2d_forward(&bad, FC_CONV_AUTO, x, w, NULL, y, NULL, 0) == FC_INVALID_SHAPE);
        bad = d;
        bad.groups = 2;
        CHECK(fc_conv2d_forward(&bad, FC_CONV_AUTO, x, w, NULL, y, NULL, 0) == FC_INVALID_GROUPS);
        bad = d;
        bad.N = (int64_t)1 << 40;
        bad.C = (int64_t)1 << 40;
        CHECK(fc_conv2d_forward(&bad, FC_CONV_AUTO, x, w, NULL, y, NULL, 0) == FC_SIZE_OVERFLOW);
        CHECK(fc_conv2d_forward(&d, FC_CONV_AUTO, NULL, w, NULL, y, NULL, 0) == FC_INVALID_ARGUMENT);
        CHECK(fc_conv2d_forward(NULL, FC_CONV_AUTO, x, w, NULL, y, NULL, 0) == FC_INVALID_ARGUMENT);
        CHECK(fc_conv2d_forward(&d, (fc_conv_algorithm)99, x, w, NULL, y, NULL, 0) == FC_INVALID_ARGUMENT);
        CHECK(fc_set_num_threads(0) == FC_INVALID_ARGUMENT);
    }
    CHECK(fc_status_string(FC_INVALID_STRIDE) != NULL);
    printf("fastconv %s (%s): %s\n", fc_version(), fc_isa_name(fc_get_isa()),
           fails ? "FAIL" : "ok");
    return fails ? 1 : 0;
}

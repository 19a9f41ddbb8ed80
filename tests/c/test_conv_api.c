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
    {   /* precision: "highest" keeps AUTO off Winograd; unknown values are refused */
        fc_conv2d_desc r = {16, 64, 56, 56, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1};
        fc_conv_algorithm a = FC_CONV_AUTO;
        CHECK(fc_get_precision() == FC_PRECISION_HIGH);
        CHECK(fc_conv2d_select_algorithm(&r, FC_PASS_FORWARD, &a) == FC_SUCCESS);
        CHECK(a == FC_CONV_WINOGRAD_F43);
        CHECK(fc_set_precision(FC_PRECISION_HIGHEST) == FC_SUCCESS);
        CHECK(fc_get_precision() == FC_PRECISION_HIGHEST);
        CHECK(fc_conv2d_select_algorithm(&r, FC_PASS_FORWARD, &a) == FC_SUCCESS);
        CHECK(a == FC_CONV_IM2COL);
        CHECK(fc_set_precision((fc_precision)7) == FC_INVALID_ARGUMENT);
        CHECK(fc_get_precision() == FC_PRECISION_HIGHEST);
        CHECK(fc_set_precision(FC_PRECISION_HIGH) == FC_SUCCESS);
    }
    {   /* the blocked-route query: AUTO's 3x3 256 -> 256 at 14x14, batch 8, runs blocked
           (im2col named); a 1x1 does not; bad arguments are refused */
        fc_conv2d_desc r = {8, 256, 14, 14, 256, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1};
        fc_conv2d_desc one = {8, 256, 14, 14, 64, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1};
        fc_conv_algorithm a = FC_CONV_AUTO;
        int blocked = -1;
        CHECK(fc_conv2d_auto_forward_blocked(&r, &blocked) == FC_SUCCESS && blocked == 1);
        CHECK(fc_conv2d_select_algorithm(&r, FC_PASS_FORWARD, &a) == FC_SUCCESS);
        CHECK(a == FC_CONV_IM2COL);
        CHECK(fc_conv2d_auto_forward_blocked(&one, &blocked) == FC_SUCCESS && blocked == 0);
        CHECK(fc_conv2d_auto_forward_blocked(&r, NULL) == FC_INVALID_ARGUMENT);
        CHECK(fc_conv2d_auto_forward_blocked(NULL, &blocked) == FC_INVALID_ARGUMENT);
        fc_conv2d_desc bad = r;
        bad.groups = 3;
        CHECK(fc_conv2d_auto_forward_blocked(&bad, &blocked) == FC_INVALID_GROUPS);
        /* a plan holding NCHW8c runs the 1x1 blocked exactly where the table says so
           (AVX-512's plan_any_batch), the 3x3 everywhere; 8 channels never */
        fc_isa isa = fc_get_isa();
        for (int t = FC_ISA_PORTABLE; t <= (int)fc_cpu_isa(); t++) {
            CHECK(fc_set_isa((fc_isa)t) == FC_SUCCESS);
            CHECK(fc_conv2d_plan_blocked(&r, &blocked) == FC_SUCCESS && blocked == 1);
            CHECK(fc_conv2d_plan_blocked(&one, &blocked) == FC_SUCCESS);
            CHECK(blocked == (t == FC_ISA_AVX512));
            fc_conv2d_desc narrow = one;
            narrow.C = 8;
            CHECK(fc_conv2d_plan_blocked(&narrow, &blocked) == FC_SUCCESS && blocked == 0);
        }
        CHECK(fc_set_isa(isa) == FC_SUCCESS);
        CHECK(fc_conv2d_plan_blocked(&r, NULL) == FC_INVALID_ARGUMENT);
        CHECK(fc_conv2d_plan_blocked(NULL, &blocked) == FC_INVALID_ARGUMENT);
        CHECK(fc_conv2d_plan_blocked(&bad, &blocked) == FC_INVALID_GROUPS);
    }
    {   /* Winograd: one NaN spoils its 3x3 receptive field only, in every entry point */
        enum { N = 2, C = 3, H = 9, W = 10, K = 5 };
        fc_conv2d_desc r = {N, C, H, W, K, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1};
        static float xin[N * C * H * W], wt[K * C * 9], out[N * K * H * W], gin[N * C * H * W];
        static float u[K * C * 36];
        for (int i = 0; i < N * C * H * W; i++) xin[i] = (float)((i * 37) % 11) / 11.0f - 0.5f;
        for (int i = 0; i < K * C * 9; i++) wt[i] = (float)((i * 13) % 7) / 7.0f - 0.4f;
        xin[((1 * C + 2) * H + 4) * W + 5] = NAN;   /* image 1, channel 2, (4, 5) */
        for (int algo = FC_CONV_WINOGRAD_F23; algo <= FC_CONV_WINOGRAD_F43; algo++) {
            for (int pre = 0; pre < 2; pre++) {
                size_t nu = 0;
                CHECK(fc_conv2d_winograd_weights_size(&r, (fc_conv_algorithm)algo,
                                                      FC_PASS_FORWARD, &nu) == FC_SUCCESS);
                CHECK(nu <= sizeof u / sizeof u[0]);
                if (pre) {
                    CHECK(fc_conv2d_winograd_transform_weights(&r, (fc_conv_algorithm)algo,
                                                               FC_PASS_FORWARD, wt, u, nu) == FC_SUCCESS);
                    CHECK(fc_conv2d_winograd_forward_pretransformed(&r, (fc_conv_algorithm)algo, xin,
                                                                    u, NULL, out, NULL, 0) == FC_SUCCESS);
                } else {
                    CHECK(fc_conv2d_forward(&r, (fc_conv_algorithm)algo, xin, wt, NULL, out, NULL,
                                            0) == FC_SUCCESS);
                }
                int bad = 0, misplaced = 0;
                for (int n = 0; n < N; n++)
                    for (int k = 0; k < K; k++)
                        for (int i = 0; i < H; i++)
                            for (int j = 0; j < W; j++) {
                                int nf = !isfinite(out[((n * K + k) * H + i) * W + j]);
                                bad += nf;
                                misplaced += nf != (n == 1 && i >= 3 && i <= 5 && j >= 4 && j <= 6);
                            }
                CHECK(bad == K * 9 && misplaced == 0);
            }
            /* backward-data: a NaN in grad_y spoils the 3x3 neighbourhood of grad_x */
            for (int i = 0; i < N * K * H * W; i++) out[i] = (float)((i * 29) % 13) / 13.0f - 0.5f;
            out[((0 * K + 4) * H + 0) * W + 9] = NAN;   /* image 0, channel 4, corner (0, 9) */
            for (int pre = 0; pre < 2; pre++) {
                size_t nu = 0;
                CHECK(fc_conv2d_winograd_weights_size(&r, (fc_conv_algorithm)algo,
                                                      FC_PASS_BACKWARD_DATA, &nu) == FC_SUCCESS);
                if (pre) {
                    CHECK(fc_conv2d_winograd_transform_weights(&r, (fc_conv_algorithm)algo,
                                                               FC_PASS_BACKWARD_DATA, wt, u, nu) == FC_SUCCESS);
                    CHECK(fc_conv2d_winograd_backward_data_pretransformed(
                              &r, (fc_conv_algorithm)algo, out, u, gin, NULL, 0) == FC_SUCCESS);
                } else {
                    CHECK(fc_conv2d_backward_data(&r, (fc_conv_algorithm)algo, out, wt, gin, NULL,
                                                  0) == FC_SUCCESS);
                }
                int bad = 0, misplaced = 0;
                for (int n = 0; n < N; n++)
                    for (int c = 0; c < C; c++)
                        for (int i = 0; i < H; i++)
                            for (int j = 0; j < W; j++) {
                                int nf = !isfinite(gin[((n * C + c) * H + i) * W + j]);
                                bad += nf;
                                misplaced += nf != (n == 0 && i <= 1 && j >= 8);
                            }
                CHECK(bad == C * 4 && misplaced == 0);
            }
        }
    }
    CHECK(fc_status_string(FC_INVALID_STRIDE) != NULL);
    printf("fastconv %s (%s): %s\n", fc_version(), fc_isa_name(fc_get_isa()),
           fails ? "FAIL" : "ok");
    return fails ? 1 : 0;
}

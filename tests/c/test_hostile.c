/* Hostile descriptors through the C API, every op family: sizes whose products or
 * sums overflow 64 bits give FC_SIZE_OVERFLOW (or another refusal), never success and
 * never a touch of the tiny buffers passed; NULL pointers give FC_INVALID_ARGUMENT;
 * a legal descriptor whose workspace cannot be allocated gives FC_OUT_OF_MEMORY.
 * Run under ASan (run_checks.sh): any read or write of the buffers past their 16
 * floats is reported. Exit status 0 = pass. */
#include <stdio.h>

#include "fastconv.h"

static int failures;
#define EXPECT(cond)                                                          \
    do {                                                                      \
        if (!(cond)) {                                                        \
            printf("FAIL %s:%d %s\n", __FILE__, __LINE__, #cond);             \
            failures++;                                                       \
        }                                                                     \
    } while (0)
#define BIG (INT64_MAX - 3)

static float b0[16], b1[16], b2[16], b3[16];
static int64_t i0[16];

static void conv(void) {
    /* N*C*H*W overflows; pads near INT64_MAX; the padded plane overflows. */
    fc_conv2d_desc cases[] = {
        {1 << 20, 1 << 20, 1 << 20, 1 << 20, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1},
        {1, 1, 1, 1, 1, 1, 1, 1, 1, BIG, BIG, 0, 0, 1, 1, 1},
        {1, 1, 1, 1, 1, 1, 1, BIG, BIG, BIG / 2, BIG / 2, BIG / 2, BIG / 2, 1, 1, 1},
        {1, 1, 1, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1, BIG, 1, 1},
        {1, 1 << 30, 1, 1, 1 << 30, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t OH, OW;
        size_t ws;
        EXPECT(fc_conv2d_output_shape(&cases[i], &OH, &OW) != FC_SUCCESS);
        for (int a = 0; a <= 4; a++) {
            EXPECT(fc_conv2d_workspace_size(&cases[i], a, FC_PASS_FORWARD, &ws) != FC_SUCCESS);
            EXPECT(fc_conv2d_forward(&cases[i], a, b0, b1, NULL, b2, NULL, 0) != FC_SUCCESS);
            EXPECT(fc_conv2d_backward_data(&cases[i], a, b0, b1, b2, NULL, 0) != FC_SUCCESS);
            EXPECT(fc_conv2d_backward_weights(&cases[i], a, b0, b1, b2, b3, NULL, 0) != FC_SUCCESS);
        }
    }
    /* A legal 1x1 convolution whose direct workspace (the padded plane, ~2^60 bytes)
     * cannot be allocated: FC_OUT_OF_MEMORY, not a crash. */
    int64_t p = (int64_t)1 << 28;
    fc_conv2d_desc huge = {1, 1, 1, 1, 1, 1, 1, 2 * p, 2 * p, p, p, p, p, 1, 1, 1};
    int64_t OH, OW;
    EXPECT(fc_conv2d_output_shape(&huge, &OH, &OW) == FC_SUCCESS && OH == 2 && OW == 2);
    EXPECT(fc_conv2d_forward(&huge, FC_CONV_DIRECT, b0, b1, NULL, b2, NULL, 0) == FC_OUT_OF_MEMORY);
    /* the same with im2col (small workspace) works */
    EXPECT(fc_conv2d_forward(&huge, FC_CONV_IM2COL, b0, b1, NULL, b2, NULL, 0) == FC_SUCCESS);
    /* NULL pointers */
    fc_conv2d_desc ok = {1, 1, 3, 3, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1};
    EXPECT(fc_conv2d_forward(NULL, 0, b0, b1, NULL, b2, NULL, 0) == FC_INVALID_ARGUMENT);
    EXPECT(fc_conv2d_forward(&ok, 0, NULL, b1, NULL, b2, NULL, 0) == FC_INVALID_ARGUMENT);
    EXPECT(fc_conv2d_forward(&ok, 0, b0, b1, NULL, NULL, NULL, 0) == FC_INVALID_ARGUMENT);
    EXPECT(fc_conv2d_forward(&ok, 99, b0, b1, NULL, b2, NULL, 0) != FC_SUCCESS);
    EXPECT(fc_conv2d_backward_data(&ok, 0, b0, NULL, b2, NULL, 0) == FC_INVALID_ARGUMENT);
    EXPECT(fc_conv2d_backward_weights(&ok, 0, b0, b1, NULL, NULL, NULL, 0) == FC_INVALID_ARGUMENT);
    /* a caller workspace smaller than the query */
    size_t ws = 0;
    EXPECT(fc_conv2d_workspace_size(&ok, FC_CONV_IM2COL, FC_PASS_FORWARD, &ws) == FC_SUCCESS);
    if (ws > 0)
        EXPECT(fc_conv2d_forward(&ok, FC_CONV_IM2COL, b0, b1, NULL, b2, b3, ws - 1) ==
               FC_INVALID_WORKSPACE);
}

static void tconv(void) {
    fc_conv_transpose2d_desc cases[] = {
        /* (H-1)*stride overflows */
        {1, 1, 3, 3, 1, 1, 1, BIG, BIG, 0, 0, 0, 0, 0, 0, 1, 1, 1},
        /* dilation*(R-1) overflows */
        {1, 1, 1, 1, 1, 3, 3, 1, 1, 0, 0, 0, 0, 0, 0, BIG, BIG, 1},
        /* N*K*OH*OW overflows */
        {1 << 20, 1, 1 << 20, 1 << 20, 1 << 20, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1},
        /* pads near INT64_MAX */
        {1, 1, 3, 3, 1, 1, 1, 1, 1, BIG, BIG, BIG, BIG, 0, 0, 1, 1, 1},
        /* output padding huge */
        {1, 1, 3, 3, 1, 1, 1, BIG, BIG, 0, 0, 0, 0, BIG - 1, BIG - 1, 1, 1, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t OH, OW;
        size_t ws;
        EXPECT(fc_conv_transpose2d_output_shape(&cases[i], &OH, &OW) != FC_SUCCESS);
        EXPECT(fc_conv_transpose2d_workspace_size(&cases[i], FC_PASS_FORWARD, &ws) != FC_SUCCESS);
        EXPECT(fc_conv_transpose2d_forward(&cases[i], b0, b1, NULL, b2, NULL, 0) != FC_SUCCESS);
        EXPECT(fc_conv_transpose2d_backward_data(&cases[i], b0, b1, b2, NULL, 0) != FC_SUCCESS);
        EXPECT(fc_conv_transpose2d_backward_weights(&cases[i], b0, b1, b2, b3, NULL, 0) != FC_SUCCESS);
    }
    fc_conv_transpose2d_desc ok = {1, 1, 2, 2, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1};
    EXPECT(fc_conv_transpose2d_forward(&ok, NULL, b1, NULL, b2, NULL, 0) == FC_INVALID_ARGUMENT);
    EXPECT(fc_conv_transpose2d_forward(NULL, b0, b1, NULL, b2, NULL, 0) == FC_INVALID_ARGUMENT);
}

static void depthwise(void) {
    fc_depthwise_conv2d_desc cases[] = {
        {1, 1, 1, 1, 1, 1, 1, 1, 1, BIG, BIG, BIG, BIG, 1, 1},  /* pads: the sums overflow */
        {1, 1, 3, 3, 1, 1, 1, 1, 1, BIG / 2, BIG / 2, 0, 0, 1, 1},
        {1, 1 << 30, 1, 1, 1 << 30, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1}, /* C*multiplier*... */
        {1, 1, 1, 1, 1, 3, 3, 1, 1, 0, 0, 0, 0, BIG, BIG},
        {1 << 20, 1 << 20, 1 << 20, 1 << 20, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t OH, OW;
        EXPECT(fc_depthwise_conv2d_output_shape(&cases[i], &OH, &OW) != FC_SUCCESS);
        EXPECT(fc_depthwise_conv2d_forward(&cases[i], b0, b1, NULL, b2) != FC_SUCCESS);
        EXPECT(fc_depthwise_conv2d_backward_data(&cases[i], b0, b1, b2) != FC_SUCCESS);
        EXPECT(fc_depthwise_conv2d_backward_weights(&cases[i], b0, b1, b2, b3) != FC_SUCCESS);
    }
    fc_depthwise_conv2d_desc ok = {1, 1, 3, 3, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1};
    EXPECT(fc_depthwise_conv2d_forward(&ok, b0, NULL, NULL, b2) == FC_INVALID_ARGUMENT);
}

static void pool(void) {
    fc_pool2d_desc cases[] = {
        /* N*C*OH*OW overflows */
        {1 << 20, 1 << 20, 1 << 20, 1 << 20, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0, 1},
        /* kernel, dilation, stride beyond the 32-bit limits */
        {1, 1, 3, 3, BIG, BIG, 1, 1, 0, 0, 0, 0, 1, 1, 0, 1},
        {1, 1, 3, 3, 2, 2, BIG, BIG, 0, 0, 0, 0, 1, 1, 0, 1},
        {1, 1, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0, BIG, BIG, 0, 1},
        /* pads near INT64_MAX */
        {1, 1, 3, 3, 2, 2, 1, 1, BIG, BIG, BIG, BIG, 1, 1, 1, 1},
        {1, 1, 3, 3, 2, 2, 1, 1, -1, 0, 0, 0, 1, 1, 0, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t OH, OW;
        EXPECT(fc_pool2d_output_shape(&cases[i], &OH, &OW) != FC_SUCCESS);
        EXPECT(fc_max_pool2d_forward(&cases[i], b0, b1, i0) != FC_SUCCESS);
        EXPECT(fc_max_pool2d_backward(&cases[i], b0, b1, NULL, b2) != FC_SUCCESS);
        EXPECT(fc_max_pool2d_backward(&cases[i], b0, NULL, i0, b2) != FC_SUCCESS);
        EXPECT(fc_avg_pool2d_forward(&cases[i], b0, b1) != FC_SUCCESS);
        EXPECT(fc_avg_pool2d_backward(&cases[i], b0, b1) != FC_SUCCESS);
    }
    fc_pool2d_desc ok = {1, 1, 4, 4, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 0, 1};
    EXPECT(fc_max_pool2d_forward(&ok, NULL, b1, NULL) == FC_INVALID_ARGUMENT);
    EXPECT(fc_max_pool2d_backward(&ok, b0, NULL, NULL, b2) == FC_INVALID_ARGUMENT);
    EXPECT(fc_avg_pool2d_forward(&ok, b0, NULL) == FC_INVALID_ARGUMENT);
    /* a corrupt index (outside its plane) must not be written through */
    int64_t bad[4] = {0, 1, 99, -5};
    fc_status st = fc_max_pool2d_backward(&ok, b0, NULL, bad, b2);
    (void)st; /* either refused or ignored, as long as ASan sees no write past b2 */
    /* global pooling */
    int64_t g[][4] = {{1 << 20, 1 << 20, 1 << 20, 1 << 20}, {BIG, 1, 1, 1}, {0, 1, 1, 1},
                      {1, -1, 1, 1}};
    for (size_t i = 0; i < sizeof g / sizeof g[0]; i++) {
        EXPECT(fc_global_avg_pool2d_forward(g[i][0], g[i][1], g[i][2], g[i][3], b0, b1) != FC_SUCCESS);
        EXPECT(fc_global_max_pool2d_forward(g[i][0], g[i][1], g[i][2], g[i][3], b0, b1) != FC_SUCCESS);
        EXPECT(fc_global_avg_pool2d_backward(g[i][0], g[i][1], g[i][2], g[i][3], b0, b1) != FC_SUCCESS);
        EXPECT(fc_global_max_pool2d_backward(g[i][0], g[i][1], g[i][2], g[i][3], b0, b1, b2) != FC_SUCCESS);
    }
    EXPECT(fc_global_max_pool2d_backward(1, 1, 2, 2, b0, NULL, b2) == FC_INVALID_ARGUMENT);
}

static void sgemm(void) {
    /* leading dimensions whose (rows - 1) * ld + cols wraps around */
    EXPECT(fc_sgemm(0, 0, 2, 2, 2, 1.0f, b0, BIG, b1, 2, 0.0f, b2, 2) == FC_SIZE_OVERFLOW);
    EXPECT(fc_sgemm(0, 0, 2, 2, 2, 1.0f, b0, 2, b1, BIG, 0.0f, b2, 2) == FC_SIZE_OVERFLOW);
    EXPECT(fc_sgemm(0, 0, 2, 2, 2, 1.0f, b0, 2, b1, 2, 0.0f, b2, BIG) == FC_SIZE_OVERFLOW);
    EXPECT(fc_sgemm(1, 1, 2, 2, 2, 1.0f, b0, BIG, b1, BIG, 0.0f, b2, 2) == FC_SIZE_OVERFLOW);
    EXPECT(fc_sgemm(0, 0, INT64_MAX, 2, 2, 1.0f, b0, 2, b1, 2, 0.0f, b2, 2) == FC_SIZE_OVERFLOW);
    EXPECT(fc_sgemm(0, 0, -1, 2, 2, 1.0f, b0, 2, b1, 2, 0.0f, b2, 2) == FC_INVALID_SHAPE);
    EXPECT(fc_sgemm(0, 0, 2, 2, 2, 1.0f, b0, 1, b1, 2, 0.0f, b2, 2) == FC_INVALID_SHAPE);
    EXPECT(fc_sgemm(0, 0, 2, 2, 2, 1.0f, NULL, 2, b1, 2, 0.0f, b2, 2) == FC_INVALID_ARGUMENT);
    EXPECT(fc_sgemm(0, 0, 2, 2, 2, 1.0f, b0, 2, b1, 2, 0.0f, NULL, 2) == FC_INVALID_ARGUMENT);
}

int main(void) {
    conv();
    tconv();
    depthwise();
    pool();
    sgemm();
    fc_release_workspace();
    if (failures) return 1;
    printf("test_hostile: all refusals correct\n");
    return 0;
}

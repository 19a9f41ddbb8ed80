/* Every op family has one calling shape: descriptor, output-shape query,
 * workspace-size query, optional caller workspace. For depthwise convolution and
 * pooling (max, avg, global): a caller workspace of exactly the queried size gives the
 * same bits as NULL (the thread's cache), one byte less is FC_INVALID_WORKSPACE before
 * anything is written, and the size query rejects what the call rejects. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastconv.h"

#define CHECK(c) do { if (!(c)) { printf("FAIL %s:%d %s\n", __FILE__, __LINE__, #c); return 1; } } while (0)

static float rnd(unsigned *s) { *s = *s * 1103515245u + 12345u; return ((*s >> 9) & 0xffff) / 32768.0f - 1.0f; }
static void fill(float *p, size_t n, unsigned *s) { for (size_t i = 0; i < n; i++) p[i] = rnd(s); }

int main(void) {
    unsigned seed = 5;
    /* depthwise: x[2][3][11][9], multiplier 2, 3x3, stride 2, dilation 2 */
    fc_depthwise_conv2d_desc dd = {2, 3, 11, 9, 2, 3, 3, 2, 2, 1, 2, 1, 0, 2, 2};
    int64_t OH, OW;
    CHECK(fc_depthwise_conv2d_output_shape(&dd, &OH, &OW) == FC_SUCCESS);
    size_t nx = 2 * 3 * 11 * 9, ny = (size_t)(2 * 6 * OH * OW), nw = 6 * 9;
    float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc(6 * 4), *gy = malloc(ny * 4);
    float *y1 = malloc(ny * 4), *y2 = malloc(ny * 4), *g1 = malloc(nx * 4), *g2 = malloc(nx * 4);
    float gw1[54], gw2[54], gb1[6], gb2[6];
    fill(x, nx, &seed); fill(w, nw, &seed); fill(b, 6, &seed); fill(gy, ny, &seed);
    fc_conv_pass passes[3] = {FC_PASS_FORWARD, FC_PASS_BACKWARD_DATA, FC_PASS_BACKWARD_WEIGHTS};
    for (int i = 0; i < 3; i++) {
        size_t ws;
        CHECK(fc_depthwise_conv2d_workspace_size(&dd, passes[i], &ws) == FC_SUCCESS && ws > 0);
        char *buf = malloc(ws);
        if (i == 0) {
            memset(y1, 0x7f, ny * 4);
            CHECK(fc_depthwise_conv2d_forward_ws(&dd, x, w, b, y1, buf, ws - 1) == FC_INVALID_WORKSPACE);
            CHECK(y1[0] != y1[0] || y1[0] > 1e30f); /* untouched */
            CHECK(fc_depthwise_conv2d_forward_ws(&dd, x, w, b, y1, buf, ws) == FC_SUCCESS);
            CHECK(fc_depthwise_conv2d_forward(&dd, x, w, b, y2) == FC_SUCCESS);
            CHECK(memcmp(y1, y2, ny * 4) == 0);
        } else if (i == 1) {
            CHECK(fc_depthwise_conv2d_backward_data_ws(&dd, gy, w, g1, buf, ws - 1) == FC_INVALID_WORKSPACE);
            CHECK(fc_depthwise_conv2d_backward_data_ws(&dd, gy, w, g1, buf, ws) == FC_SUCCESS);
            CHECK(fc_depthwise_conv2d_backward_data(&dd, gy, w, g2) == FC_SUCCESS);
            CHECK(memcmp(g1, g2, nx * 4) == 0);
        } else {
            CHECK(fc_depthwise_conv2d_backward_weights_ws(&dd, gy, x, gw1, gb1, buf, ws - 1) == FC_INVALID_WORKSPACE);
            CHECK(fc_depthwise_conv2d_backward_weights_ws(&dd, gy, x, gw1, gb1, buf, ws) == FC_SUCCESS);
            CHECK(fc_depthwise_conv2d_backward_weights(&dd, gy, x, gw2, gb2) == FC_SUCCESS);
            CHECK(memcmp(gw1, gw2, sizeof gw1) == 0 && memcmp(gb1, gb2, sizeof gb1) == 0);
        }
        free(buf);
    }
    size_t ws;
    CHECK(fc_depthwise_conv2d_workspace_size(&dd, (fc_conv_pass)7, &ws) == FC_INVALID_ARGUMENT);
    dd.multiplier = 0;
    CHECK(fc_depthwise_conv2d_workspace_size(&dd, FC_PASS_FORWARD, &ws) == FC_INVALID_SHAPE);

    /* pooling: max 3x3 stride 2 pad 1 dilation 1, avg 2x2 ceil mode */
    fc_pool2d_desc pd = {2, 3, 11, 9, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0};
    CHECK(fc_pool2d_output_shape(&pd, &OH, &OW) == FC_SUCCESS);
    size_t np = (size_t)(2 * 3 * OH * OW);
    int64_t *idx = malloc(np * 8);
    for (int avg = 0; avg < 2; avg++) {
        if (avg) { pd.kernel_h = pd.kernel_w = 2; pd.pad_top = pd.pad_bottom = pd.pad_left = pd.pad_right = 0; pd.ceil_mode = 1; }
        CHECK(fc_pool2d_output_shape(&pd, &OH, &OW) == FC_SUCCESS);
        np = (size_t)(2 * 3 * OH * OW);
        for (int i = 0; i < 2; i++) {
            CHECK((avg ? fc_avg_pool2d_workspace_size : fc_max_pool2d_workspace_size)(&pd, passes[i], &ws) == FC_SUCCESS && ws > 0);
            char *buf = malloc(ws);
            if (i == 0) {
                if (avg) {
                    CHECK(fc_avg_pool2d_forward_ws(&pd, x, y1, buf, ws - 1) == FC_INVALID_WORKSPACE);
                    CHECK(fc_avg_pool2d_forward_ws(&pd, x, y1, buf, ws) == FC_SUCCESS);
                    CHECK(fc_avg_pool2d_forward(&pd, x, y2) == FC_SUCCESS);
                } else {
                    CHECK(fc_max_pool2d_forward_ws(&pd, x, y1, idx, buf, ws - 1) == FC_INVALID_WORKSPACE);
                    CHECK(fc_max_pool2d_forward_ws(&pd, x, y1, idx, buf, ws) == FC_SUCCESS);
                    CHECK(fc_max_pool2d_forward(&pd, x, y2, NULL) == FC_SUCCESS);
                }
                CHECK(memcmp(y1, y2, np * 4) == 0);
            } else {
                if (avg) {
                    CHECK(fc_avg_pool2d_backward_ws(&pd, gy, g1, buf, ws) == FC_SUCCESS);
                    CHECK(fc_avg_pool2d_backward(&pd, gy, g2) == FC_SUCCESS);
                } else {
                    CHECK(fc_max_pool2d_backward_ws(&pd, gy, x, NULL, g1, buf, ws - 1) == FC_INVALID_WORKSPACE);
                    CHECK(fc_max_pool2d_backward_ws(&pd, gy, x, NULL, g1, buf, ws) == FC_SUCCESS);
                    CHECK(fc_max_pool2d_backward(&pd, gy, x, NULL, g2) == FC_SUCCESS);
                }
                CHECK(memcmp(g1, g2, nx * 4) == 0);
            }
            free(buf);
        }
    }
    CHECK(fc_max_pool2d_workspace_size(&pd, FC_PASS_BACKWARD_WEIGHTS, &ws) == FC_INVALID_ARGUMENT);

    /* global pooling in the descriptor shape */
    fc_global_pool2d_desc gd = {2, 3, 11, 9};
    CHECK(fc_global_pool2d_output_shape(&gd, &OH, &OW) == FC_SUCCESS && OH == 1 && OW == 1);
    CHECK(fc_global_pool2d_workspace_size(&gd, FC_PASS_FORWARD, &ws) == FC_SUCCESS && ws == 0);
    CHECK(fc_global_avg_pool2d_forward_ws(&gd, x, y1, NULL, 0) == FC_SUCCESS);
    CHECK(fc_global_avg_pool2d_forward(2, 3, 11, 9, x, y2) == FC_SUCCESS);
    CHECK(memcmp(y1, y2, 6 * 4) == 0);
    CHECK(fc_global_max_pool2d_forward_ws(&gd, x, y1, NULL, 0) == FC_SUCCESS);
    CHECK(fc_global_max_pool2d_backward_ws(&gd, y1, x, g1, NULL, 0) == FC_SUCCESS);
    CHECK(fc_global_avg_pool2d_backward_ws(&gd, y1, g1, NULL, 0) == FC_SUCCESS);
    gd.H = 0;
    CHECK(fc_global_pool2d_workspace_size(&gd, FC_PASS_FORWARD, &ws) == FC_INVALID_SHAPE);
    CHECK(fc_global_avg_pool2d_forward_ws(&gd, x, y1, NULL, 0) == FC_INVALID_SHAPE);
    free(x); free(w); free(b); free(gy); free(y1); free(y2); free(g1); free(g2); free(idx);
    printf("ok\n");
    return 0;
}

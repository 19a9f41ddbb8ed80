/* The elementwise entry points: argument checks (NULL, n < 0, unknown kind, p out of
 * [0, 1]), n == 0 touching nothing, in place equal to out of place, dropout masks
 * identical on every table and thread count, bias add and grad on odd sizes. An
 * optional argument caps the sizes (valgrind runs pass 8). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastconv.h"

#define CHECK(c) do { if (!(c)) { printf("FAIL %s:%d %s\n", __FILE__, __LINE__, #c); return 1; } } while (0)

static float rnd(unsigned *s) { *s = *s * 1103515245u + 12345u; return ((*s >> 9) & 0xffff) / 4096.0f - 8.0f; }

int main(int argc, char **argv) {
    int64_t n = argc > 1 ? 4099 : 70001;  /* odd; above the threading threshold */
    unsigned seed = 9;
    float *x = malloc(n * 4), *y = malloc(n * 4), *y2 = malloc(n * 4), *g = malloc(n * 4);
    float *gx = malloc(n * 4);
    uint8_t *m1 = malloc((n + 7) / 8), *m2 = malloc((n + 7) / 8);
    for (int64_t i = 0; i < n; i++) { x[i] = rnd(&seed); g[i] = rnd(&seed); }

    CHECK(fc_activation_forward((fc_activation)99, 0, n, x, y) == FC_INVALID_ARGUMENT);
    CHECK(fc_activation_forward(FC_ACTIVATION_TANH, 0, -1, x, y) == FC_INVALID_SHAPE);
    CHECK(fc_activation_forward(FC_ACTIVATION_TANH, 0, n, NULL, y) == FC_INVALID_ARGUMENT);
    CHECK(fc_activation_forward(FC_ACTIVATION_TANH, 0, 0, NULL, NULL) == FC_SUCCESS);
    CHECK(fc_activation_backward(FC_ACTIVATION_GELU, 0, n, x, NULL, gx) == FC_INVALID_ARGUMENT);
    CHECK(fc_add(n, x, NULL, y) == FC_INVALID_ARGUMENT);
    CHECK(fc_add_relu(-3, x, x, y) == FC_INVALID_SHAPE);
    CHECK(fc_dropout_forward(n, 1.5, 0, x, y, m1) == FC_INVALID_ARGUMENT);
    CHECK(fc_dropout_forward(n, NAN, 0, x, y, m1) == FC_INVALID_ARGUMENT);
    CHECK(fc_dropout_backward(n, 0.5, NULL, g, gx) == FC_INVALID_ARGUMENT);
    CHECK(fc_bias_add_nchw(2, -1, 3, x, y) == FC_INVALID_SHAPE);
    CHECK(fc_bias_grad_nchw(INT64_MAX, 2, 2, g, gx) == FC_SIZE_OVERFLOW);

    fc_isa isas[3] = {FC_ISA_PORTABLE, FC_ISA_AVX2, FC_ISA_AVX512};
    fc_isa before = fc_get_isa();
    for (int k = 0; k < 6; k++) {
        fc_activation kind = (fc_activation)k;
        for (int ii = 0; ii < 3; ii++) {
            if (fc_set_isa(isas[ii]) != FC_SUCCESS) continue;
            CHECK(fc_activation_forward(kind, 0.1f, n, x, y) == FC_SUCCESS);
            memcpy(y2, x, n * 4);
            CHECK(fc_activation_forward(kind, 0.1f, n, y2, y2) == FC_SUCCESS);
            CHECK(memcmp(y, y2, n * 4) == 0);
            for (int64_t i = 0; i < n; i++) CHECK(!isnan(y[i]));
            const float *v = (k == 0 || k == 2 || k == 3) ? y : x;
            CHECK(fc_activation_backward(kind, 0.1f, n, v, g, gx) == FC_SUCCESS);
            memcpy(y2, g, n * 4);
            CHECK(fc_activation_backward(kind, 0.1f, n, v, y2, y2) == FC_SUCCESS);
            CHECK(memcmp(gx, y2, n * 4) == 0);
        }
    }
    for (int ii = 0; ii < 3; ii++) {
        if (fc_set_isa(isas[ii]) != FC_SUCCESS) continue;
        for (int t = 1; t <= 2; t++) {
            CHECK(fc_set_num_threads(t) == FC_SUCCESS);
            CHECK(fc_dropout_forward(n, 0.25, 77, x, y, ii || t > 1 ? m2 : m1) == FC_SUCCESS);
            if (ii || t > 1) CHECK(memcmp(m1, m2, (n + 7) / 8) == 0);
            int64_t kept = 0;
            for (int64_t i = 0; i < n; i++) {
                int bit = (m1[i / 8] >> (i % 8)) & 1;
                kept += bit;
                CHECK(y[i] == (bit ? x[i] * (1.0f / 0.75f) : 0.0f * x[i]));
            }
            CHECK(kept > n * 0.7 && kept < n * 0.8);
            CHECK(fc_dropout_backward(n, 0.25, m1, g, gx) == FC_SUCCESS);
            for (int64_t i = 0; i < n; i++)
                CHECK(gx[i] == g[i] * (((m1[i / 8] >> (i % 8)) & 1) ? 1.0f / 0.75f : 0.0f));
            CHECK(fc_add_relu(n, x, g, y) == FC_SUCCESS);
            for (int64_t i = 0; i < n; i++) CHECK(y[i] == fmaxf(x[i] + g[i], 0.0f));
            /* bias: N=3, C=7, HW=n/21 */
            int64_t C = 7, HW = n / 21;
            memcpy(y, x, n * 4);
            CHECK(fc_bias_add_nchw(3, C, HW, g, y) == FC_SUCCESS);
            for (int64_t i = 0; i < 3 * C * HW; i++) CHECK(y[i] == x[i] + g[(i / HW) % C]);
            float gb[7];
            CHECK(fc_bias_grad_nchw(3, C, HW, x, gb) == FC_SUCCESS);
            for (int64_t c = 0; c < C; c++) {
                double s = 0;
                for (int64_t nn = 0; nn < 3; nn++)
                    for (int64_t i = 0; i < HW; i++) s += x[(nn * C + c) * HW + i];
                CHECK(fabs(gb[c] - s) <= 1e-4 * (1 + fabs(s)));
            }
        }
    }
    fc_set_isa(before);
    free(x); free(y); free(y2); free(g); free(gx); free(m1); free(m2);
    printf("eltwise api: ok\n");
    return 0;
}

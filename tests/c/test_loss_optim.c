/* Softmax cross-entropy and the multi-tensor optimizer updates through the C API, on
 * every runnable ISA table: values against a double reference, a bad label rejected
 * before anything is written, grad_logits in place over probs, and tensors of odd
 * sizes (one empty, NULL) split across threads. Optional argv[1]: unused (valgrind). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastconv.h"

#define CHECK(c) do { if (!(c)) { printf("FAIL %s:%d %s\n", __FILE__, __LINE__, #c); return 1; } } while (0)

static float rnd(unsigned *s) { *s = *s * 1103515245u + 12345u; return ((*s >> 9) & 0xffff) / 32768.0f - 1.0f; }

static int test_xent(unsigned *seed) {
    enum { N = 7, K = 13 };
    float z[N * K], p[N * K], g[N * K], g2[N * K], loss[N], mean;
    int64_t t[N];
    for (int i = 0; i < N * K; i++) z[i] = 4.0f * rnd(seed);
    for (int i = 0; i < N; i++) t[i] = (i * 5) % K;
    CHECK(fc_softmax_cross_entropy_forward(N, K, z, t, FC_REDUCTION_NONE, loss, p) == FC_SUCCESS);
    CHECK(fc_softmax_cross_entropy_forward(N, K, z, t, FC_REDUCTION_MEAN, &mean, NULL) == FC_SUCCESS);
    double sum = 0;
    for (int i = 0; i < N; i++) {
        double m = z[i * K], s = 0;
        for (int k = 0; k < K; k++) m = fmax(m, z[i * K + k]);
        for (int k = 0; k < K; k++) s += exp(z[i * K + k] - m);
        double want = log(s) + m - z[i * K + t[i]];
        CHECK(fabs(loss[i] - want) < 1e-5 * (1 + fabs(want)));
        sum += want;
    }
    CHECK(fabs(mean - sum / N) < 1e-5);
    /* backward: recomputed from logits == from probs; in place over probs */
    float one = 1.0f;
    CHECK(fc_softmax_cross_entropy_backward(N, K, z, NULL, t, FC_REDUCTION_MEAN, &one, g) == FC_SUCCESS);
    CHECK(fc_softmax_cross_entropy_backward(N, K, NULL, p, t, FC_REDUCTION_MEAN, &one, p) == FC_SUCCESS);
    memcpy(g2, p, sizeof g2);
    for (int i = 0; i < N * K; i++) CHECK(fabsf(g[i] - g2[i]) < 1e-6f);
    /* a bad label: nothing written */
    t[3] = K;
    memset(g, 0x7f, sizeof g);
    loss[0] = 12345.0f;
    CHECK(fc_softmax_cross_entropy_forward(N, K, z, t, FC_REDUCTION_NONE, loss, g) == FC_INVALID_ARGUMENT);
    CHECK(loss[0] == 12345.0f && g[0] > 1e30f);
    CHECK(fc_softmax_cross_entropy_backward(N, K, z, NULL, t, FC_REDUCTION_SUM, &one, g) == FC_INVALID_ARGUMENT);
    CHECK(g[0] > 1e30f);
    t[3] = -1;
    CHECK(fc_softmax_cross_entropy_forward(N, K, z, t, FC_REDUCTION_SUM, loss, NULL) == FC_INVALID_ARGUMENT);
    t[3] = 0;
    CHECK(fc_softmax_cross_entropy_forward(N, K, z, t, (fc_reduction)9, loss, NULL) == FC_INVALID_ARGUMENT);
    CHECK(fc_softmax_cross_entropy_forward(N, 0, z, t, FC_REDUCTION_SUM, loss, NULL) == FC_INVALID_SHAPE);
    CHECK(fc_softmax_cross_entropy_forward(0, K, NULL, NULL, FC_REDUCTION_MEAN, &mean, NULL) == FC_SUCCESS);
    CHECK(isnan(mean));
    return 0;
}

static int test_optim(unsigned *seed) {
    enum { T = 4 };
    int64_t sizes[T] = {5, 0, 40001, 17};
    float *p[T], *g[T], *b[T], *m[T], *v[T], *vm[T];
    double *ref[T], *rbuf[T];
    for (int i = 0; i < T; i++) {
        size_t n = (size_t)sizes[i];
        p[i] = n ? malloc(n * 4) : NULL; g[i] = n ? malloc(n * 4) : NULL;
        b[i] = n ? malloc(n * 4) : NULL; m[i] = n ? calloc(n, 4) : NULL;
        v[i] = n ? calloc(n, 4) : NULL; vm[i] = n ? calloc(n, 4) : NULL;
        ref[i] = n ? malloc(n * 8) : NULL; rbuf[i] = n ? malloc(n * 8) : NULL;
        for (size_t j = 0; j < n; j++) { p[i][j] = rnd(seed); g[i][j] = rnd(seed); ref[i][j] = p[i][j]; }
    }
    const float lr = 0.1f, mom = 0.9f, wd = 0.01f;
    for (int step = 0; step < 3; step++) {
        CHECK(fc_sgd_update(T, p, (const float *const *)g, b, sizes, lr, mom, 0.0f, wd, 1, step == 0) == FC_SUCCESS);
        for (int i = 0; i < T; i++)
            for (int64_t j = 0; j < sizes[i]; j++) {
                double d = g[i][j] + (double)wd * ref[i][j];
                rbuf[i][j] = step == 0 ? d : mom * rbuf[i][j] + d;
                ref[i][j] -= lr * (d + mom * rbuf[i][j]);
            }
    }
    for (int i = 0; i < T; i++)
        for (int64_t j = 0; j < sizes[i]; j++) CHECK(fabs(p[i][j] - ref[i][j]) < 1e-5);
    CHECK(fc_sgd_update(T, p, (const float *const *)g, NULL, sizes, lr, mom, 0.0f, wd, 0, 0) == FC_INVALID_ARGUMENT);
    CHECK(fc_sgd_update(T, p, (const float *const *)g, b, sizes, lr, mom, 0.5f, wd, 1, 0) == FC_INVALID_ARGUMENT);
    CHECK(fc_sgd_update(0, NULL, NULL, NULL, NULL, lr, 0.0f, 0.0f, 0.0f, 0, 0) == FC_SUCCESS);
    int64_t bad[T] = {5, -1, 3, 3};
    CHECK(fc_sgd_update(T, p, (const float *const *)g, b, bad, lr, 0.0f, 0.0f, 0.0f, 0, 0) == FC_INVALID_SHAPE);

    for (int i = 0; i < T; i++)
        for (int64_t j = 0; j < sizes[i]; j++) ref[i][j] = p[i][j];
    for (int step = 1; step <= 3; step++)
        CHECK(fc_adam_update(T, p, (const float *const *)g, m, v, vm, sizes, step, 1e-2f, 0.9f,
                             0.999f, 1e-8f, wd, 1, 1) == FC_SUCCESS);
    /* g is constant, so m / sqrt(vmax) stays 1 after the corrections: every step moves
     * p by lr * sign(g) (up to eps), after the decoupled decay */
    for (int i = 0; i < T; i++)
        for (int64_t j = 0; j < sizes[i]; j++) {
            double q = ref[i][j];
            for (int s = 0; s < 3; s++) q = q * (1 - 1e-2 * wd) - 1e-2 * (g[i][j] > 0 ? 1 : -1);
            if (fabs(g[i][j]) > 1e-3) CHECK(fabs(p[i][j] - q) < 1e-5);
        }
    CHECK(fc_adam_update(T, p, (const float *const *)g, m, v, vm, sizes, 0, 1e-2f, 0.9f, 0.999f, 1e-8f, 0.0f, 0, 0) == FC_INVALID_ARGUMENT);
    CHECK(fc_adam_update(T, p, (const float *const *)g, m, v, NULL, sizes, 1, 1e-2f, 0.9f, 0.999f, 1e-8f, 0.0f, 0, 1) == FC_INVALID_ARGUMENT);
    CHECK(fc_adam_update(T, p, (const float *const *)g, m, v, vm, sizes, 1, 1e-2f, 1.0f, 0.999f, 1e-8f, 0.0f, 0, 0) == FC_INVALID_ARGUMENT);
    for (int i = 0; i < T; i++) {
        free(p[i]); free(g[i]); free(b[i]); free(m[i]); free(v[i]); free(vm[i]);
        free(ref[i]); free(rbuf[i]);
    }
    return 0;
}

int main(int argc, char **argv) {
    (void)argc, (void)argv;
    unsigned seed = 11;
    fc_isa isas[3] = {FC_ISA_PORTABLE, FC_ISA_AVX2, FC_ISA_AVX512};
    fc_isa before = fc_get_isa();
    for (int i = 0; i < 3; i++) {
        if (fc_set_isa(isas[i]) != FC_SUCCESS) continue;
        for (int threads = 1; threads <= 2; threads++) {
            CHECK(fc_set_num_threads(threads) == FC_SUCCESS);
            if (test_xent(&seed) || test_optim(&seed)) {
                printf("  (isa %s, %d threads)\n", fc_isa_name(isas[i]), threads);
                return 1;
            }
        }
    }
    fc_set_isa(before);
    printf("test_loss_optim: ok\n");
    return 0;
}

/* TEMPORARY stand-in for fc_sgemm so the Winograd branch builds and tests alone; the
 * real BLIS-style SGEMM replaces this file at merge. Correct for every argument
 * combination; only the no-transpose case is vectorized (4x32 register block on
 * AVX-512), the rest is plain loops. Serial: callers parallelize around it. */
#include <stdlib.h>

#include "core/internal.h"

static void scale_c(int64_t M, int64_t N, float beta, float *C, int64_t ldc) {
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
}

static void gemm_generic(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha,
                         const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                         float *C, int64_t ldc) {
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            float acc = 0.0f;
            for (int64_t k = 0; k < K; k++)
                acc += (ta ? A[k * lda + i] : A[i * lda + k]) * (tb ? B[j * ldb + k] : B[k * ldb + j]);
            C[i * ldc + j] = alpha * acc + (beta == 0.0f ? 0.0f : beta * C[i * ldc + j]);
        }
}

typedef float v16 __attribute__((vector_size(64)));

__attribute__((target("avx512f,fma"))) static void
gemm_nn_avx512(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
               const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    int64_t M4 = M / 4 * 4, N32 = N / 32 * 32;
    for (int64_t j = 0; j < N32; j += 32)
        for (int64_t i = 0; i < M4; i += 4) {
            v16 acc[4][2] = {{{0}}};
            for (int64_t k = 0; k < K; k++) {
                v16 b0, b1;
                __builtin_memcpy(&b0, B + k * ldb + j, 64);
                __builtin_memcpy(&b1, B + k * ldb + j + 16, 64);
                for (int r = 0; r < 4; r++) {
                    float a = A[(i + r) * lda + k];
                    acc[r][0] += a * b0;
                    acc[r][1] += a * b1;
                }
            }
            for (int r = 0; r < 4; r++)
                for (int h = 0; h < 2; h++) {
                    float *c = C + (i + r) * ldc + j + 16 * h;
                    v16 v = alpha * acc[r][h];
                    if (beta != 0.0f) {
                        v16 old;
                        __builtin_memcpy(&old, c, 64);
                        v += beta * old;
                    }
                    __builtin_memcpy(c, &v, 64);
                }
        }
    /* column tail: the same kernel on a zero-padded copy of B's last columns */
    if (N32 < N) {
        int64_t nt = N - N32;
        float *bt = malloc((size_t)K * 32 * sizeof(float));
        float *ct = malloc((size_t)(M4 > 0 ? M4 : 1) * 32 * sizeof(float));
        if (bt && ct) {
            for (int64_t k = 0; k < K; k++)
                for (int64_t j = 0; j < 32; j++) bt[k * 32 + j] = j < nt ? B[k * ldb + N32 + j] : 0.0f;
            for (int64_t i = 0; i < M4; i++)
                for (int64_t j = 0; j < nt; j++) ct[i * 32 + j] = C[i * ldc + N32 + j];
            gemm_nn_avx512(M4, 32, K, alpha, A, lda, bt, 32, beta, ct, 32);
            for (int64_t i = 0; i < M4; i++)
                for (int64_t j = 0; j < nt; j++) C[i * ldc + N32 + j] = ct[i * 32 + j];
        }
        int done = bt && ct;
        free(bt);
        free(ct);
        if (!done)
            for (int64_t i = 0; i < M4; i++)
                for (int64_t j = N32; j < N; j++) {
                    float acc = 0.0f;
                    for (int64_t k = 0; k < K; k++) acc += A[i * lda + k] * B[k * ldb + j];
                    C[i * ldc + j] = alpha * acc + (beta == 0.0f ? 0.0f : beta * C[i * ldc + j]);
                }
    }
    /* row tail: rows >= M4, all columns */
    for (int64_t i = M4; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            float acc = 0.0f;
            for (int64_t k = 0; k < K; k++) acc += A[i * lda + k] * B[k * ldb + j];
            C[i * ldc + j] = alpha * acc + (beta == 0.0f ? 0.0f : beta * C[i * ldc + j]);
        }
}

/* C[i][:] += a * B[k][:] rows: auto-vectorized by the portable build. */
static void gemm_nn_rows(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                         const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    scale_c(M, N, beta, C, ldc);
    for (int64_t i = 0; i < M; i++)
        for (int64_t k = 0; k < K; k++) {
            float a = alpha * A[i * lda + k];
            float *c = C + i * ldc;
            const float *b = B + k * ldb;
            for (int64_t j = 0; j < N; j++) c[j] += a * b[j];
        }
}

fc_status fc_sgemm(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                   const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                   int64_t ldc) {
    if (M < 0 || N < 0 || K < 0) return FC_INVALID_SHAPE;
    if (M == 0 || N == 0) return FC_SUCCESS;
    if (!C || (K > 0 && (!A || !B))) return FC_INVALID_ARGUMENT;
    if (ldc < N || lda < (trans_a ? M : K) || ldb < (trans_b ? K : N)) return FC_INVALID_ARGUMENT;
    if (K == 0) {
        scale_c(M, N, beta, C, ldc);
        return FC_SUCCESS;
    }
    if (!trans_a && !trans_b) {
        if (fc_isa_active() == FC_ISA_AVX512)
            gemm_nn_avx512(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        else
            gemm_nn_rows(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return FC_SUCCESS;
    }
    gemm_generic(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return FC_SUCCESS;
}

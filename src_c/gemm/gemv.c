/* Unpacked small products: a few rows of C against a large B, and short K (Linear at
 * small batch: y = x W^T, gx = g W, gW = g^T x). The packed GEMM would copy all of B
 * (AlexNet's 9216 x 4096 weight: 151 MB) to use each element a few times; here B is
 * read once, in place, in contiguous rows.
 *
 *   dot  (B given transposed, A not): C[i][j] = <A row i, B row j>, B rows in pairs
 *        against blocks of 4 rows of A (Linear forward: B = W.T).
 *   axpy (B not transposed): C row i += sum_p op(A)[i][p] * B row p, B in column chunks
 *        of NB floats and row blocks of up to 16, so that the block of B stays in L2
 *        while every row of C takes it (gx = g W, and gW = g^T x with K = batch).
 *
 * Threads split N (W rows for dot, columns for axpy) in whole cache lines. */
#include "gemm.h"
#include "core/registry.h"

/* Rows of C up to which the unpacked paths replace packing, and the largest K of the
 * rank-k update at any M. Measured on AlexNet's classifier (README "Linear at small
 * batch"). */
#define FC_GEMV_MAX_ROWS 16
#define FC_GEMV_MAX_K 4
/* axpy blocking: columns per chunk (16 KiB per row) and B rows per block (up to
 * 256 KiB of B and, at M = 16, 256 KiB of C: both stay in the 1 MiB L2). */
#define FC_GEMV_NB 4096
#define FC_GEMV_KB 16

static int64_t g_max_rows = FC_GEMV_MAX_ROWS;

void fc_gemv_set_max_rows(int64_t m) { g_max_rows = m < 0 ? FC_GEMV_MAX_ROWS : m; }

/* [*j0, *j1): part t of nt of [0, N), cut at multiples of 16. */
static void split(int64_t N, int t, int nt, int64_t *j0, int64_t *j1) {
    int64_t units = fc_ceil_div(N, 16);
    *j0 = fc_min64(N, units * t / nt * 16);
    *j1 = fc_min64(N, units * (t + 1) / nt * 16);
}

static void dot_range(const fc_gemv_ukernels *k, const fc_gemm_args *g, int64_t j0,
                      int64_t j1) {
    k->dot(g->K, g->M, j1 - j0, g->A, g->lda, g->B + j0 * g->ldb, g->ldb, g->C + j0, g->ldc,
           g->alpha, g->beta);
}

static void axpy_range(const fc_gemv_ukernels *k, const fc_gemm_args *g, int64_t j0,
                       int64_t j1) {
    /* op(A)[i][p] = A[i * ai + p * ap] */
    int64_t ai = g->trans_a ? 1 : g->lda, ap = g->trans_a ? g->lda : 1;
    int acc = g->beta != 0.0f;
    if (acc && g->beta != 1.0f)
        for (int64_t i = 0; i < g->M; i++)
            for (int64_t j = j0; j < j1; j++) g->C[i * g->ldc + j] *= g->beta;
    for (int64_t jc = j0; jc < j1; jc += FC_GEMV_NB) {
        int64_t n = fc_min64(FC_GEMV_NB, j1 - jc);
        for (int64_t p0 = 0; p0 < g->K; p0 += FC_GEMV_KB) {
            int64_t kb = fc_min64(FC_GEMV_KB, g->K - p0);
            for (int64_t i = 0; i < g->M; i++)
                k->axpy(n, kb, g->alpha, g->A + i * ai + p0 * ap, ap, g->B + p0 * g->ldb + jc,
                        g->ldb, g->C + i * g->ldc + jc, acc || p0 > 0);
        }
    }
}

int fc_gemv_try(const fc_gemm_args *g, int threads) {
    const fc_gemv_ukernels *k = &fc_kernels_active()->gemv;
    int dot = g->trans_b && !g->trans_a && g->M <= g_max_rows;
    int axpy = !g->trans_b && g_max_rows > 0 &&
               (g->M <= g_max_rows || g->K <= FC_GEMV_MAX_K);
    if (!dot && !axpy) return 0;
    int nt = (int)fc_max64(1, fc_min64(threads, fc_ceil_div(g->N, 16)));
    if (nt == 1) {
        if (dot) dot_range(k, g, 0, g->N);
        else axpy_range(k, g, 0, g->N);
        return 1;
    }
    #pragma omp parallel for num_threads(nt) schedule(static, 1)
    for (int t = 0; t < nt; t++) {
        int64_t j0, j1;
        split(g->N, t, nt, &j0, &j1);
        if (j0 >= j1) continue;
        if (dot) dot_range(k, g, j0, j1);
        else axpy_range(k, g, j0, j1);
    }
    return 1;
}

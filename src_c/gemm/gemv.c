/* Unpacked small products: a few rows of C against a large B, and short K (Linear at
 * small batch: y = x W^T, gx = g W, gW = g^T x). The packed GEMM would copy all of B
 * (AlexNet's 9216 x 4096 weight: 151 MB) to use each element a few times; here B is
 * read from memory once, in place.
 *
 *   dot   (B given transposed, A not, M <= 4): C[i][j] = <A row i, B row j>, vectors
 *         along K, B rows in pairs against blocks of 4 rows of A (batch 1 inference).
 *   bcast (B given transposed, 4 < M <= 32): op(A)^T packed [K][mp] (mp = M rounded up
 *         to whole vectors), each B element broadcast against it: C^T in registers,
 *         rows of B in blocks of up to 8 (Linear forward: B = W.T).
 *   tile  (B as is, M <= 32 or K <= 4): register tiles of C (tile_mr rows x 2 vectors)
 *         from rows of B read in place, op(A) broadcast (gx = g W, and gW = g^T x at
 *         batch <= 4); the packed GEMM keeps gW at larger batch (as fast: it writes C
 *         once from the same 6 x 16 tiles, and its packing is small there).
 *   axpy  (B as is, M = 1 or K = 1): C rows += rows of B in blocks, B streamed row by
 *         row, which the prefetchers follow better than the tile kernel's strips, in
 *         fewer instructions at K = 1 (gx and gW at batch 1).
 *
 * Threads split N (W rows for dot and bcast, columns for tile at small M) in whole
 * cache lines, or the rows of C for tile at large M (gW: each thread writes its own
 * rows of the gradient). */
#include "gemm.h"
#include "core/registry.h"

/* Rows of C up to which the unpacked paths replace packing, rows up to which the dot
 * kernel serves the transposed-B product, and the largest K of the rank-k update at any
 * M. Measured on AlexNet's classifier (README "Linear at small batch"). */
#define FC_GEMV_MAX_ROWS 32
#define FC_GEMV_DOT_ROWS 4
#define FC_GEMV_MAX_K 4
/* bcast: bytes of the packed op(A)^T block one K block uses (kept in L2 beside the
 * streaming B). tile: K block at small M (the strip of B, kc x 2 vectors, stays in L1
 * across the row blocks of C) and the column block at large M (K x 2048 of B in L2). */
#define FC_GEMV_BCAST_BYTES (64 << 10)
#define FC_GEMV_TILE_KC 256
#define FC_GEMV_TILE_NC 2048
/* axpy blocking: columns per chunk (16 KiB per row of C) and B rows per pass over it. */
#define FC_GEMV_NB 4096
#define FC_GEMV_KB 16

static int64_t g_max_rows = FC_GEMV_MAX_ROWS;

void fc_gemv_set_max_rows(int64_t m) { g_max_rows = m < 0 ? FC_GEMV_MAX_ROWS : m; }

static int64_t round_up(int64_t a, int64_t b) { return fc_ceil_div(a, b) * b; }

/* [*j0, *j1): part t of nt of [0, N), cut at multiples of `unit`. */
static void split(int64_t N, int64_t unit, int t, int nt, int64_t *j0, int64_t *j1) {
    int64_t units = fc_ceil_div(N, unit);
    *j0 = fc_min64(N, units * t / nt * unit);
    *j1 = fc_min64(N, units * (t + 1) / nt * unit);
}

/* Equal blocks of at most `most` (a short last block would run a short loop). */
static int64_t block(int64_t K, int64_t most) {
    return fc_ceil_div(K, fc_ceil_div(K, fc_max64(1, most)));
}

/* ---- dot ---- */

static void dot_range(const fc_gemv_ukernels *k, const fc_gemm_args *g, int64_t j0,
                      int64_t j1) {
    k->dot(g->K, g->M, j1 - j0, g->A, g->lda, g->B + j0 * g->ldb, g->ldb, g->C + j0, g->ldc,
           g->alpha, g->beta);
}

/* ---- bcast ---- */

/* op(A) rows in chunks of mp (up to 4 vectors), each packed as [K][mp], zero-padded. */
typedef struct bcast_plan {
    int64_t mp, chunks, kc;
    float *xp;
} bcast_plan;

static void bcast_pack(const fc_gemm_args *g, const bcast_plan *p) {
    for (int64_t ch = 0; ch < p->chunks; ch++) {
        float *d = p->xp + ch * g->K * p->mp;
        int64_t i0 = ch * p->mp, mi = fc_min64(p->mp, g->M - i0);
        for (int64_t k = 0; k < g->K; k++) {
            float *dk = d + k * p->mp;
            int64_t i = 0;
            if (g->trans_a) /* op(A)[i][k] = A[k * lda + i] */
                for (; i < mi; i++) dk[i] = g->A[k * g->lda + i0 + i];
            else
                for (; i < mi; i++) dk[i] = g->A[(i0 + i) * g->lda + k];
            for (; i < p->mp; i++) dk[i] = 0.0f;
        }
    }
}

static void bcast_range(const fc_gemv_ukernels *k, const fc_gemm_args *g, const bcast_plan *p,
                        int64_t j0, int64_t j1) {
    for (int64_t ch = 0; ch < p->chunks; ch++) {
        int64_t i0 = ch * p->mp, mi = fc_min64(p->mp, g->M - i0);
        const float *xp = p->xp + ch * g->K * p->mp;
        for (int64_t pc = 0; pc < g->K; pc += p->kc)
            k->bcast(fc_min64(p->kc, g->K - pc), mi, j1 - j0, xp + pc * p->mp, p->mp,
                     g->B + j0 * g->ldb + pc, g->ldb, g->C + i0 * g->ldc + j0, g->ldc,
                     g->alpha, pc == 0 ? g->beta : 1.0f);
    }
}

static int bcast_run(const fc_gemv_ukernels *k, const fc_gemm_args *g, int threads) {
    bcast_plan p;
    p.mp = fc_min64(4 * (int64_t)k->vl, round_up(g->M, k->vl));
    p.chunks = fc_ceil_div(g->M, p.mp);
    p.kc = block(g->K, FC_GEMV_BCAST_BYTES / (p.mp * (int64_t)sizeof(float)));
    size_t need = 0;
    int64_t floats;
    if (!fc_mul_ok(g->K, p.mp * p.chunks, &floats) || !fc_ws_add(&need, floats, sizeof(float)))
        return 0; /* the packed GEMM reports the size */
    FC_ARENA(ws);
    if (fc_workspace_open(NULL, 0, need, &ws) != FC_SUCCESS) return 0;
    p.xp = (float *)fc_arena_alloc(&ws, (size_t)floats * sizeof(float));
    if (!p.xp) return 0;
    bcast_pack(g, &p);
    int nt = (int)fc_max64(1, fc_min64(threads, fc_ceil_div(g->N, 16)));
    if (nt == 1) {
        bcast_range(k, g, &p, 0, g->N);
        return 1;
    }
    #pragma omp parallel for num_threads(nt) schedule(static, 1)
    for (int t = 0; t < nt; t++) {
        int64_t j0, j1;
        split(g->N, 16, t, nt, &j0, &j1);
        if (j0 < j1) bcast_range(k, g, &p, j0, j1);
    }
    return 1;
}

/* ---- axpy (B streamed row by row) ---- */

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

/* ---- tile ---- */

/* C rows [i0, i1) x columns [j0, j1). Few rows: K blocks outer (every row of C in each
 * call, the strip of B shared by them from L1); many rows (short K): column blocks
 * outer, then one tile height of rows at a time, so that C is written row by row. */
static void tile_range(const fc_gemv_ukernels *k, const fc_gemm_args *g, int64_t i0,
                       int64_t i1, int64_t j0, int64_t j1) {
    int64_t ai = g->trans_a ? 1 : g->lda, ap = g->trans_a ? g->lda : 1;
    if (i1 - i0 <= FC_GEMV_MAX_ROWS) {
        int64_t kc = block(g->K, FC_GEMV_TILE_KC);
        for (int64_t pc = 0; pc < g->K; pc += kc)
            k->tile(fc_min64(kc, g->K - pc), i1 - i0, j1 - j0, g->A + i0 * ai + pc * ap, ai, ap,
                    g->B + pc * g->ldb + j0, g->ldb, g->C + i0 * g->ldc + j0, g->ldc, g->alpha,
                    pc == 0 ? g->beta : 1.0f);
        return;
    }
    for (int64_t jc = j0; jc < j1; jc += FC_GEMV_TILE_NC) {
        int64_t nc = fc_min64(FC_GEMV_TILE_NC, j1 - jc);
        for (int64_t i = i0; i < i1; i += k->tile_mr)
            k->tile(g->K, fc_min64(k->tile_mr, i1 - i), nc, g->A + i * ai, ai, ap,
                    g->B + jc, g->ldb, g->C + i * g->ldc + jc, g->ldc, g->alpha, g->beta);
    }
}

static int tile_run(const fc_gemv_ukernels *k, const fc_gemm_args *g, int threads) {
    /* Many rows: threads take rows of C (whole tiles); few: columns (pairs of vectors). */
    int by_rows = g->M > FC_GEMV_MAX_ROWS && g->K > 1;
    int64_t unit = by_rows ? k->tile_mr : 2 * (int64_t)k->vl;
    int64_t len = by_rows ? g->M : g->N;
    int nt = (int)fc_max64(1, fc_min64(threads, fc_ceil_div(len, unit)));
    int axpy = g->M == 1 || g->K == 1;
    if (nt == 1) {
        if (axpy) axpy_range(k, g, 0, g->N);
        else tile_range(k, g, 0, g->M, 0, g->N);
        return 1;
    }
    #pragma omp parallel for num_threads(nt) schedule(static, 1)
    for (int t = 0; t < nt; t++) {
        int64_t a0, a1;
        split(len, unit, t, nt, &a0, &a1);
        if (a0 >= a1) continue;
        if (axpy) axpy_range(k, g, a0, a1);
        else if (by_rows) tile_range(k, g, a0, a1, 0, g->N);
        else tile_range(k, g, 0, g->M, a0, a1);
    }
    return 1;
}

int fc_gemv_try(const fc_gemm_args *g, int threads) {
    const fc_gemv_ukernels *k = &fc_kernels_active()->gemv;
    if (g_max_rows <= 0) return 0;
    if (g->trans_b) {
        if (g->M > g_max_rows) return 0;
        if (g->M <= FC_GEMV_DOT_ROWS && !g->trans_a) {
            int nt = (int)fc_max64(1, fc_min64(threads, fc_ceil_div(g->N, 16)));
            if (nt == 1) {
                dot_range(k, g, 0, g->N);
                return 1;
            }
            #pragma omp parallel for num_threads(nt) schedule(static, 1)
            for (int t = 0; t < nt; t++) {
                int64_t j0, j1;
                split(g->N, 16, t, nt, &j0, &j1);
                if (j0 < j1) dot_range(k, g, j0, j1);
            }
            return 1;
        }
        return bcast_run(k, g, threads);
    }
    if (g->M <= g_max_rows || g->K <= FC_GEMV_MAX_K) return tile_run(k, g, threads);
    return 0;
}

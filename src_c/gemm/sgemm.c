/* Packed SGEMM: BLIS's five loops around a register-blocked micro-kernel.
 *
 *   jc: NC columns of B/C   (B block KC x NC packed once, lives in L2/L3)
 *    pc: KC of the inner dimension
 *     ic: MC rows of A/C    (A block MC x KC packed, lives in L2)
 *      jr: NR columns       (B micro-panel KC x NR, reused from L1 across ir)
 *       ir: MR rows         -> micro-kernel, MR x NR of C in registers
 *
 * Blocking for this machine (Zen, 32-48 KiB L1d and 1 MiB L2 per core, 32 MiB L3):
 * KC = 256 keeps the AVX-512 B micro-panel (256 x 32 floats = 32 KiB) plus a stream of
 * A in L1 on the 48 KiB L1d; MC = 192 keeps the A block (192 x 256 floats = 192 KiB)
 * well inside L2 next to the B micro-panels; NC = 3072 bounds the packed B block
 * (3 MiB per thread) in L3. Values were tuned by measurement (see README).
 *
 * Threads: C is cut into a grid of tm x tn rectangles (aligned to MR/NR), one per
 * thread, each thread packing its own panels: no barriers, and both threads stay busy
 * for small M (the grid then splits N) or small N (it splits M). */
#include <string.h>

#include "gemm.h"

typedef struct gemm_kernel {
    fc_gemm_ukernel_fn fn;
    int64_t mr, nr;     /* register tile */
    int64_t mc, kc, nc; /* cache blocks: mc % mr == 0, nc % nr == 0 */
} gemm_kernel;

static const gemm_kernel k_avx512 = {fc_f32_gemm_ukernel_8x32__avx512, 8, 32, 192, 256, 3072};
static const gemm_kernel k_avx2 = {fc_f32_gemm_ukernel_6x16__avx2, 6, 16, 144, 256, 3072};
static const gemm_kernel k_portable = {fc_f32_gemm_ukernel_4x8__portable, 4, 8, 128, 256, 2048};

static const gemm_kernel *gemm_kernel_active(void) {
    switch (fc_isa_active()) {
    case FC_ISA_AVX512: return &k_avx512;
    case FC_ISA_AVX2: return &k_avx2;
    default: return &k_portable;
    }
}

/* Largest micro-tile of any kernel (for the edge scratch tile). */
#define FC_GEMM_TILE_MAX (8 * 32)

static int64_t round_up(int64_t a, int64_t b) { return fc_ceil_div(a, b) * b; }

/* Packs rows [0, mc) x cols [0, kc) of op(A) (starting at `a`) into MR-row panels
 * [kc][mr], zero-padding the last panel. */
static void pack_a(const gemm_kernel *k, int trans, const float *a, int64_t lda, int64_t mc,
                   int64_t kc, float *restrict dst) {
    const int64_t mr = k->mr;
    for (int64_t i0 = 0; i0 < mc; i0 += mr, dst += mr * kc) {
        int64_t m = fc_min64(mr, mc - i0);
        if (trans) { /* op(A)[i][p] = a[p * lda + i]: contiguous rows of mr */
            for (int64_t p = 0; p < kc; p++) {
                const float *s = a + p * lda + i0;
                float *d = dst + p * mr;
                int64_t i = 0;
                for (; i < m; i++) d[i] = s[i];
                for (; i < mr; i++) d[i] = 0.0f;
            }
        } else {
            for (int64_t i = 0; i < m; i++) {
                const float *s = a + (i0 + i) * lda;
                float *d = dst + i;
                for (int64_t p = 0; p < kc; p++) d[p * mr] = s[p];
            }
            for (int64_t i = m; i < mr; i++)
                for (int64_t p = 0; p < kc; p++) dst[p * mr + i] = 0.0f;
        }
    }
}

/* Packs rows [0, kc) x cols [0, nc) of op(B) into NR-column panels [kc][nr]. */
static void pack_b(const gemm_kernel *k, int trans, const float *b, int64_t ldb, int64_t kc,
                   int64_t nc, float *restrict dst) {
    const int64_t nr = k->nr;
    for (int64_t j0 = 0; j0 < nc; j0 += nr, dst += nr * kc) {
        int64_t n = fc_min64(nr, nc - j0);
        if (!trans) { /* op(B)[p][j] = b[p * ldb + j] */
            if (n == nr) {
                for (int64_t p = 0; p < kc; p++)
                    memcpy(dst + p * nr, b + p * ldb + j0, (size_t)nr * sizeof(float));
            } else {
                for (int64_t p = 0; p < kc; p++) {
                    const float *s = b + p * ldb + j0;
                    float *d = dst + p * nr;
                    int64_t j = 0;
                    for (; j < n; j++) d[j] = s[j];
                    for (; j < nr; j++) d[j] = 0.0f;
                }
            }
        } else { /* op(B)[p][j] = b[j * ldb + p] */
            for (int64_t j = 0; j < n; j++) {
                const float *s = b + (j0 + j) * ldb;
                float *d = dst + j;
                for (int64_t p = 0; p < kc; p++) d[p * nr] = s[p];
            }
            for (int64_t j = n; j < nr; j++)
                for (int64_t p = 0; p < kc; p++) dst[p * nr + j] = 0.0f;
        }
    }
}

/* C = beta * C on an m x n block (beta == 0 writes zeros without reading). */
static void scale_c(float *c, int64_t ldc, int64_t m, int64_t n, float beta) {
    for (int64_t i = 0; i < m; i++) {
        float *r = c + i * ldc;
        if (beta == 0.0f)
            memset(r, 0, (size_t)n * sizeof(float));
        else
            for (int64_t j = 0; j < n; j++) r[j] *= beta;
    }
}

/* Per-thread packing buffer sizes (floats) for a region of at most m x n. */
static void buf_floats(const gemm_kernel *k, int64_t m, int64_t n, int64_t K, int64_t *fa,
                       int64_t *fb) {
    int64_t kc = fc_min64(k->kc, K);
    *fa = round_up(fc_min64(k->mc, m), k->mr) * kc;
    *fb = round_up(fc_min64(k->nc, n), k->nr) * kc;
}

/* The product restricted to C rows [m0, m1) and columns [n0, n1), in this thread. */
static void gemm_region(const gemm_kernel *k, const fc_gemm_args *g, int64_t m0, int64_t m1,
                        int64_t n0, int64_t n1, float *pa, float *pb) {
    const int64_t mr = k->mr, nr = k->nr;
    float tile[FC_GEMM_TILE_MAX] __attribute__((aligned(64)));
    for (int64_t jc = n0; jc < n1; jc += k->nc) {
        int64_t nc = fc_min64(k->nc, n1 - jc);
        for (int64_t pc = 0; pc < g->K; pc += k->kc) {
            int64_t kc = fc_min64(k->kc, g->K - pc);
            float beta = pc == 0 ? g->beta : 1.0f;
            const float *bsrc = g->trans_b ? g->B + jc * g->ldb + pc : g->B + pc * g->ldb + jc;
            pack_b(k, g->trans_b, bsrc, g->ldb, kc, nc, pb);
            for (int64_t ic = m0; ic < m1; ic += k->mc) {
                int64_t mc = fc_min64(k->mc, m1 - ic);
                const float *asrc = g->trans_a ? g->A + pc * g->lda + ic : g->A + ic * g->lda + pc;
                pack_a(k, g->trans_a, asrc, g->lda, mc, kc, pa);
                for (int64_t jr = 0; jr < nc; jr += nr) {
                    int64_t n = fc_min64(nr, nc - jr);
                    const float *bp = pb + jr * kc;
                    for (int64_t ir = 0; ir < mc; ir += mr) {
                        int64_t m = fc_min64(mr, mc - ir);
                        float *c = g->C + (ic + ir) * g->ldc + jc + jr;
                        const float *ap = pa + ir * kc;
                        if (m == mr && n == nr) {
                            k->fn(kc, ap, bp, c, g->ldc, g->alpha, beta);
                            continue;
                        }
                        /* Edge: full tile into scratch, then merge the valid part. */
                        k->fn(kc, ap, bp, tile, nr, g->alpha, 0.0f);
                        for (int64_t i = 0; i < m; i++) {
                            float *cr = c + i * g->ldc;
                            const float *t = tile + i * nr;
                            if (beta == 0.0f)
                                for (int64_t j = 0; j < n; j++) cr[j] = t[j];
                            else
                                for (int64_t j = 0; j < n; j++) cr[j] = t[j] + beta * cr[j];
                        }
                    }
                }
            }
        }
    }
}

/* Below this many multiply-adds one thread beats the cost of waking another. */
#define FC_GEMM_MIN_PARALLEL (1 << 18)

int fc_gemm_threads(int64_t M, int64_t N, int64_t K) {
    int t = fc_threads();
    double work = (double)M * (double)N * (double)K;
    if (t > 1 && work < FC_GEMM_MIN_PARALLEL) t = 1;
    return t;
}

/* Splits threads into a tm x tn grid over the MR x NR tiles of C, minimizing the
 * tiles of the busiest thread (ties: split N, which keeps each thread's A block). */
static void thread_grid(const gemm_kernel *k, int64_t M, int64_t N, int t, int *tm, int *tn) {
    int64_t tiles_m = fc_ceil_div(M, k->mr), tiles_n = fc_ceil_div(N, k->nr);
    int64_t best = INT64_MAX;
    *tm = 1;
    *tn = 1;
    for (int a = 1; a <= t; a++) {
        if (t % a) continue;
        int b = t / a;
        if (a > tiles_m || b > tiles_n) continue;
        int64_t load = fc_ceil_div(tiles_m, a) * fc_ceil_div(tiles_n, b);
        if (load < best || (load == best && b > *tn)) {
            best = load;
            *tm = a;
            *tn = b;
        }
    }
}

size_t fc_gemm_workspace(int64_t M, int64_t N, int64_t K, int threads) {
    const gemm_kernel *k = gemm_kernel_active();
    int64_t fa, fb;
    if (M <= 0 || N <= 0 || K <= 0) return 0;
    buf_floats(k, M, N, K, &fa, &fb);
    size_t total = 0;
    for (int t = 0; t < threads; t++)
        if (!fc_ws_add(&total, fa, sizeof(float)) || !fc_ws_add(&total, fb, sizeof(float)))
            return SIZE_MAX;
    return total;
}

fc_status fc_gemm_run(const fc_gemm_args *g, int threads, fc_arena *ws) {
    const gemm_kernel *k = gemm_kernel_active();
    if (g->M <= 0 || g->N <= 0) return FC_SUCCESS;
    if (g->K <= 0 || g->alpha == 0.0f) { /* C = beta * C, A and B not read */
        scale_c(g->C, g->ldc, g->M, g->N, g->beta);
        return FC_SUCCESS;
    }
    int tm = 1, tn = 1;
    if (threads > 1) thread_grid(k, g->M, g->N, threads, &tm, &tn);
    int nt = tm * tn;
    int64_t fa, fb;
    buf_floats(k, g->M, g->N, g->K, &fa, &fb);
    float *bufs[2 * 64];
    float **pbufs = bufs;
    if (nt > 64) nt = 64, tm = 1, tn = 64; /* never reached with sane thread counts */
    for (int t = 0; t < nt; t++) {
        pbufs[2 * t] = (float *)fc_arena_alloc(ws, (size_t)fa * sizeof(float));
        pbufs[2 * t + 1] = (float *)fc_arena_alloc(ws, (size_t)fb * sizeof(float));
        if (!pbufs[2 * t] || !pbufs[2 * t + 1]) return FC_INVALID_WORKSPACE;
    }
    if (nt == 1) {
        gemm_region(k, g, 0, g->M, 0, g->N, pbufs[0], pbufs[1]);
        return FC_SUCCESS;
    }
    int64_t tiles_m = fc_ceil_div(g->M, k->mr), tiles_n = fc_ceil_div(g->N, k->nr);
    #pragma omp parallel for num_threads(nt) schedule(static, 1)
    for (int t = 0; t < nt; t++) {
        int a = t / tn, b = t % tn;
        int64_t m0 = fc_min64(g->M, (tiles_m * a / tm) * k->mr);
        int64_t m1 = fc_min64(g->M, (tiles_m * (a + 1) / tm) * k->mr);
        int64_t n0 = fc_min64(g->N, (tiles_n * b / tn) * k->nr);
        int64_t n1 = fc_min64(g->N, (tiles_n * (b + 1) / tn) * k->nr);
        if (m0 < m1 && n0 < n1) gemm_region(k, g, m0, m1, n0, n1, pbufs[2 * t], pbufs[2 * t + 1]);
    }
    return FC_SUCCESS;
}

fc_status fc_sgemm(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                   const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                   float *C, int64_t ldc) {
    if (M < 0 || N < 0 || K < 0) return FC_INVALID_SHAPE;
    if (M == 0 || N == 0) return FC_SUCCESS;
    if (!C) return FC_INVALID_ARGUMENT;
    if (ldc < N) return FC_INVALID_SHAPE;
    int64_t t;
    /* (rows - 1) * ld + cols elements, in bytes, every step checked: with a hostile
     * ld the sum alone can wrap to a small value and pass. */
    if (!fc_mul_ok(M - 1, ldc, &t) || __builtin_add_overflow(t, N, &t) ||
        !fc_mul_ok(t, (int64_t)sizeof(float), &t))
        return FC_SIZE_OVERFLOW;
    int need_ab = K > 0 && alpha != 0.0f;
    if (need_ab) {
        if (!A || !B) return FC_INVALID_ARGUMENT;
        int64_t ar = trans_a ? K : M, ac = trans_a ? M : K; /* A stored [ar][ac] */
        int64_t br = trans_b ? N : K, bc = trans_b ? K : N;
        if (lda < ac || ldb < bc) return FC_INVALID_SHAPE;
        if (!fc_mul_ok(ar - 1, lda, &t) || __builtin_add_overflow(t, ac, &t) ||
            !fc_mul_ok(t, (int64_t)sizeof(float), &t) ||
            !fc_mul_ok(br - 1, ldb, &t) || __builtin_add_overflow(t, bc, &t) ||
            !fc_mul_ok(t, (int64_t)sizeof(float), &t))
            return FC_SIZE_OVERFLOW;
    }
    fc_gemm_args g = {trans_a != 0, trans_b != 0, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc};
    int threads = need_ab ? fc_gemm_threads(M, N, K) : 1;
    size_t need = need_ab ? fc_gemm_workspace(M, N, K, threads) : 0;
    if (need == SIZE_MAX) return FC_SIZE_OVERFLOW;
    fc_arena ws;
    fc_status st = fc_workspace_open(NULL, 0, need, &ws);
    if (st != FC_SUCCESS) return st;
    return fc_gemm_run(&g, threads, &ws);
}

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
 * (3 MiB per thread) in L3. Values were tuned by measurement (see README); each ISA's
 * live beside its kernel in its registry table (core/registry.c).
 *
 * Threads: C is cut into a grid of tm x tn rectangles (aligned to MR/NR), one per
 * thread, each thread packing its own panels: no barriers, and both threads stay busy
 * for small M (the grid then splits N) or small N (it splits M). */
#include <string.h>

#include "gemm.h"
#include "core/registry.h"

/* The call's GEMM kernel and blocking (core/registry.c). */
typedef fc_gemm_config gemm_kernel;

static const gemm_kernel *gemm_kernel_active(void) { return &fc_kernels_active()->gemm; }

static int64_t round_up(int64_t a, int64_t b) { return fc_ceil_div(a, b) * b; }

/* Packs rows [0, mc) x cols [0, kc) of op(A) (starting at `a`) into MR-row panels
 * [kc][mr], zero-padding the last panel. */
static void pack_a(const gemm_kernel *k, int trans, const float *a, int64_t lda, int64_t mc,
                   int64_t kc, float *restrict dst) {
    const int64_t mr = k->mr;
    if (trans && mr == 8 && mc >= mr) {
        /* op(A)[i][p] = a[p * lda + i]: whole panels row by row, reading A sequentially. */
        int64_t full = mc / mr;
        for (int64_t p = 0; p < kc; p++) {
            const float *s = a + p * lda;
            float *d = dst + p * mr;
            for (int64_t q = 0; q < full; q++) memcpy(d + q * mr * kc, s + q * 8, 32);
        }
        if (full * mr == mc) return;
        a += full * mr;
        dst += full * mr * kc;
        mc -= full * mr;
    }
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
        } else if (m == mr && mr % 8 == 0 && k->pack_transposed) {
            k->pack_transposed(a + i0 * lda, lda, kc, mr, dst);
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
    if (!trans && (nr == 32 || nr == 16) && nc >= nr) {
        /* Whole panels row by row: B is read sequentially (a panel at a time would read
         * 128 bytes per row at a stride of ldb, which the prefetchers do not follow). */
        int64_t full = nc / nr;
        for (int64_t p = 0; p < kc; p++) {
            const float *s = b + p * ldb;
            float *d = dst + p * nr;
            if (nr == 32)
                for (int64_t q = 0; q < full; q++) memcpy(d + q * nr * kc, s + q * 32, 128);
            else
                for (int64_t q = 0; q < full; q++) memcpy(d + q * nr * kc, s + q * 16, 64);
        }
        if (full * nr == nc) return;
        b += full * nr;
        dst += full * nr * kc;
        nc -= full * nr;
    }
    for (int64_t j0 = 0; j0 < nc; j0 += nr, dst += nr * kc) {
        int64_t n = fc_min64(nr, nc - j0);
        if (!trans) { /* op(B)[p][j] = b[p * ldb + j] */
            if (n == nr && nr == 32) { /* constant sizes: inlined vector moves */
                for (int64_t p = 0; p < kc; p++) memcpy(dst + p * 32, b + p * ldb + j0, 128);
            } else if (n == nr && nr == 16) {
                for (int64_t p = 0; p < kc; p++) memcpy(dst + p * 16, b + p * ldb + j0, 64);
            } else if (n == nr) {
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
        } else if (n == nr && nr % 8 == 0 && k->pack_transposed) { /* op(B)[p][j] = b[j * ldb + p] */
            k->pack_transposed(b + j0 * ldb, ldb, kc, nr, dst);
        } else {
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

/* Per-thread packing buffer sizes (floats) for an M x N x K product in either
 * orientation (C or C^T). */
static void buf_floats(const gemm_kernel *k, int64_t M, int64_t N, int64_t K, int64_t *fa,
                       int64_t *fb) {
    int64_t kc = fc_min64(k->kc, K), m = fc_max64(M, N), n = m;
    *fa = round_up(fc_min64(k->mc, m), k->mr) * kc;
    *fb = round_up(fc_min64(k->nc, n), k->nr) * kc;
}

/* Equal K blocks (a short last block would run the kernel on a short loop). */
static int64_t k_step(const gemm_kernel *k, int64_t K) {
    return fc_ceil_div(K, fc_ceil_div(K, k->kc));
}

int64_t fc_gemm_packed_a_floats(int64_t M, int64_t K) {
    const gemm_kernel *k = gemm_kernel_active();
    int64_t n;
    return fc_mul_ok(round_up(M, k->mr), K, &n) ? n : -1;
}

int64_t fc_gemm_nr(void) { return gemm_kernel_active()->nr; }
int64_t fc_gemm_kstep(int64_t K) { return k_step(gemm_kernel_active(), K); }

int64_t fc_gemm_packed_b_floats(int64_t N, int64_t K) {
    int64_t n;
    return fc_mul_ok(round_up(N, gemm_kernel_active()->nr), K, &n) ? n : -1;
}

/* Layout: K blocks one after another; in block pc (kc long), MR-row panels [kc][mr]
 * for all of M, so that rows [ic, ic + mc) of the block start at ic * kc. */
void fc_gemm_pack_a(int trans_a, int64_t M, int64_t K, const float *A, int64_t lda,
                    float *dst, int threads) {
    const gemm_kernel *k = gemm_kernel_active();
    int64_t kstep = k_step(k, K), nkb = fc_ceil_div(K, kstep), np = fc_ceil_div(M, k->mr);
    int64_t Mr = round_up(M, k->mr);
    #pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t t = 0; t < nkb * np; t++) {
        int64_t pc = (t / np) * kstep, i0 = (t % np) * k->mr;
        int64_t kc = fc_min64(kstep, K - pc), mc = fc_min64(k->mr, M - i0);
        const float *src = trans_a ? A + pc * lda + i0 : A + i0 * lda + pc;
        pack_a(k, trans_a, src, lda, mc, kc, dst + Mr * pc + i0 * kc);
    }
}

int64_t fc_gemm_mr(void) { return gemm_kernel_active()->mr; }

/* The packed-B layout (gemm.h), panel by panel. */
void fc_gemm_pack_b(int trans_b, int64_t K, int64_t N, const float *B, int64_t ldb,
                    float *dst, int threads) {
    const gemm_kernel *k = gemm_kernel_active();
    int64_t kstep = k_step(k, K), nkb = fc_ceil_div(K, kstep), np = fc_ceil_div(N, k->nr);
    int64_t Nr = round_up(N, k->nr);
    #pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t t = 0; t < nkb * np; t++) {
        int64_t pc = (t / np) * kstep, j0 = (t % np) * k->nr;
        int64_t kc = fc_min64(kstep, K - pc), nc = fc_min64(k->nr, N - j0);
        const float *src = trans_b ? B + j0 * ldb + pc : B + pc * ldb + j0;
        pack_b(k, trans_b, src, ldb, kc, nc, dst + Nr * pc + j0 * kc);
    }
}

/* C's row i from column j (cr, n values) = fc_gemm_epi applied to t + beta * cr, as
 * the micro-kernels do it: scale, then bias, then the residual (read before cr is
 * written: it may be cr). */
static void epi_row(const fc_gemm_epi *e, int64_t i, int64_t j, const float *t, float beta,
                    float *cr, int64_t n) {
    const float s = e->scale ? e->scale[i] : 1.0f, b = e->bias ? e->bias[i] : 0.0f;
    const float *res = e->res ? e->res + i * e->ldr + j : NULL;
    for (int64_t q = 0; q < n; q++) {
        float v = beta == 0.0f ? t[q] : t[q] + beta * cr[q];
        v = s * v + b;
        if (res) v += res[q];
        cr[q] = e->relu && v < 0.0f ? 0.0f : v; /* NaN stays NaN */
    }
}

/* Rows [0, m) x columns [0, n) of a computed tile (row stride nr) merged into C at (i,
 * j): beta * C added, then epi; through img_cols run by run (a tile may cross from one
 * image's columns into the next). */
static void merge_tile(const fc_gemm_args *g, const float *tile, int64_t nr, int64_t i,
                       int64_t j, int64_t m, int64_t n, float beta, const fc_gemm_epi *epi) {
    for (int64_t q0 = 0; q0 < n;) {
        int64_t len = n - q0, jc = j + q0;
        if (g->img_cols) {
            int64_t off = jc % g->img_cols;
            len = fc_min64(len, g->img_cols - off);
            jc = jc / g->img_cols * g->img_stride + off;
        }
        for (int64_t r = 0; r < m; r++) {
            float *cr = g->C + (i + r) * g->ldc + jc;
            const float *t = tile + r * nr + q0;
            if (epi)
                epi_row(epi, i + r, jc, t, beta, cr, len);
            else if (beta == 0.0f)
                for (int64_t q = 0; q < len; q++) cr[q] = t[q];
            else
                for (int64_t q = 0; q < len; q++) cr[q] = t[q] + beta * cr[q];
        }
        q0 += len;
    }
}

/* One MR x NR tile of C at (i, j), m x n of it valid; epi: applied to it (the last K
 * block's tiles only). A whole tile inside one run of C's columns is stored by the
 * micro-kernel, the others through the scratch tile. */
static inline void tile_op(const gemm_kernel *k, const fc_gemm_args *g, const float *ap,
                           const float *bp, int64_t kc, int64_t i, int64_t j, int64_t m,
                           int64_t n, float beta, float *tile, int tc, const fc_gemm_epi *epi) {
    if (tc) { /* computing C^T: tile row r is column i + r of C */
        k->ukernel(kc, ap, bp, tile, k->nr, g->alpha, 0.0f);
        for (int64_t q = 0; q < n; q++) {
            float *cr = g->C + (j + q) * g->ldc + i;
            if (beta == 0.0f)
                for (int64_t r = 0; r < m; r++) cr[r] = tile[r * k->nr + q];
            else
                for (int64_t r = 0; r < m; r++) cr[r] = tile[r * k->nr + q] + beta * cr[r];
        }
        return;
    }
    int64_t jc = j; /* C's column */
    int whole = m == k->mr && n == k->nr;
    if (g->img_cols && whole) {
        int64_t off = j % g->img_cols;
        whole = off + n <= g->img_cols;
        jc = j / g->img_cols * g->img_stride + off;
    }
    if (whole) {
        float *c = g->C + i * g->ldc + jc;
        if (epi)
            k->ukernel_epi(kc, ap, bp, c, g->ldc, g->alpha, beta, epi, i, jc);
        else
            k->ukernel(kc, ap, bp, c, g->ldc, g->alpha, beta);
        return;
    }
    k->ukernel(kc, ap, bp, tile, k->nr, g->alpha, 0.0f);
    merge_tile(g, tile, k->nr, i, j, m, n, beta, epi);
}

/* The product restricted to C rows [m0, m1) and columns [n0, n1), in this thread. */
static void gemm_region(const gemm_kernel *k, const fc_gemm_args *g, int tc, int64_t m0,
                        int64_t m1, int64_t n0, int64_t n1, float *pa, float *pb) {
    const int64_t mr = k->mr, nr = k->nr;
    float tile[FC_GEMM_TILE_MAX] __attribute__((aligned(64)));
    for (int64_t jc = n0; jc < n1; jc += k->nc) {
        int64_t nc = fc_min64(k->nc, n1 - jc);
        int64_t kstep = k_step(k, g->K);
        for (int64_t pc = 0; pc < g->K; pc += kstep) {
            int64_t kc = fc_min64(kstep, g->K - pc);
            float beta = pc == 0 ? g->beta : 1.0f;
            const fc_gemm_epi *epi = pc + kc == g->K ? g->epi : NULL;
            if (g->B_packed) {
                pb = (float *)g->B_packed + round_up(g->N, nr) * pc + jc * kc;
            } else {
                const float *bsrc = g->trans_b ? g->B + jc * g->ldb + pc
                                               : g->B + pc * g->ldb + jc;
                pack_b(k, g->trans_b, bsrc, g->ldb, kc, nc, pb);
            }
            for (int64_t ic = m0; ic < m1; ic += k->mc) {
                int64_t mc = fc_min64(k->mc, m1 - ic);
                if (g->A_packed) { /* block pc starts at round_up(M, mr) * pc */
                    pa = (float *)g->A_packed + round_up(g->M, k->mr) * pc + ic * kc;
                } else {
                    const float *asrc = g->trans_a ? g->A + pc * g->lda + ic
                                                   : g->A + ic * g->lda + pc;
                    pack_a(k, g->trans_a, asrc, g->lda, mc, kc, pa);
                }
                if (k->a_in_l1)
                    for (int64_t ir = 0; ir < mc; ir += mr)
                        for (int64_t jr = 0; jr < nc; jr += nr)
                            tile_op(k, g, pa + ir * kc, pb + jr * kc, kc, ic + ir, jc + jr,
                                    fc_min64(mr, mc - ir), fc_min64(nr, nc - jr), beta, tile, tc,
                                    epi);
                else
                    for (int64_t jr = 0; jr < nc; jr += nr)
                        for (int64_t ir = 0; ir < mc; ir += mr)
                            tile_op(k, g, pa + ir * kc, pb + jr * kc, kc, ic + ir, jc + jr,
                                    fc_min64(mr, mc - ir), fc_min64(nr, nc - jr), beta, tile, tc,
                                    epi);
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

/* A narrow C (N = 49 for a 7x7 feature map) wastes most of the last NR-wide tile;
 * computing C^T = op(B)^T op(A)^T puts N along MR instead, at the cost of a
 * transposed tile store. */
int fc_gemm_transposes(int64_t M, int64_t N) {
    const gemm_kernel *k = gemm_kernel_active();
    double waste = (double)round_up(N, k->nr) / N * round_up(M, k->mr) / M;
    double waste_t = (double)round_up(M, k->nr) / M * round_up(N, k->mr) / N;
    return waste_t < 0.9 * waste;
}

fc_status fc_gemm_run(const fc_gemm_args *g, int threads, fc_arena *ws) {
    const gemm_kernel *k = gemm_kernel_active();
    if (g->M <= 0 || g->N <= 0) return FC_SUCCESS;
    if (g->K <= 0 || g->alpha == 0.0f) { /* C = beta * C, A and B not read */
        int64_t run = g->img_cols ? g->img_cols : g->N;
        for (int64_t q = 0; q * run < g->N; q++)
            scale_c(g->C + q * g->img_stride, g->ldc, g->M, fc_min64(run, g->N - q * run),
                    g->beta);
        return FC_SUCCESS;
    }
    fc_gemm_args sw;
    int tc = 0;
    if (fc_gemm_transposes(g->M, g->N) && !g->A_packed && !g->B_packed && !g->epi &&
        !g->img_cols) {
        sw = (fc_gemm_args){!g->trans_b, !g->trans_a, g->N, g->M, g->K, g->alpha, g->B, g->ldb,
                            g->A, g->lda, g->beta, g->C, g->ldc, NULL};
        g = &sw;
        tc = 1;
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
        gemm_region(k, g, tc, 0, g->M, 0, g->N, pbufs[0], pbufs[1]);
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
        if (m0 < m1 && n0 < n1) gemm_region(k, g, tc, m0, m1, n0, n1, pbufs[2 * t], pbufs[2 * t + 1]);
    }
    return FC_SUCCESS;
}

fc_status fc_sgemm(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                   const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                   float *C, int64_t ldc) {
    FC_CALL_SCOPE();
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
    fc_gemm_args g = {trans_a != 0, trans_b != 0, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc,
                      NULL};
    int threads = need_ab ? fc_gemm_threads(M, N, K) : 1;
    if (need_ab && fc_gemv_try(&g, threads)) return FC_SUCCESS;
    size_t need = need_ab ? fc_gemm_workspace(M, N, K, threads) : 0;
    if (need == SIZE_MAX) return FC_SIZE_OVERFLOW;
    FC_ARENA(ws);
    fc_status st = fc_workspace_open(NULL, 0, need, &ws);
    if (st != FC_SUCCESS) return st;
    return fc_gemm_run(&g, threads, &ws);
}

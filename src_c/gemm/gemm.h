/* Packed SGEMM (BLIS-style): the loops, packing and threads live in gemm/sgemm.c,
 * the register-blocked micro-kernels in kernels/<isa>/f32_gemm_<tile>_<isa>.c (one
 * body, kernels/f32_gemm.inc, compiled per ISA), reached through the registry
 * (core/registry.h) with their blocking sizes.
 *
 * Micro-kernel contract: C[MR][NR] (row stride ldc) = alpha * A_panel * B_panel
 * + beta * C, where A_panel is packed [kc][MR] and B_panel [kc][NR] (kc >= 1).
 * Full tiles only (the caller handles edges through a scratch tile). With beta == 0,
 * C is never read: it may hold NaN. */
#ifndef FC_GEMM_H
#define FC_GEMM_H

#include "../core/internal.h"

typedef void (*fc_gemm_ukernel_fn)(int64_t kc, const float *a, const float *b, float *c,
                                   int64_t ldc, float alpha, float beta);

/* An epilogue on C's final values (after the last K block), applied by the micro-kernel
 * to the tile in registers before its store:
 *   C[i][j] = act(scale[i] * C[i][j] + bias[i] + res[i * ldr + j])
 * scale, bias and res optional (NULL); act = max(., 0) keeping NaN when relu; res may be
 * C itself (ldr == ldc) when K fits one block (fc_gemm_kstep(K) >= K), as earlier
 * blocks would overwrite it with partial sums. Rows are C's rows: the GEMM does not
 * swap to C^T when an epilogue is given. */
typedef struct fc_gemm_epi {
    const float *scale, *bias, *res;
    int64_t ldr;
    int relu;
} fc_gemm_epi;

/* The micro-kernel with e applied at its store; (i0, j0): the tile's place in C. */
typedef void (*fc_gemm_epi_ukernel_fn)(int64_t kc, const float *a, const float *b, float *c,
                                       int64_t ldc, float alpha, float beta,
                                       const fc_gemm_epi *e, int64_t i0, int64_t j0);

/* Transposing pack: dst[p][j] = src[j * ld + p] for j < w (w % 8 == 0), p < kc. */
typedef void (*fc_gemm_pack_fn)(const float *src, int64_t ld, int64_t kc, int64_t w,
                                float *dst);

/* Largest mr * nr of any registered table (the edge scratch tile). */
#define FC_GEMM_TILE_MAX (8 * 32)

/* One GEMM call, row-major, as fc_sgemm takes it. */
typedef struct fc_gemm_args {
    int trans_a, trans_b;
    int64_t M, N, K;
    float alpha;
    const float *A;
    int64_t lda;
    const float *B;
    int64_t ldb;
    float beta;
    float *C;
    int64_t ldc;
    /* Optional: op(A) already packed by fc_gemm_pack_a (A and lda are then unused). */
    const float *A_packed;
    /* Optional: op(B) already packed in the layout fc_gemm_packed_b_floats describes
     * (B and ldb are then unused). */
    const float *B_packed;
    /* Optional: an epilogue on the final values (see fc_gemm_epi). */
    const fc_gemm_epi *epi;
    /* Optional (img_cols > 0): C's columns in runs of img_cols, run q starting
     * q * img_stride floats on, in C and in the epilogue's residual alike: column j of
     * row i at C + i * ldc + j / img_cols * img_stride + j % img_cols. A convolution's
     * block of several images writes NCHW output this way, without a staging copy. */
    int64_t img_cols, img_stride;
} fc_gemm_args;

/* Packed op(B) (K x N): K blocks of fc_gemm_kstep(K) rows one after another; in the
 * block starting at row pc (kc rows), fc_gemm_nr()-column panels [kc][nr] for all of N
 * (zero-padded to a whole panel), so that panel q of block pc starts at
 * round_up(N, nr) * pc + q * nr * kc. Producers (im2col) write it directly. */
int64_t fc_gemm_packed_b_floats(int64_t N, int64_t K);
int64_t fc_gemm_nr(void);
int64_t fc_gemm_mr(void);
/* Packs a whole op(B) (K x N) in that layout (weights packed once as the B operand;
 * threaded when threads > 1). */
void fc_gemm_pack_b(int trans_b, int64_t K, int64_t N, const float *B, int64_t ldb,
                    float *dst, int threads);
int64_t fc_gemm_kstep(int64_t K);

/* Floats of a whole op(A) (M x K) packed once for reuse across many products with
 * different B and C (convolution weights across images), and the packing itself
 * (threaded when threads > 1; pass 1 inside a parallel region). */
int64_t fc_gemm_packed_a_floats(int64_t M, int64_t K);
void fc_gemm_pack_a(int trans_a, int64_t M, int64_t K, const float *A, int64_t lda,
                    float *dst, int threads);

/* Arena bytes fc_gemm_run needs for an M x N x K product on `threads` threads
 * (SIZE_MAX on overflow). */
size_t fc_gemm_workspace(int64_t M, int64_t N, int64_t K, int threads);

/* Runs the product with packing buffers taken from `ws` (sized by fc_gemm_workspace
 * with the same `threads`). threads == 1 runs in the calling thread and opens no
 * OpenMP region, so it is safe inside a caller's parallel loop (each caller thread
 * passing its own arena). Arguments are assumed checked (fc_sgemm checks them). */
fc_status fc_gemm_run(const fc_gemm_args *g, int threads, fc_arena *ws);

/* The thread count fc_gemm_run would use for this size (1 for small products). */
int fc_gemm_threads(int64_t M, int64_t N, int64_t K);

/* Whether fc_gemm_run computes an M x N product as C^T (fewer idle lanes in its tiles),
 * given unpacked operands and no epilogue. */
int fc_gemm_transposes(int64_t M, int64_t N);

/* Unpacked small products (gemm/gemv.c), for shapes where packing costs more than it
 * saves: a few rows of C against a large B (Linear at small batch) or a short K.
 * dot: C[i][j] = alpha * sum_p a[i * lda + p] * b[j * ldb + p] + beta * C[i][j] for
 *   i < m, j < n (rows of A and B contiguous along K; beta == 0: C is not read). Rows of
 *   A in blocks of 4 against pairs of B rows (each B row is read once per 4 rows of A).
 * axpy: c[0, n) = (accumulate ? c : 0) + alpha * sum_{p < k} a[p * as] * b[p * ldb + j]
 *   (rows of B contiguous along N; c is not read unless accumulate). */
typedef void (*fc_gemv_dot_fn)(int64_t K, int64_t m, int64_t n, const float *a, int64_t lda,
                               const float *b, int64_t ldb, float *c, int64_t ldc,
                               float alpha, float beta);
typedef void (*fc_gemv_axpy_fn)(int64_t n, int64_t k, float alpha, const float *a,
                                int64_t as, const float *b, int64_t ldb, float *c,
                                int accumulate);
/* bcast: C[i][j] = alpha * sum_{k < kc} ap[k * mp + i] * b[j * ldb + k] + beta * C[i][j]
 *   for i < m, j < n: B rows contiguous along K against op(A)^T packed [kc][mp] (mp a
 *   multiple of the vector width, at most 4 vectors, >= m); each B element is loaded
 *   once, as a broadcast, against mp / VL vectors (beta == 0: C is not read).
 * tile: C[i][j] = alpha * sum_{p < k} a[i * ai + p * ap] * b[p * ldb + j] + beta * C[i][j]
 *   for i < m, j < n: rows of B contiguous along N read in place, register tiles of
 *   tile_mr rows by two vectors, strips of B outer so that a strip stays in L1 while
 *   every row block of C takes it (beta == 0: C is not read). */
typedef void (*fc_gemv_bcast_fn)(int64_t kc, int64_t m, int64_t n, const float *ap,
                                 int64_t mp, const float *b, int64_t ldb, float *c,
                                 int64_t ldc, float alpha, float beta);
typedef void (*fc_gemv_tile_fn)(int64_t k, int64_t m, int64_t n, const float *a, int64_t ai,
                                int64_t ap, const float *b, int64_t ldb, float *c,
                                int64_t ldc, float alpha, float beta);
typedef struct fc_gemv_ukernels {
    fc_gemv_dot_fn dot;
    fc_gemv_axpy_fn axpy;
    fc_gemv_bcast_fn bcast;
    fc_gemv_tile_fn tile;
    int tile_mr; /* rows of a tile */
    int vl;      /* floats per vector (mp of bcast is a multiple) */
} fc_gemv_ukernels;

/* Runs g (checked by fc_sgemm, no packed operands) without packing when its shape is
 * one gemv.c handles better; returns 0, doing nothing, otherwise. */
int fc_gemv_try(const fc_gemm_args *g, int threads);
/* Benchmarks and tests: the largest M taken by fc_gemv_try (0: none; -1: the
 * default). Not thread-safe, not in fastconv.h. */
FC_API void fc_gemv_set_max_rows(int64_t m);

#endif

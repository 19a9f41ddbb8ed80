/* Convolution as im2col + packed SGEMM, one group and block at a time (a block: a few
 * images for small planes, some output rows of one image for large ones) so that the
 * column matrix is never materialized for a whole batch:
 *
 *   forward           y[K_g][P_blk]   = w_g[K_g][CRS] . col[CRS][P_blk]
 *   backward-data     gcol[CRS][P_blk] = w_g^T . gy[K_g][P_blk], then col2im (adds)
 *   backward-weights  gw_g[K_g][CRS] += gy[K_g][P_blk] . col^T
 *
 * where CRS = C/groups * R * S and P_blk a block of output positions. The weights
 * are packed for the GEMM once per call, not once per block (or once for many calls:
 * conv/prepacked.c), and the forward pass writes its column matrix directly in the
 * GEMM's packed-B panels; backward-weights runs its GEMM around the micro-kernel with
 * B panels gathered from x (bwd_w_panels), never writing the column matrix. A 1x1,
 * stride-1, unpadded convolution needs no column matrix: x itself is one.
 *
 * Threads: when there are enough independent (image block, group[, row block]) items, each
 * thread takes whole items with a serial GEMM and its own slice of the workspace (no
 * barriers, packing stays in the core's caches); otherwise items run one after another
 * with the GEMM threaded inside and im2col/col2im split over channels. The two never
 * nest. Backward-weights accumulates per-thread partial sums when it goes across
 * images, then adds them. */
#include <math.h>
#include <string.h>

#include "conv_desc.h"
#include "epilogue.h"
#include "im2col.h"
#include "gemm/gemm.h"
#include "core/registry.h"

/* Columns per block: at least FC_IM2COL_MIN_COLS (so that the GEMM's N is wide enough
 * to fill its NR-wide tiles: a 7x7 map alone would leave a third of them empty), else
 * as many as fit FC_IM2COL_BLOCK_FLOATS (1 MiB, the L2 of one core: the block is
 * packed into B panels right after it is written). Small planes are batched several
 * images to a block; large ones are cut into blocks of output rows. */
#define FC_IM2COL_BLOCK_FLOATS (256 * 1024)
#define FC_IM2COL_MIN_COLS 512
/* A forward epilogue runs on GEMM output blocks of about this many floats (1x1 convs,
 * whose blocks are whole images, are cut into column chunks of at least
 * FC_IM2COL_EPI_MIN_COLS), so that it reads them back from L2. Equal chunks, whole NR
 * tiles but the last (128 -> 512 at 28x28 had run 256 + 256 + 256 + 16 columns). A
 * block whose K_g x cols is at most FC_IM2COL_EPI_WHOLE floats (half the L2) stays
 * whole, its GEMM packing x's rows end to end: ResNet-50's 512 -> 128 1x1 at 28x28
 * from prepacked weights, 512 + 272 columns -> whole 784-column images, batch 8
 * 9.3 -> 8.4-8.8 ms, batch 16 18.9-20.3 -> 17.3-20.3 ms (1 thread, CPU time, medians
 * of 7, three alternating rounds). */
#define FC_IM2COL_EPI_FLOATS (64 * 1024)
#define FC_IM2COL_EPI_MIN_COLS 256
#define FC_IM2COL_EPI_WHOLE (128 * 1024)

typedef struct plan {
    const fc_conv2d_desc *d;
    int64_t G, Cg, Kg, R, S, CRS, OH, OW, P;
    int direct;             /* 1x1, stride 1, no padding: x is the column matrix */
    int folded;             /* such a 1x1 forward copying its columns after all */
    int64_t rows, nrb;      /* output rows per row block, row blocks per image */
    int64_t nimg, nib;      /* images per block (> 1 only when nrb == 1), image blocks */
    int threads;            /* worker threads */
    int across;             /* 1: items across threads, serial GEMMs; 0: threaded GEMM */
    int64_t cols;           /* most columns in a block */
    int64_t col_floats;     /* per worker: the column matrix of a block */
    int64_t stage_floats;   /* per worker: K_g x cols staging for multi-image blocks, and
                               for a forward epilogue whose residual is y */
    int64_t epi_cols;       /* forward epilogue: columns per GEMM (a chunk of a block) */
    size_t gemm_bytes;      /* per worker */
    int64_t gw_floats;      /* per-thread partial weight gradient (backward-weights) */
    int64_t bias_doubles;   /* per worker: its blocks' bias gradient sums (across: K) */
    int64_t wp_group;       /* packed weights per group (forward, backward-data), shared */
    int prepacked;          /* forward from weights the caller packed: none in the workspace */
    int layout;             /* forward: FC_IM2COL_WEIGHTS_AS_A or _AS_B (use_layout) */
    int fused;              /* backward-weights: B panels gathered from x (bwd_w_panels) */
    int cl;                 /* backward-weights: ... from x channels-last (bwd_w_cl_panels) */
    int xp;                 /* backward-weights: ... from x padded (bwd_w_xp_panels) */
} plan;

static int bwd_w_fuses(const plan *p);
static int64_t bwd_w_fused_floats(const plan *p, int gt);
static int bwd_w_channels_last(const plan *p);
static int64_t bwd_w_cl_floats(const plan *p, int gt);
static int bwd_w_padded(const plan *p);
static int64_t bwd_w_xp_floats(const plan *p, int gt);

static void make_plan(const fc_conv2d_desc *d, fc_conv_pass pass, plan *p) {
    memset(p, 0, sizeof *p);
    p->d = d;
    p->G = d->groups;
    p->Cg = d->C / d->groups;
    p->Kg = d->K / d->groups;
    p->R = d->R;
    p->S = d->S;
    p->CRS = p->Cg * d->R * d->S;
    fc_conv2d_out_shape(d, &p->OH, &p->OW);
    p->P = p->OH * p->OW;
    p->direct = d->R == 1 && d->S == 1 && d->stride_h == 1 && d->stride_w == 1 &&
                d->pad_top == 0 && d->pad_bottom == 0 && d->pad_left == 0 && d->pad_right == 0;
    int one_by_one = p->direct;
    /* A 1x1 forward on planes narrower than four NR tiles (7x7: 49 columns) at batch > 1
     * copies its columns after all, so that blocks hold several images and one GEMM
     * takes them: MobileNet/ResNet's 1024 -> 1024 1x1 at 7x7, batch 16, ran 223M
     * instead of 276M instructions (callgrind) and 21-26 instead of 25-33 ms (1
     * thread, CPU time, three alternating runs on a loaded machine). The same for the
     * backward passes, a block per thread at least (several images each), not one
     * block under a threaded GEMM. Backward-weights then reduces over
     * several images' columns at once: image by image, each GEMM of depth 49 read and
     * wrote the whole grad_w (4 MB for 1024 -> 1024: past L2) once per image, and the
     * threads' sums are added at the end. 2 threads, fastest of 11, three alternating
     * rounds against the old build, ms: batch 16 1024 -> 1024 at 7x7 10.5-12.0 ->
     * 9.9-10.6, batch 8 512 -> 2048 6.1-6.5 -> 5.3-5.8, 2048 -> 512 6.0-6.2 -> 5.7-5.9.
     * Backward-data gathers the block's grad_y planes and writes grad_x's planes
     * straight from the GEMM (fc_gemm_args.img_cols), which then streams the packed
     * weights once a block instead of once an image: fastest of 15 alternating calls,
     * image by image -> folded, batch 16 1024 -> 1024 10.7-10.9 -> 9.7-9.8 ms, 2048 ->
     * 512 10.6 -> 10.3; even on batch 8 512 -> 2048 / 2048 -> 512 and at batch 2. */
    if (p->direct && p->P < 4 * fc_gemm_nr() && d->N > 1) p->direct = 0;
    /* Likewise where one image's columns leave more than an eighth of the NR lanes of
     * its last tile row empty and the reduction is one K block of the GEMM (C is then
     * written once, in column chunks that stay in L2: epi_cols). ResNet-50's 256 ->
     * 1024 1x1 at 14x14 (196 columns: 224 lanes on AVX-512) from prepacked weights, 4
     * images a block: batch 8 9.8-10.2 -> 9.1-9.2 ms, batch 16 20.2-20.3 -> 17.9-18.4
     * ms (1 thread, CPU time, medians of 7, three alternating rounds); it had run AS_B
     * image by image (use_layout), paying for the output's transposition. Plain im2col
     * (AS_A image by image before) kept its time. Not with a deeper reduction: its
     * 1024 -> 256 twin ran 8.5-9.1 -> 8.6-9.4 ms with 4 images a block, 9.9 ms with 8
     * (the wide C is read back once per K block); nor at 28x28 (784 columns, 2% of
     * the lanes: 128 -> 512 11.1 -> 11.4-12.5 ms). */
    if (pass == FC_PASS_FORWARD && p->direct && d->N > 1 &&
        8 * (fc_ceil_div(p->P, fc_gemm_nr()) * fc_gemm_nr() - p->P) > p->P &&
        fc_gemm_kstep(p->CRS) == p->CRS)
        p->direct = 0;
    p->folded = one_by_one && !p->direct;
    int T = fc_threads();
    int64_t want = fc_max64(FC_IM2COL_MIN_COLS, FC_IM2COL_BLOCK_FLOATS / fc_max64(1, p->CRS));
    p->rows = p->OH;
    p->nimg = 1;
    if (p->direct) {
        /* x is used in place, one image at a time */
    } else if (p->P > want) {
        p->rows = fc_max64(1, fc_min64(want / p->OW, p->OH));
        int64_t nrb = fc_ceil_div(p->OH, p->rows), per = d->N * p->G;
        /* Few items (batch 1: AlexNet conv1's 55 rows in 5 blocks): a count that is a
         * multiple of the threads keeps them all busy to the end. */
        if (T > 1 && pass != FC_PASS_BACKWARD_DATA && per * nrb < 8 * T)
            for (int64_t m = nrb; m <= fc_min64(p->OH, 2 * nrb); m++)
                if (per * fc_ceil_div(p->OH, fc_ceil_div(p->OH, m)) % T == 0) {
                    nrb = m;
                    break;
                }
        p->rows = fc_ceil_div(p->OH, nrb); /* equal blocks */
    } else {
        p->nimg = fc_max64(1, fc_min64(d->N, want / p->P));
        int64_t nb = fc_ceil_div(d->N, p->nimg);
        /* A folded 1x1's backward passes (above), and any 1x1's backward-weights (strided
         * ones: ResNet's shortcuts): a block per thread at least, the threads' sums added
         * at the end, rather than one block whose grad_y each thread gathers and packs
         * whole before the GEMM's panels split. 2 threads, fastest of 15 alternating
         * calls, before -> after (torch), ms: batch 16 256 -> 512 1x1/2 at 14x14 2.31-3.02
         * -> 2.25-2.28 (2.38-3.31), 128 -> 256 at 28x28 1.91-2.98 -> 1.73-2.82
         * (2.61-3.87), 64 -> 128 at 56x56 2.95-3.48 -> 2.53-3.11 (4.14-5.09); batch 8
         * 1024 -> 2048 at 14x14 9.5-10.2 -> 8.9-10.0. Not 3x3 layers (their larger
         * grad_w per thread: batch 4 512 -> 512 at 7x7 5.20-5.50 -> 5.60-5.88). */
        if (T > 1 && pass != FC_PASS_FORWARD && d->N >= T &&
            (one_by_one || (pass == FC_PASS_BACKWARD_WEIGHTS && d->R * d->S == 1)))
            nb = fc_max64(nb, T);
        if (T > 1 && nb > 1) nb = fc_ceil_div(nb, T) * T; /* whole rounds of threads */
        p->nimg = fc_ceil_div(d->N, fc_min64(nb, d->N));
    }
    p->nrb = fc_ceil_div(p->OH, p->rows);
    p->nib = fc_ceil_div(d->N, p->nimg);
    p->cols = p->nimg * p->rows * p->OW;
    int64_t items = pass == FC_PASS_BACKWARD_DATA ? p->nib * p->G : p->nib * p->nrb * p->G;
    if (pass == FC_PASS_BACKWARD_WEIGHTS) items = p->nib * p->nrb;
    /* Across threads whenever the items divide evenly or each thread gets two or more
     * (dynamic schedule): that mode has no barrier per block, and on a loaded machine
     * every fork/join can wait a whole time slice for the other thread. */
    p->across = T > 1 && (items % T == 0 || items >= 2 * T);
    p->threads = T;
    int gt = p->across ? 1 : T;
    /* CRS * cols may exceed 64 bits on a legal descriptor (a huge weight, a wide
     * output): -1 makes plan_workspace report SIZE_MAX (FC_SIZE_OVERFLOW). */
    if (p->direct || (pass == FC_PASS_BACKWARD_DATA && p->folded)) p->col_floats = 0;
    else if (!fc_mul_ok(p->CRS, p->cols, &p->col_floats)) p->col_floats = -1;
    if (pass == FC_PASS_FORWARD && !p->direct) { /* B panels + a row buffer per thread */
        int64_t panels = fc_gemm_packed_b_floats(p->cols, p->CRS), rowbuf;
        p->col_floats = panels < 0 || !fc_mul_ok(p->cols, gt, &rowbuf) ||
                        panels > INT64_MAX - rowbuf ? -1 : panels + rowbuf;
    }
    p->stage_floats = 0;
    if (p->nimg > 1 && !fc_mul_ok(p->Kg, p->cols, &p->stage_floats)) p->stage_floats = -1;
    /* Epilogue chunks of x in place or of a folded 1x1's panels (im2col_packed_run
     * lays them out chunk by chunk) where the reduction spans several K blocks (the
     * chunk's GEMM output staged in L2, then the epilogue); other blocks are left
     * whole, their epilogue applied at the GEMM's tile stores, several images' columns
     * straight into their own planes (fc_gemm_args.img_cols). Those of one K block
     * had been staged and copied to y by a pass of their own: 2 threads, medians of 6
     * alternating processes, staged -> in place: batch 16 64 -> 256 1x1 at 14x14
     * 1.00 -> 0.65 ms, batch 8 256 -> 512 at 7x7 0.75 -> 0.63, 256 -> 1024 at 14x14
     * 5.25 -> 5.04. Not with several K blocks: the tiles crossing images wrote y's
     * unaligned runs once per block (1 thread, 512 -> 2048 at 7x7: 1.06-1.10 times
     * the staged time). */
    p->epi_cols = p->cols;
    if (p->direct || (p->folded && fc_gemm_kstep(p->CRS) < p->CRS)) {
        int64_t per = fc_max64(FC_IM2COL_EPI_MIN_COLS, FC_IM2COL_EPI_FLOATS / p->Kg);
        if (p->Kg * p->cols <= FC_IM2COL_EPI_WHOLE) per = p->cols;
        int64_t nch = fc_ceil_div(p->cols, per), nr = fc_gemm_nr();
        if (nch > 1) p->epi_cols = fc_ceil_div(fc_ceil_div(p->cols, nch), nr) * nr;
    }
    if (pass == FC_PASS_FORWARD && !fc_mul_ok(p->Kg, p->epi_cols, &p->stage_floats))
        p->stage_floats = -1;
    switch (pass) {
    case FC_PASS_FORWARD:
        p->gemm_bytes = fc_gemm_workspace(p->Kg, p->cols, p->CRS, gt);
        p->wp_group = fc_gemm_packed_a_floats(p->Kg, p->CRS);
        break;
    case FC_PASS_BACKWARD_DATA:
        p->gemm_bytes = fc_gemm_workspace(p->direct ? p->Cg : p->CRS, p->cols, p->Kg, gt);
        p->wp_group = fc_gemm_packed_a_floats(p->direct ? p->Cg : p->CRS, p->Kg);
        break;
    case FC_PASS_BACKWARD_WEIGHTS:
        p->gemm_bytes = fc_gemm_workspace(p->Kg, p->CRS, p->cols, gt);
        p->fused = bwd_w_fuses(p);
        if (p->fused) { /* bwd_w_panels: no column matrix, no GEMM arena */
            p->gemm_bytes = 0;
            p->cl = bwd_w_channels_last(p);
            p->xp = !p->cl && bwd_w_padded(p);
            p->col_floats = p->cl   ? bwd_w_cl_floats(p, gt)
                            : p->xp ? bwd_w_xp_floats(p, gt)
                                    : bwd_w_fused_floats(p, gt);
        }
        /* Thread 0 writes grad_w itself, the others keep partial sums; channels-last,
         * every worker sums grad_w's permutation [K][R][S][C] into its own buffer. */
        if (p->across || p->cl) p->gw_floats = p->Kg * p->CRS * p->G;
        /* Across threads, each worker sums its blocks' grad_y rows into the bias
         * gradient while they are in cache from the packing of A (a pass of its own
         * read grad_y from memory again: 3.4% of ResNet conv1's backward-weights at
         * batch 8, 2.8% of AlexNet conv1's at batch 16). */
        if (p->across) p->bias_doubles = d->K;
        break;
    }
}

/* The forward's GEMM orientation. AS_A: y_g[K_g][cols] = w_g . col, the weights the
 * packed A (MR = 6 output channels per panel on AVX2), the columns the packed B (NR =
 * 16 output positions). AS_B: y_g^T[cols][K_g] = col^T . w_g^T, the columns the packed
 * A, the weights the packed B: a narrow output (49 positions of a 7x7 map: 64 lanes of
 * NR tiles, 54 of MR ones) wastes fewer lanes, for a transposition of the output block
 * before the epilogue (its stage holds C^T, then C). */
static void use_layout(plan *p, int layout) {
    p->layout = layout;
    if (layout != FC_IM2COL_WEIGHTS_AS_B) return;
    p->wp_group = fc_gemm_packed_b_floats(p->Kg, p->CRS);
    if (!p->direct) { /* the column panels (packed A, MR wide) are not cut into chunks */
        p->epi_cols = p->cols;
        if (!fc_mul_ok(p->Kg, p->cols, &p->stage_floats)) p->stage_floats = -1;
    }
    if (!p->direct && p->col_floats >= 0) {
        int64_t pa = fc_gemm_packed_a_floats(p->cols, p->CRS);
        int64_t pb = fc_gemm_packed_b_floats(p->cols, p->CRS), rowbuf = p->col_floats - pb;
        p->col_floats = pa < 0 || pb < 0 || fc_max64(pa, pb) > INT64_MAX - rowbuf
                            ? -1 : fc_max64(pa, pb) + rowbuf;
    }
    if (p->stage_floats >= 0 && !fc_mul_ok(p->stage_floats, 2, &p->stage_floats))
        p->stage_floats = -1;
}

static size_t plan_workspace(const plan *p) {
    if (p->gemm_bytes == SIZE_MAX || p->wp_group < 0 || p->col_floats < 0 || p->stage_floats < 0)
        return SIZE_MAX;
    int workers = p->across ? p->threads : 1;
    size_t total = 0;
    int64_t wp;
    if (!fc_mul_ok(p->wp_group, p->G, &wp) ||
        !fc_ws_add(&total, p->prepacked ? 0 : wp, sizeof(float)))
        return SIZE_MAX;
    for (int t = 0; t < workers; t++) {
        if (!fc_ws_add(&total, p->col_floats, sizeof(float))) return SIZE_MAX;
        if (!fc_ws_add(&total, p->stage_floats, sizeof(float))) return SIZE_MAX;
        if (__builtin_add_overflow(total, p->gemm_bytes + FC_ALIGN, &total)) return SIZE_MAX;
        if ((t > 0 || p->cl) && !fc_ws_add(&total, p->gw_floats, sizeof(float)))
            return SIZE_MAX;
        if (!fc_ws_add(&total, p->bias_doubles, sizeof(double))) return SIZE_MAX;
    }
    return total;
}

size_t fc_conv_im2col_workspace(const fc_conv2d_desc *d, fc_conv_pass pass) {
    plan p;
    make_plan(d, pass, &p);
    return plan_workspace(&p);
}

/* One worker's pieces of the workspace. */
typedef struct worker {
    float *col, *stage, *gw;
    double *bias; /* backward-weights across threads: its blocks' bias sums */
    fc_arena gemm;
} worker;

static fc_status carve(const plan *p, fc_arena *ws, worker *w, int nw, float **wp) {
    *wp = NULL;
    if (p->wp_group && !p->prepacked) {
        *wp = (float *)fc_arena_alloc(ws, (size_t)(p->wp_group * p->G) * sizeof(float));
        if (!*wp) return FC_INVALID_WORKSPACE;
    }
    for (int t = 0; t < nw; t++) {
        w[t].col = w[t].stage = w[t].gw = NULL;
        if (p->col_floats) {
            w[t].col = (float *)fc_arena_alloc(ws, (size_t)p->col_floats * sizeof(float));
            if (!w[t].col) return FC_INVALID_WORKSPACE;
        }
        if (p->stage_floats) {
            w[t].stage = (float *)fc_arena_alloc(ws, (size_t)p->stage_floats * sizeof(float));
            if (!w[t].stage) return FC_INVALID_WORKSPACE;
        }
        char *g = (char *)fc_arena_alloc(ws, p->gemm_bytes);
        if (!g && p->gemm_bytes) return FC_INVALID_WORKSPACE;
        w[t].gemm = (fc_arena){g, p->gemm_bytes, 0};
        if ((t > 0 || p->cl) && p->gw_floats) {
            w[t].gw = (float *)fc_arena_alloc(ws, (size_t)p->gw_floats * sizeof(float));
            if (!w[t].gw) return FC_INVALID_WORKSPACE;
        }
        w[t].bias = NULL;
        if (p->bias_doubles) {
            w[t].bias = (double *)fc_arena_alloc(ws, (size_t)p->bias_doubles * sizeof(double));
            if (!w[t].bias) return FC_INVALID_WORKSPACE;
        }
    }
    return FC_SUCCESS;
}

/* A block: images [n0, n0 + nn), output rows [oh0, oh1) of each; pb columns per image,
 * cols = nn * pb in all (image-major). */
typedef struct block {
    int64_t n0, nn, oh0, oh1, pb, cols;
} block;

static block get_block(const plan *p, int64_t ib, int64_t rb) {
    block b;
    b.n0 = ib * p->nimg;
    b.nn = fc_min64(p->nimg, p->d->N - b.n0);
    b.oh0 = rb * p->rows;
    b.oh1 = fc_min64(p->OH, b.oh0 + p->rows);
    b.pb = (b.oh1 - b.oh0) * p->OW;
    b.cols = b.nn * b.pb;
    return b;
}

/* Output columns [ow_lo, ow_hi) whose input column ow*sw + off lies in [0, W). */
static void valid_cols(int64_t OW, int64_t W, int64_t sw, int64_t off, int64_t *lo, int64_t *hi) {
    int64_t a = off >= 0 ? 0 : fc_ceil_div(-off, sw);
    int64_t b = W - off <= 0 ? 0 : fc_ceil_div(W - off, sw);
    *lo = fc_min64(a, OW);
    *hi = fc_max64(*lo, fc_min64(b, OW));
}

/* o[k] = src[k * sw] for k < n. Constant strides let the compiler unroll the gather;
 * 2 and 4 are the strided layers (ResNet conv1, AlexNet conv1, downsampling 3x3s). */
static inline void gather_run(float *restrict o, const float *restrict src, int64_t n,
                              int64_t sw) {
    switch (sw) {
    case 1: for (int64_t k = 0; k < n; k++) o[k] = src[k]; break;
    case 2: for (int64_t k = 0; k < n; k++) o[k] = src[2 * k]; break;
    case 4: for (int64_t k = 0; k < n; k++) o[k] = src[4 * k]; break;
    default: for (int64_t k = 0; k < n; k++, src += sw) o[k] = *src;
    }
}

/* col[(c*R + r)*S + s][(oh - oh0)*OW + ow] (row stride ld) =
 *     x[c][oh*sh - pt + r*dh][ow*sw - pl + s*dw]
 * for channels [c0, c1) of one image's group planes `x`, output rows [oh0, oh1). */
static void im2col_block(const plan *p, const float *x, float *col, int64_t ld, int64_t c0,
                         int64_t c1, int64_t oh0, int64_t oh1) {
    const fc_conv2d_desc *d = p->d;
    const int64_t H = d->H, W = d->W, OW = p->OW;
    for (int64_t c = c0; c < c1; c++)
        for (int64_t r = 0; r < p->R; r++)
            for (int64_t s = 0; s < p->S; s++) {
                float *dst = col + ((c * p->R + r) * p->S + s) * ld;
                int64_t off = s * d->dilation_w - d->pad_left, lo, hi;
                valid_cols(OW, W, d->stride_w, off, &lo, &hi);
                for (int64_t oh = oh0; oh < oh1; oh++, dst += OW) {
                    int64_t ih = oh * d->stride_h - d->pad_top + r * d->dilation_h;
                    if (ih < 0 || ih >= H || lo >= hi) {
                        memset(dst, 0, (size_t)OW * sizeof(float));
                        continue;
                    }
                    const float *src = x + (c * H + ih) * W + off;
                    for (int64_t ow = 0; ow < lo; ow++) dst[ow] = 0.0f;
                    gather_run(dst + lo, src + lo * d->stride_w, hi - lo, d->stride_w);
                    for (int64_t ow = hi; ow < OW; ow++) dst[ow] = 0.0f;
                }
            }
}

/* o[k] += src[k], k < n: the column and gx never overlap (restrict spares the
 * compiler's overlap check on every short row). */
static inline void add_run(float *restrict o, const float *restrict src, int64_t n) {
    for (int64_t k = 0; k < n; k++) o[k] += src[k];
}

/* The adjoint of im2col_block: gx[c][ih][iw] += col[...] (gx planes pre-zeroed). */
static void col2im_block(const plan *p, const float *col, int64_t ld, float *gx, int64_t c0,
                         int64_t c1, int64_t oh0, int64_t oh1) {
    const fc_conv2d_desc *d = p->d;
    const int64_t H = d->H, W = d->W, OW = p->OW;
    for (int64_t c = c0; c < c1; c++)
        for (int64_t r = 0; r < p->R; r++)
            for (int64_t s = 0; s < p->S; s++) {
                const float *src = col + ((c * p->R + r) * p->S + s) * ld;
                int64_t off = s * d->dilation_w - d->pad_left, lo, hi;
                valid_cols(OW, W, d->stride_w, off, &lo, &hi);
                for (int64_t oh = oh0; oh < oh1; oh++, src += OW) {
                    int64_t ih = oh * d->stride_h - d->pad_top + r * d->dilation_h;
                    if (ih < 0 || ih >= H) continue;
                    float *dst = gx + (c * H + ih) * W + off;
                    if (d->stride_w == 1)
                        add_run(dst + lo, src + lo, hi - lo);
                    else
                        for (int64_t ow = lo; ow < hi; ow++) dst[ow * d->stride_w] += src[ow];
                }
            }
}

/* The block's column matrix for group g; split over (image, channel) pairs in one
 * parallel region when `par` (threaded-GEMM mode: each pair's rows are disjoint). */
static void im2col_run(const plan *p, const float *x, int64_t g, const block *b, float *col,
                       int par) {
    const fc_conv2d_desc *d = p->d;
    int64_t plane = d->H * d->W;
    #pragma omp parallel for num_threads(p->threads) schedule(static) if (par)
    for (int64_t ic = 0; ic < b->nn * p->Cg; ic++) {
        int64_t i = ic / p->Cg, c = ic % p->Cg;
        const float *xg = x + ((b->n0 + i) * d->C + g * p->Cg) * plane;
        im2col_block(p, xg, col + i * b->pb, b->cols, c, c + 1, b->oh0, b->oh1);
    }
}

/* col2im of the block into gx: (image, channel) pairs write disjoint planes. */
static void col2im_run(const plan *p, const float *col, int64_t g, const block *b, float *gx,
                       int par) {
    const fc_conv2d_desc *d = p->d;
    int64_t plane = d->H * d->W;
    #pragma omp parallel for num_threads(p->threads) schedule(static) if (par)
    for (int64_t ic = 0; ic < b->nn * p->Cg; ic++) {
        int64_t i = ic / p->Cg, c = ic % p->Cg;
        float *gxg = gx + ((b->n0 + i) * d->C + g * p->Cg) * plane;
        col2im_block(p, col + i * b->pb, b->cols, gxg, c, c + 1, b->oh0, b->oh1);
    }
}

/* rows of the packed-B layout are copied into their NR-wide panels in whole panels of
 * constant size (inlined vector moves; a library call per 64 bytes costs more than the
 * copy), the last one padded with zeros. */
static inline void row_to_panels(float *restrict dst, const float *restrict row, int64_t n,
                                 int64_t nr, int64_t pstride) {
    int64_t full = n / nr, jp = 0;
    if (nr == 16)
        for (; jp < full; jp++) memcpy(dst + jp * pstride, row + jp * 16, 64);
    else if (nr == 6) /* MR-wide panels of the AS_B orientation (AVX2) */
        for (; jp < full; jp++) memcpy(dst + jp * pstride, row + jp * 6, 24);
    else if (nr == 32)
        for (; jp < full; jp++) memcpy(dst + jp * pstride, row + jp * 32, 128);
    else if (nr == 8)
        for (; jp < full; jp++) memcpy(dst + jp * pstride, row + jp * 8, 32);
    for (; jp * nr < n; jp++) {
        float *dp = dst + jp * pstride;
        int64_t m = fc_min64(nr, n - jp * nr);
        for (int64_t j = 0; j < m; j++) dp[j] = row[jp * nr + j];
        for (int64_t j = m; j < nr; j++) dp[j] = 0.0f;
    }
}

/* Rows [oh0, oh1) of one tap's row, o[oh - oh0][ow] = x[oh + dr][ow + off] (zero outside
 * x), for a stride-1 tap whose output rows are as wide as x's (W == OW) and whose valid
 * columns [lo, hi) are not empty: the rows that fall inside x are then one run of x,
 * copied at once (a 3x3 layer at 7x7 made a library call per 7 floats), then its
 * columns that fall outside x zeroed. The run is clipped to x's plane; what it leaves
 * lies in those columns. Returns o past the rows. */
static float *flat_rows(float *restrict o, const float *restrict xc, int64_t H, int64_t W,
                        int64_t oh0, int64_t oh1, int64_t dr, int64_t off, int64_t lo,
                        int64_t hi) {
    int64_t a = fc_min64(oh1, fc_max64(oh0, -dr)), e = fc_max64(a, fc_min64(oh1, H - dr));
    memset(o, 0, (size_t)((a - oh0) * W) * sizeof(float));
    float *run = o + (a - oh0) * W;
    int64_t n = (e - a) * W, s0 = (a + dr) * W + off; /* x's flat index of run[0] */
    int64_t k0 = fc_max64(0, -s0), k1 = fc_min64(n, H * W - s0);
    if (k0 < k1) memcpy(run + k0, xc + s0 + k0, (size_t)(k1 - k0) * sizeof(float));
    for (int64_t oh = a; oh < e; oh++, run += W) {
        for (int64_t ow = 0; ow < lo; ow++) run[ow] = 0.0f;
        for (int64_t ow = hi; ow < W; ow++) run[ow] = 0.0f;
    }
    memset(run, 0, (size_t)((oh1 - e) * W) * sizeof(float));
    return run + (oh1 - e) * W;
}

/* The forward block's column matrix for group g written straight into the GEMM's
 * packed-B layout (see gemm.h): each row (c, r, s) is built in a row buffer (cols
 * floats, stays in L1), then copied into its NR-wide panels, saving the write and
 * re-read of a plain column matrix. The block's columns are laid out in chunks of
 * `chunk` (a multiple of nr; the last may be short), each a packed B of its own at
 * j0 * CRS, for one GEMM per epilogue chunk (fwd_item_epilogue). Rows are
 * independent: split over threads in one parallel region when `par`, thread t using
 * row buffer t. With nr = MR and one chunk the same panels are the packed-A layout of
 * col^T (the AS_B orientation, use_layout). */
static void im2col_packed_run(const plan *p, const float *x, int64_t g, const block *b,
                              float *dst, float *rowbufs, int par, int64_t nr, int64_t chunk) {
    const fc_conv2d_desc *d = p->d;
    const int64_t H = d->H, W = d->W, OW = p->OW, plane = H * W, sw = d->stride_w;
    const int64_t kstep = fc_gemm_kstep(p->CRS);
    /* stride 1 both ways and rows as wide as the input's: a tap's valid rows are one
     * run of x (flat_rows). ResNet-50's 512 -> 512 3x3 at 7x7, batch 8: 255.7M ->
     * 250.4M instructions (callgrind, AVX2), 19.6-19.8 -> 19.3-19.4 ms (AVX-512, 1
     * thread, CPU time, medians of 7, three alternating rounds); 256 -> 256 at 14x14
     * 19.2-20.7 -> 19.0-19.5 ms. */
    const int flat = sw == 1 && d->stride_h == 1 && W == OW;
    #pragma omp parallel num_threads(p->threads) if (par)
    {
        float *rw = rowbufs;
#ifdef _OPENMP
        if (par) rw += (int64_t)omp_get_thread_num() * p->cols;
#endif
        #pragma omp for schedule(static)
        for (int64_t q = 0; q < p->CRS; q++) {
            int64_t c = q / (p->R * p->S), r = (q / p->S) % p->R, s = q % p->S;
            int64_t off = s * d->dilation_w - d->pad_left, lo, hi;
            valid_cols(OW, W, sw, off, &lo, &hi);
            int64_t pc = (q / kstep) * kstep, kc = fc_min64(kstep, p->CRS - pc);
            float *o = rw;
            for (int64_t i = 0; i < b->nn; i++) {
                const float *xc = x + ((b->n0 + i) * d->C + g * p->Cg + c) * plane;
                if (flat && lo < hi) {
                    o = flat_rows(o, xc, H, W, b->oh0, b->oh1, r * d->dilation_h - d->pad_top,
                                  off, lo, hi);
                    continue;
                }
                for (int64_t oh = b->oh0; oh < b->oh1; oh++, o += OW) {
                    int64_t ih = oh * d->stride_h - d->pad_top + r * d->dilation_h;
                    if (ih < 0 || ih >= H || lo >= hi) {
                        for (int64_t ow = 0; ow < OW; ow++) o[ow] = 0.0f;
                        continue;
                    }
                    const float *src = xc + ih * W + off;
                    for (int64_t ow = 0; ow < lo; ow++) o[ow] = 0.0f;
                    if (sw == 1)
                        memcpy(o + lo, src + lo, (size_t)(hi - lo) * sizeof(float));
                    else
                        gather_run(o + lo, src + lo * sw, hi - lo, sw);
                    for (int64_t ow = hi; ow < OW; ow++) o[ow] = 0.0f;
                }
            }
            for (int64_t j0 = 0; j0 < b->cols; j0 += chunk) {
                int64_t jn = fc_min64(chunk, b->cols - j0), Nr = fc_ceil_div(jn, nr) * nr;
                row_to_panels(dst + j0 * p->CRS + Nr * pc + (q - pc) * nr, rw + j0, jn, nr,
                              nr * kc);
            }
        }
    }
}

/* stage[k][i*P + j] = t[n0 + i][g*K_g + k][j]: the K_g planes of group g of a
 * multi-image block side by side (t is y-shaped: [N][K][P]). */
static void gather_planes(const plan *p, const float *t, int64_t g, const block *b,
                          float *stage) {
    for (int64_t k = 0; k < p->Kg; k++)
        for (int64_t i = 0; i < b->nn; i++)
            memcpy(stage + k * b->cols + i * p->P,
                   t + ((b->n0 + i) * p->d->K + g * p->Kg + k) * p->P,
                   (size_t)p->P * sizeof(float));
}

/* Block b's grad_y rows of group g as one matrix [K_g][cols] (*ld floats apart): in
 * place for one image, else its images' planes gathered into stage. */
static const float *block_gy(const plan *p, const float *gy, int64_t g, const block *b,
                             float *stage, int64_t *ld) {
    if (b->nn > 1) {
        gather_planes(p, gy, g, b, stage);
        *ld = b->cols;
        return stage;
    }
    *ld = p->P;
    return gy + (b->n0 * p->d->K + g * p->Kg) * p->P + b->oh0 * p->OW;
}

/* Runs fn(item, worker, gemm threads) over items: across threads with serial GEMMs,
 * or one after another with the GEMM threaded. */
typedef fc_status (*item_fn)(const plan *p, const void *ctx, int64_t item, worker *wk, int gt);

static fc_status run_items(const plan *p, const void *ctx, int64_t items, worker *wk,
                           item_fn fn) {
    fc_status st = FC_SUCCESS;
    if (!p->across) {
        for (int64_t i = 0; i < items && st == FC_SUCCESS; i++) st = fn(p, ctx, i, &wk[0], p->threads);
        return st;
    }
    int bad = 0;
    #pragma omp parallel num_threads(p->threads)
    {
        int t = 0;
#ifdef _OPENMP
        t = omp_get_thread_num();
#endif
        /* dynamic: on a shared machine one core often runs slower than the other */
        #pragma omp for schedule(dynamic, 1)
        for (int64_t i = 0; i < items; i++)
            if (fn(p, ctx, i, &wk[t], 1) != FC_SUCCESS) __atomic_store_n(&bad, 1, __ATOMIC_RELAXED);
    }
    return bad ? FC_INVALID_WORKSPACE : FC_SUCCESS;
}

/* ------------------------------------------------------------------ forward */

typedef struct fwd_ctx {
    const float *x, *wp;
    const fc_epilogue *ep;
    float *y;
} fwd_ctx;

/* Block `b` of group g with an epilogue: each GEMM output chunk (all K_g rows, jn
 * columns, which may straddle images) goes to y, or to the stage when the block holds
 * several images or the residual is y itself, and the epilogue runs on it before the
 * next chunk. */
static fc_status fwd_item_epilogue(const plan *p, const fwd_ctx *c, int64_t g, const block *b,
                                   const float *Bp, worker *wk, int gt) {
    const fc_conv2d_desc *d = p->d;
    const fc_epilogue *ep = c->ep;
    int staged = b->nn > 1 || ep->residual == c->y;
    int64_t yat = (b->n0 * d->K + g * p->Kg) * p->P + b->oh0 * p->OW;
    fc_status st = FC_SUCCESS;
    for (int64_t j0 = 0; j0 < b->cols && st == FC_SUCCESS; j0 += p->epi_cols) {
        int64_t jn = fc_min64(p->epi_cols, b->cols - j0);
        const float *B = NULL;
        if (p->direct) B = c->x + (b->n0 * d->C + g * p->Cg) * p->P + b->oh0 * p->OW + j0;
        float *out = staged ? wk->stage : c->y + yat + j0;
        int64_t ldc = staged ? jn : p->P;
        const float *Bc = Bp ? Bp + j0 * p->CRS : NULL; /* the chunk's own panels */
        fc_gemm_args ga = {0, 0, p->Kg, jn, p->CRS, 1.0f, NULL, p->CRS, B, p->P, 0.0f, out, ldc,
                           c->wp + g * p->wp_group, Bc};
        wk->gemm.used = 0;
        st = fc_gemm_run(&ga, gt, &wk->gemm);
        /* image i holds columns [i*pb, (i+1)*pb) of the block: the chunk's part of them */
        #pragma omp parallel for num_threads(p->threads) schedule(static) if (gt > 1)
        for (int64_t t = 0; t < b->nn * p->Kg; t++) {
            int64_t i = t / p->Kg, k = t % p->Kg;
            int64_t lo = fc_max64(j0, i * b->pb), hi = fc_min64(j0 + jn, (i + 1) * b->pb);
            if (lo >= hi) continue;
            int64_t at = ((b->n0 + i) * d->K + g * p->Kg + k) * p->P + b->oh0 * p->OW +
                         (lo - i * b->pb);
            fc_epilogue_row(ep, g * p->Kg + k, out + k * ldc + (lo - j0), c->y, at, hi - lo);
        }
    }
    return st;
}

/* Block `b` of group g in the AS_B orientation: each chunk's C^T (jn x K_g) goes to
 * the stage, is transposed behind it, and the epilogue writes y from there, eight
 * channels at a time (their rows of the transposed chunk stay in L1). */
static fc_status fwd_item_as_b(const plan *p, const fwd_ctx *c, int64_t g, const block *b,
                               worker *wk, int gt) {
    const fc_conv2d_desc *d = p->d;
    const int64_t Kg = p->Kg;
    const float *Ap = NULL;
    if (!p->direct) { /* the column panels as the packed A: MR wide */
        int64_t panels = fc_gemm_packed_a_floats(b->cols, p->CRS);
        im2col_packed_run(p, c->x, g, b, wk->col, wk->col + panels, gt > 1, fc_gemm_mr(),
                          b->cols);
        Ap = wk->col;
    }
    float *ct = wk->stage, *t = wk->stage + Kg * p->epi_cols;
    fc_status st = FC_SUCCESS;
    for (int64_t j0 = 0; j0 < b->cols && st == FC_SUCCESS; j0 += p->epi_cols) {
        int64_t jn = fc_min64(p->epi_cols, b->cols - j0);
        const float *A = NULL; /* 1x1: op(A) = x_g^T, x_g being [Cg][P] */
        if (p->direct) A = c->x + (b->n0 * d->C + g * p->Cg) * p->P + b->oh0 * p->OW + j0;
        fc_gemm_args ga = {1, 0, jn, Kg, p->CRS, 1.0f, A, p->P, NULL, Kg, 0.0f, ct, Kg, Ap,
                           c->wp + g * p->wp_group};
        wk->gemm.used = 0;
        st = fc_gemm_run(&ga, gt, &wk->gemm);
        int64_t per = b->nn > 1 ? p->P : jn; /* image i: columns [i*per, (i+1)*per) */
        #pragma omp parallel for num_threads(p->threads) schedule(static) if (gt > 1)
        for (int64_t k0 = 0; k0 < Kg; k0 += 8) {
            int64_t k1 = fc_min64(Kg, k0 + 8);
            for (int64_t j = 0; j < jn; j++)
                for (int64_t k = k0; k < k1; k++) t[k * jn + j] = ct[j * Kg + k];
            for (int64_t k = k0; k < k1; k++)
                for (int64_t i = 0; i < b->nn; i++) {
                    int64_t at = ((b->n0 + i) * d->K + g * Kg + k) * p->P + b->oh0 * p->OW + j0;
                    fc_epilogue_row(c->ep, g * Kg + k, t + k * jn + i * per, c->y, at, per);
                }
        }
    }
    return st;
}

/* item = (image block, row block, group) */
static fc_status fwd_item(const plan *p, const void *vctx, int64_t item, worker *wk, int gt) {
    const fwd_ctx *c = (const fwd_ctx *)vctx;
    const fc_conv2d_desc *d = p->d;
    int64_t g = item % p->G, rb = (item / p->G) % p->nrb, ib = item / (p->G * p->nrb);
    block b = get_block(p, ib, rb);
    if (p->layout == FC_IM2COL_WEIGHTS_AS_B) return fwd_item_as_b(p, c, g, &b, wk, gt);
    const float *B;
    int64_t ldb;
    if (p->direct) { /* x[n][g] is [Cg][H*W] with H*W == P */
        B = c->x + (b.n0 * d->C + g * p->Cg) * p->P + b.oh0 * p->OW;
        ldb = p->P;
    }
    const float *Bp = NULL;
    if (!p->direct) {
        int64_t panels = fc_gemm_packed_b_floats(b.cols, p->CRS);
        im2col_packed_run(p, c->x, g, &b, wk->col, wk->col + panels, gt > 1, fc_gemm_nr(),
                          p->epi_cols);
        Bp = wk->col;
        B = NULL;
        ldb = b.cols;
    }
    /* One image's block in one GEMM that applies the epilogue at its tile stores, in
     * registers: no second pass over the output, and the residual's loads overlap the
     * arithmetic. ResNet-50's 64 -> 256 1x1 at 56x56 with bias, residual and ReLU,
     * batch 8, 1 thread: 12.2 -> 8.x ms (plain convolution 8.0). Not when y is the
     * residual and the reduction spans several K blocks: the first blocks' partial
     * sums would overwrite it; nor for several images and K blocks (make_plan). */
    const fc_epilogue *ep = c->ep;
    int in_place = ep->residual && ep->residual == c->y;
    int multi = fc_gemm_kstep(p->CRS) < p->CRS;
    if ((multi && (b.nn > 1 || in_place)) || (!p->direct && b.cols > p->epi_cols))
        return fwd_item_epilogue(p, c, g, &b, Bp, wk, gt);
    int64_t yat = (b.n0 * d->K + g * p->Kg) * p->P + b.oh0 * p->OW;
    fc_gemm_epi e = {ep->scale ? ep->scale + g * p->Kg : NULL,
                     ep->bias ? ep->bias + g * p->Kg : NULL,
                     ep->residual ? ep->residual + yat : NULL, p->P, ep->relu};
    int none = !e.scale && !e.bias && !e.res && !e.relu;
    fc_gemm_args ga = {0, 0, p->Kg, b.cols, p->CRS, 1.0f, NULL, p->CRS, B, ldb, 0.0f,
                       c->y + yat, p->P, c->wp + g * p->wp_group, Bp, none ? NULL : &e,
                       b.nn > 1 ? b.pb : 0, d->K * p->P};
    wk->gemm.used = 0;
    return fc_gemm_run(&ga, gt, &wk->gemm);
}

/* Every group's w_g [K_g][CRS] as the GEMM's packed A (or w_g^T as its packed B),
 * group after group. */
static void pack_forward_weights(const plan *p, const float *w, float *wp) {
    for (int64_t g = 0; g < p->G; g++) {
        const float *wg = w + g * p->Kg * p->CRS;
        if (p->layout == FC_IM2COL_WEIGHTS_AS_B)
            fc_gemm_pack_b(1, p->CRS, p->Kg, wg, p->CRS, wp + g * p->wp_group, p->threads);
        else
            fc_gemm_pack_a(0, p->Kg, p->CRS, wg, p->CRS, wp + g * p->wp_group, p->threads);
    }
}

/* The forward from packed weights: `w` plain (packed here into the workspace, as A)
 * when wp_given is NULL. */
static fc_status forward(const fc_conv2d_desc *d, int layout, const float *x, const float *w,
                         const float *wp_given, const fc_epilogue *ep, float *y, fc_arena *ws) {
    plan p;
    make_plan(d, FC_PASS_FORWARD, &p);
    p.prepacked = wp_given != NULL;
    use_layout(&p, layout);
    worker wk[64];
    if ((p.across ? p.threads : 1) > 64) return FC_INVALID_ARGUMENT;
    float *wp;
    fc_status st = carve(&p, ws, wk, p.across ? p.threads : 1, &wp);
    if (st != FC_SUCCESS) return st;
    if (wp_given) wp = (float *)wp_given; /* only read */
    else pack_forward_weights(&p, w, wp); /* once for every image and block */
    fwd_ctx c = {x, wp, ep, y};
    return run_items(&p, &c, p.nib * p.nrb * p.G, wk, fwd_item);
}

fc_status fc_conv_im2col_forward(const fc_conv2d_desc *d, const float *x, const float *w,
                                 const fc_epilogue *ep, float *y, fc_arena *ws) {
    return forward(d, FC_IM2COL_WEIGHTS_AS_A, x, w, NULL, ep, y, ws);
}

/* AS_B when it fills the register tiles at least FC_IM2COL_AS_B_GAIN better (its
 * output transposition costs a few percent). Measured at batch 1, AVX2, one call
 * (callgrind instructions; fastest of 120 alternating runs, 1 and 2 threads, loaded
 * machine): ResNet-18's 512 -> 512 3x3 at 7x7 41.2M -> 35.2M, 3.61 -> 3.41 ms and
 * 3.73 -> 3.38 ms; 256 -> 512 3x3 stride 2 21.0M -> 18.1M, 1.78 -> 1.62 and
 * 1.37 -> 1.14 ms. At 14x14 (196 columns: 208 lanes against 198) 3% fewer
 * instructions but no clear time gain, so the rule keeps it with AS_A. */
#define FC_IM2COL_AS_B_GAIN 0.9

int fc_conv_im2col_weights_layout(const fc_conv2d_desc *d) {
    plan p;
    make_plan(d, FC_PASS_FORWARD, &p);
    double mr = (double)fc_gemm_mr(), nr = (double)fc_gemm_nr();
    double cols = (double)p.cols, kg = (double)p.Kg;
    double as_a = ceil(cols / nr) * nr / cols * (ceil(kg / mr) * mr / kg);
    double as_b = ceil(cols / mr) * mr / cols * (ceil(kg / nr) * nr / kg);
    return as_b < FC_IM2COL_AS_B_GAIN * as_a ? FC_IM2COL_WEIGHTS_AS_B : FC_IM2COL_WEIGHTS_AS_A;
}

int64_t fc_conv_im2col_packed_weights_floats(const fc_conv2d_desc *d, int layout) {
    plan p;
    make_plan(d, FC_PASS_FORWARD, &p);
    use_layout(&p, layout);
    int64_t n;
    return p.wp_group >= 0 && fc_mul_ok(p.wp_group, p.G, &n) ? n : -1;
}

void fc_conv_im2col_pack_weights(const fc_conv2d_desc *d, int layout, const float *w,
                                 float *wp) {
    plan p;
    make_plan(d, FC_PASS_FORWARD, &p);
    use_layout(&p, layout);
    pack_forward_weights(&p, w, wp);
}

size_t fc_conv_im2col_prepacked_workspace(const fc_conv2d_desc *d) {
    size_t most = 0;
    for (int layout = 0; layout < 2; layout++) { /* either: the buffer's decides */
        plan p;
        make_plan(d, FC_PASS_FORWARD, &p);
        p.prepacked = 1;
        use_layout(&p, layout);
        size_t n = plan_workspace(&p);
        if (n == SIZE_MAX) return SIZE_MAX;
        most = n > most ? n : most;
    }
    return most;
}

fc_status fc_conv_im2col_forward_prepacked(const fc_conv2d_desc *d, int layout,
                                           const float *x, const float *wp,
                                           const fc_epilogue *ep, float *y, fc_arena *ws) {
    return forward(d, layout, x, NULL, wp, ep, y, ws);
}

/* ------------------------------------------- forward, weights read in place */

/* y_g[K_g][cols] = w_g . col with w_g read where it lies (conv/im2col_inplace.h): the
 * columns of a block of nimg images (cols = nimg * P, at most FC_IM2COL_INPLACE_MAX_COLS) in
 * a plain matrix whose rows are ldb floats apart (cols rounded up to 16, the widest
 * vector; lanes past cols zeroed), the product in a stage [K_g][ldb], from which the
 * epilogue writes y. One block at a time; the threads split its im2col by (image,
 * channel) and then its output channels (each reads its rows of w_g, the whole
 * column matrix and writes its stage rows and y rows). The reduction runs in blocks
 * of kc rows of col, which stay in L2 while every row tile of w_g passes. */
#define FC_INPLACE_KC_FLOATS (48 * 1024)
#define FC_INPLACE_KC_MAX 512

typedef struct inplace_plan {
    plan p;          /* shapes (im2col_block reads d, R, S, OW) */
    int64_t nimg, nib, ldb, kc;
    int64_t col_floats, stage_floats;
} inplace_plan;

static int64_t round_up64(int64_t a, int64_t b) { return fc_ceil_div(a, b) * b; }

static void make_inplace_plan(const fc_conv2d_desc *d, inplace_plan *q) {
    make_plan(d, FC_PASS_FORWARD, &q->p);
    const plan *p = &q->p;
    q->nimg = fc_max64(1, fc_min64(d->N, FC_IM2COL_INPLACE_MAX_COLS / fc_max64(1, p->P)));
    q->nimg = fc_ceil_div(d->N, fc_ceil_div(d->N, q->nimg)); /* equal blocks */
    q->nib = fc_ceil_div(d->N, q->nimg);
    q->ldb = round_up64(q->nimg * p->P, 16);
    int64_t kc = fc_min64(FC_INPLACE_KC_MAX, fc_max64(64, FC_INPLACE_KC_FLOATS / q->ldb));
    q->kc = fc_ceil_div(p->CRS, fc_ceil_div(p->CRS, kc));
    if (!fc_mul_ok(p->CRS, q->ldb, &q->col_floats)) q->col_floats = -1;
    if (!fc_mul_ok(p->Kg, q->ldb, &q->stage_floats)) q->stage_floats = -1;
}

size_t fc_conv_im2col_inplace_workspace(const fc_conv2d_desc *d) {
    inplace_plan q;
    make_inplace_plan(d, &q);
    size_t total = 0;
    if (q.col_floats < 0 || q.stage_floats < 0 ||
        !fc_ws_add(&total, q.col_floats, sizeof(float)) ||
        !fc_ws_add(&total, q.stage_floats, sizeof(float)))
        return SIZE_MAX;
    return total;
}

/* Test hooks (not in fastconv.h): -1 AUTO's rule (conv2d.c), 0 never, 1 always (for
 * FC_CONV_IM2COL too); and how many forwards took the path. Not thread-safe. */
FC_TEST_MODE(fc_conv_im2col_set_inplace, fc_conv_im2col_inplace_override)
FC_TEST_COUNTER(fc_conv_im2col_inplace_runs)

fc_status fc_conv_im2col_forward_inplace(const fc_conv2d_desc *d, const float *x,
                                         const float *w, const fc_epilogue *ep, float *y,
                                         fc_arena *ws) {
    inplace_plan q;
    make_inplace_plan(d, &q);
    const plan *p = &q.p;
    float *col = (float *)fc_arena_alloc(ws, (size_t)q.col_floats * sizeof(float));
    float *stage = (float *)fc_arena_alloc(ws, (size_t)q.stage_floats * sizeof(float));
    if (!col || !stage) return FC_INVALID_WORKSPACE;
    FC_TEST_COUNT(fc_conv_im2col_inplace_runs);
    const fc_kernels *kt = fc_kernels_active(); /* the call's table, for every thread */
    const fc_conv_inplace_fn kernel = kt->conv_inplace.forward;
    const int64_t vl = kt->conv_inplace.vl, mr = kt->conv_inplace.mr;
    const int64_t plane = d->H * d->W, RS = p->R * p->S, ldb = q.ldb;
    int T = p->threads;
    #pragma omp parallel num_threads(T) if (T > 1)
    {
        int t, nt;
        fc_team(&t, &nt);
        /* this thread's output channels: whole register tiles */
        int64_t tiles = fc_ceil_div(p->Kg, mr);
        int64_t k0 = fc_min64(p->Kg, tiles * t / nt * mr);
        int64_t k1 = fc_min64(p->Kg, tiles * (t + 1) / nt * mr);
        for (int64_t item = 0; item < q.nib * p->G; item++) {
            int64_t g = item % p->G, n0 = item / p->G * q.nimg;
            int64_t nn = fc_min64(q.nimg, d->N - n0), cols = nn * p->P;
            int64_t nv = fc_ceil_div(cols, vl), padded = nv * vl;
            #pragma omp for schedule(static)
            for (int64_t ic = 0; ic < nn * p->Cg; ic++) {
                int64_t i = ic / p->Cg, c = ic % p->Cg;
                const float *xg = x + ((n0 + i) * d->C + g * p->Cg) * plane;
                im2col_block(p, xg, col + i * p->P, ldb, c, c + 1, 0, p->OH);
                if (i == nn - 1) /* the lanes past the block's columns */
                    for (int64_t r = c * RS; r < (c + 1) * RS; r++)
                        for (int64_t j = cols; j < padded; j++) col[r * ldb + j] = 0.0f;
            } /* implicit barrier: col complete */
            if (k0 < k1) {
                const float *wg = w + (g * p->Kg + k0) * p->CRS;
                for (int64_t pc = 0; pc < p->CRS; pc += q.kc)
                    kernel(fc_min64(q.kc, p->CRS - pc), k1 - k0, nv, wg + pc, p->CRS,
                           col + pc * ldb, ldb, stage + k0 * ldb, ldb, pc > 0);
                for (int64_t k = k0; k < k1; k++)
                    for (int64_t i = 0; i < nn; i++)
                        fc_epilogue_row(ep, g * p->Kg + k, stage + k * ldb + i * p->P, y,
                                        ((n0 + i) * d->K + g * p->Kg + k) * p->P, p->P);
            }
            #pragma omp barrier
        }
    }
    return FC_SUCCESS;
}

/* ------------------------------------------------------------ backward-data */

typedef struct bwd_data_ctx {
    const float *gy, *wp;
    float *gx;
} bwd_data_ctx;

/* item = (image block, group); its row blocks run in order (their col2im overlap). */
static fc_status bwd_data_item(const plan *p, const void *vctx, int64_t item, worker *wk,
                               int gt) {
    const bwd_data_ctx *c = (const bwd_data_ctx *)vctx;
    const fc_conv2d_desc *d = p->d;
    int64_t g = item % p->G, ib = item / p->G, plane = d->H * d->W;
    const float *wg = c->wp + g * p->wp_group; /* w_g^T, packed */
    fc_status st = FC_SUCCESS;
    if (p->direct) { /* gx_g[Cg][HW] = w_g^T . gy_g, image by image (nimg == 1) */
        block b = get_block(p, ib, 0);
        fc_gemm_args ga = {1, 0, p->Cg, p->P, p->Kg, 1.0f, NULL, p->CRS,
                           c->gy + (b.n0 * d->K + g * p->Kg) * p->P, p->P, 0.0f,
                           c->gx + (b.n0 * d->C + g * p->Cg) * plane, p->P, wg};
        wk->gemm.used = 0;
        return fc_gemm_run(&ga, gt, &wk->gemm);
    }
    if (p->folded) { /* several images' columns at once, written straight into gx */
        block b = get_block(p, ib, 0);
        int64_t ldb;
        const float *B = block_gy(p, c->gy, g, &b, wk->stage, &ldb);
        fc_gemm_args ga = {1, 0, p->Cg, b.cols, p->Kg, 1.0f, NULL, p->CRS, B, ldb, 0.0f,
                           c->gx + (b.n0 * d->C + g * p->Cg) * plane, p->P, wg};
        ga.img_cols = p->P;
        ga.img_stride = d->C * plane;
        wk->gemm.used = 0;
        return fc_gemm_run(&ga, gt, &wk->gemm);
    }
    for (int64_t rb = 0; rb < p->nrb && st == FC_SUCCESS; rb++) {
        block b = get_block(p, ib, rb);
        if (rb == 0)
            for (int64_t i = 0; i < b.nn; i++)
                memset(c->gx + ((b.n0 + i) * d->C + g * p->Cg) * plane, 0,
                       (size_t)(p->Cg * plane) * sizeof(float));
        int64_t ldb;
        const float *B = block_gy(p, c->gy, g, &b, wk->stage, &ldb);
        fc_gemm_args ga = {1, 0, p->CRS, b.cols, p->Kg, 1.0f, NULL, p->CRS, B, ldb, 0.0f,
                           wk->col, b.cols, wg};
        wk->gemm.used = 0;
        st = fc_gemm_run(&ga, gt, &wk->gemm);
        col2im_run(p, wk->col, g, &b, c->gx, gt > 1);
    }
    return st;
}

fc_status fc_conv_im2col_backward_data(const fc_conv2d_desc *d, const float *gy,
                                       const float *w, float *gx, fc_arena *ws) {
    plan p;
    make_plan(d, FC_PASS_BACKWARD_DATA, &p);
    worker wk[64];
    if ((p.across ? p.threads : 1) > 64) return FC_INVALID_ARGUMENT;
    float *wp;
    fc_status st = carve(&p, ws, wk, p.across ? p.threads : 1, &wp);
    if (st != FC_SUCCESS) return st;
    /* w_g^T ([CRS][K_g], read from w_g [K_g][CRS]) packed once for every image. */
    for (int64_t g = 0; g < p.G; g++)
        fc_gemm_pack_a(1, p.direct ? p.Cg : p.CRS, p.Kg, w + g * p.Kg * p.CRS, p.CRS,
                       wp + g * p.wp_group, p.threads);
    bwd_data_ctx c = {gy, wp, gx};
    return run_items(&p, &c, p.nib * p.G, wk, bwd_data_item);
}

/* --------------------------------------------------------- backward-weights */

/* Fused packing: the GEMM gw_g[K_g][CRS] += gy[K_g][cols] . col^T runs here, around the
 * micro-kernel, NR columns of gw (NR rows q = (c, r, s) of col) at a time: those rows
 * are gathered from x into a row buffer (NR x cols, in L1/L2), transposed K block by K
 * block into one B panel [kc][NR] (L1), which every MR-row panel of the packed gy then
 * takes at once. The column matrix (CRS x cols, 2.5 MB for a 5x5 layer with 64
 * channels: past L2) is never written nor read back, and the packed B never leaves L1.
 * Panels are independent (disjoint columns of gw): split over threads when the GEMM
 * would have been threaded. Two other sources of the same B panels skip the row buffer
 * and its transposition where they measured faster: channels-last (bwd_w_cl_panels,
 * layers with many channels) and padded rows (bwd_w_xp_panels, strides >= 4). */

static int64_t align16(int64_t n) { return (n + 15) / 16 * 16; }

/* Whether backward-weights takes the fused panels: a column matrix to build, and C*R*S
 * not so narrow that the plain GEMM would compute grad_w^T instead
 * (fc_gemm_transposes: CRS along MR wastes fewer lanes). A 3x3 layer with one input channel
 * (CRS 9: 23 of 32 lanes of every panel idle) ran 6.3-6.8 ms plain, 8.5 ms fused
 * (64 -> 64 channels, 28x28, batch 64, 1 thread, CPU time, medians of 5, two
 * alternating rounds); 3 channels (CRS 27) ran the same either way. */
static int bwd_w_fuses(const plan *p) {
    return !p->direct && !fc_gemm_transposes(p->Kg, p->CRS);
}

/* The longest K block of any block's GEMM (a last, narrower block may have longer
 * ones than p->cols: fc_gemm_kstep evens them out). */
static int64_t bwd_w_kmax(const plan *p) {
    return fc_min64(fc_kernels_active()->gemm.kc, p->cols);
}

/* Per worker: the packed gy (all K blocks), then per GEMM thread a row buffer and a
 * B panel; -1 on overflow. */
static int64_t bwd_w_fused_floats(const plan *p, int gt) {
    int64_t nr = fc_gemm_nr(), pa = fc_gemm_packed_a_floats(p->Kg, p->cols), rb, per;
    if (pa < 0 || !fc_mul_ok(nr, p->cols, &rb) || rb > INT64_MAX / 2 - 64) return -1;
    per = align16(rb) + align16(nr * bwd_w_kmax(p));
    if (!fc_mul_ok(per, gt, &per) || per > INT64_MAX - align16(pa)) return -1;
    return align16(pa) + per;
}

/* Channels-last panels: the block's input rows, padded, are transposed once into xt
 * [image][channel block][row][column][NR] (NR channels side by side, zeros past C_g),
 * and the GEMM runs against grad_w's permutation [K][R][S][C]: a panel of NR columns
 * is NR channels of one tap (r, s), whose B panel rows (one per output position) are
 * runs of xt: along an output row with stride 1 one copy of OW * NR floats. The
 * transposition moves C*H*W floats per image instead of the column matrix's C*R*S*P.
 * For layers with at least 8/9 of each panel's lanes busy (C_g = 64: 2 panels of 32
 * per tap; not 3 channels) and an xt no larger than the block's column matrix (a huge
 * padding or dilation keeps the row panels). Batch 8 dense 5x5 64 -> 64 at 28x28
 * 14.1-14.4 -> 12.6-12.7 ms (PyTorch 12.9-13.3), AlexNet conv3 68.0-70.2 -> 66.1-67.1,
 * batch 16 ResNet 3x3 64 -> 64 at 56x56 41.9-42.1 -> 38.6-39.3 (1 thread, CPU time,
 * medians of 7, three alternating rounds; AVX2 dense 5x5: 199M -> 175M instructions). */
static int64_t bwd_w_cblocks(const plan *p) { return fc_ceil_div(p->Cg, fc_gemm_nr()); }
static int64_t bwd_w_xt_rows(const plan *p) {
    return (p->rows - 1) * p->d->stride_h + (p->R - 1) * p->d->dilation_h + 1;
}
static int64_t bwd_w_xt_cols(const plan *p) {
    return (p->OW - 1) * p->d->stride_w + (p->S - 1) * p->d->dilation_w + 1;
}

/* floats of one image's xt, -1 on overflow */
static int64_t bwd_w_xt_image(const plan *p) {
    int64_t n = bwd_w_cblocks(p) * fc_gemm_nr();
    if (!fc_mul_ok(n, bwd_w_xt_rows(p), &n) || !fc_mul_ok(n, bwd_w_xt_cols(p), &n)) return -1;
    return n;
}

static int bwd_w_channels_last(const plan *p) {
    int64_t lanes = bwd_w_cblocks(p) * fc_gemm_nr(), xt = bwd_w_xt_image(p), col;
    if (8 * lanes > 9 * p->Cg || xt < 0 || !fc_mul_ok(xt, p->nimg, &xt)) return 0;
    return fc_mul_ok(p->CRS, p->cols, &col) && xt <= col;
}

/* Per worker: the packed gy, xt, then per GEMM thread a B panel; -1 on overflow. */
static int64_t bwd_w_cl_floats(const plan *p, int gt) {
    int64_t pa = fc_gemm_packed_a_floats(p->Kg, p->cols), xt = bwd_w_xt_image(p), bp;
    if (pa < 0 || xt < 0 || !fc_mul_ok(xt, p->nimg, &xt) ||
        !fc_mul_ok(align16(fc_gemm_nr() * bwd_w_kmax(p)), gt, &bp) || xt > INT64_MAX / 4 ||
        pa > INT64_MAX / 4 || bp > INT64_MAX / 4)
        return -1;
    return align16(pa) + align16(xt) + bp;
}

/* Padded panels: the block's input rows copied once, padded with zeros, into xp
 * [image][channel][row][column]; the NR columns q = (c, r, s) of a B panel row (one
 * output position) are then runs of xp along s (one per (c, r) the panel spans),
 * copied straight into the panel: no row buffer, no transposition. For a wide stride
 * (>= 4), whose row panels gather stride_w of every S taps one float at a time: AlexNet
 * conv1 (3 -> 96, 11x11/4, batch 8) 20.1-20.4 -> 19.2-19.6 ms, 8 -> 96 channels at
 * 115x115 6.3-6.4 -> 5.9-6.05 ms (1 thread, CPU time, medians of 7, alternating). Not
 * at stride 2 (ResNet conv1 7x7/2: 51.2-51.7 -> 52.3-53.4 ms, runs of 7 taps against
 * row panels that copy 5 of 7 rows as runs) nor 1 (3x3, 16 -> 64 channels at 56x56:
 * 6.3-6.5 -> 7.6-8.0 ms). */
static int64_t bwd_w_xp_image(const plan *p) {
    int64_t n;
    if (!fc_mul_ok(p->Cg, bwd_w_xt_rows(p), &n) || !fc_mul_ok(n, bwd_w_xt_cols(p), &n)) return -1;
    return n;
}

static int bwd_w_padded(const plan *p) {
    int64_t xp = bwd_w_xp_image(p), col;
    if (p->d->stride_w < 4 || xp < 0 || !fc_mul_ok(xp, p->nimg, &xp)) return 0;
    return fc_mul_ok(p->CRS, p->cols, &col) && xp <= col;
}

/* a B panel and the 16 floats the last position's copy may spill past it */
static int64_t bwd_w_xp_panel(const plan *p) {
    return align16(fc_gemm_nr() * bwd_w_kmax(p) + 16);
}

static int64_t bwd_w_xp_floats(const plan *p, int gt) {
    int64_t pa = fc_gemm_packed_a_floats(p->Kg, p->cols), xp = bwd_w_xp_image(p), bp;
    if (pa < 0 || xp < 0 || !fc_mul_ok(xp, p->nimg, &xp) ||
        !fc_mul_ok(bwd_w_xp_panel(p), gt, &bp) || xp > INT64_MAX / 4 ||
        pa > INT64_MAX / 4 || bp > INT64_MAX / 4)
        return -1;
    return align16(pa) + align16(xp + 16) + bp;
}

/* Row q = (c, r, s) of block b's column matrix for group g (cols floats, images side
 * by side), as im2col_block writes it. */
static void col_row(const plan *p, const float *x, int64_t g, const block *b, int64_t q,
                    float *o) {
    const fc_conv2d_desc *d = p->d;
    const int64_t H = d->H, W = d->W, OW = p->OW, plane = H * W, sw = d->stride_w;
    int64_t c = q / (p->R * p->S), r = (q / p->S) % p->R, s = q % p->S;
    int64_t off = s * d->dilation_w - d->pad_left, lo, hi;
    valid_cols(OW, W, sw, off, &lo, &hi);
    const int flat = sw == 1 && d->stride_h == 1 && W == OW && lo < hi;
    for (int64_t i = 0; i < b->nn; i++) {
        const float *xc = x + ((b->n0 + i) * d->C + g * p->Cg + c) * plane;
        if (flat) {
            o = flat_rows(o, xc, H, W, b->oh0, b->oh1, r * d->dilation_h - d->pad_top, off,
                          lo, hi);
            continue;
        }
        for (int64_t oh = b->oh0; oh < b->oh1; oh++, o += OW) {
            int64_t ih = oh * d->stride_h - d->pad_top + r * d->dilation_h;
            if (ih < 0 || ih >= H || lo >= hi) {
                memset(o, 0, (size_t)OW * sizeof(float));
                continue;
            }
            const float *src = xc + ih * W + off;
            for (int64_t ow = 0; ow < lo; ow++) o[ow] = 0.0f;
            gather_run(o + lo, src + lo * sw, hi - lo, sw);
            for (int64_t ow = hi; ow < OW; ow++) o[ow] = 0.0f;
        }
    }
}

/* Row q = (c, r, s) from row `prev` = (c, r, s - stride_w) (no dilation along W): the
 * same x columns one output column on, o[oh][ow] = prev[oh][ow + 1], and the last one
 * read from x. A strided gather moves one float per instruction pair; this copies runs
 * (AlexNet conv1 derives 7 of its 11 taps along W, ResNet conv1 5 of 7). */
static void col_row_next(const plan *p, const float *x, int64_t g, const block *b, int64_t q,
                         const float *prev, float *o) {
    const fc_conv2d_desc *d = p->d;
    const int64_t H = d->H, W = d->W, OW = p->OW, plane = H * W;
    int64_t c = q / (p->R * p->S), r = (q / p->S) % p->R, s = q % p->S;
    int64_t iw = (OW - 1) * d->stride_w + s - d->pad_left; /* x column of the last one */
    for (int64_t i = 0; i < b->nn; i++) {
        const float *xc = x + ((b->n0 + i) * d->C + g * p->Cg + c) * plane;
        for (int64_t oh = b->oh0; oh < b->oh1; oh++, o += OW, prev += OW) {
            int64_t ih = oh * d->stride_h - d->pad_top + r * d->dilation_h;
            memcpy(o, prev + 1, (size_t)(OW - 1) * sizeof(float));
            o[OW - 1] = ih >= 0 && ih < H && iw >= 0 && iw < W ? xc[ih * W + iw] : 0.0f;
        }
    }
}

/* dst[k][j] = rows[j * ld + k] for k < kc, j < nr: one B panel. */
static void panel_t(const fc_gemm_config *k, const float *rows, int64_t ld, int64_t kc,
                    float *restrict dst) {
    const int64_t nr = k->nr;
    if (k->pack_transposed && nr % 8 == 0) {
        k->pack_transposed(rows, ld, kc, nr, dst);
        return;
    }
    for (int64_t j = 0; j < nr; j++)
        for (int64_t i = 0; i < kc; i++) dst[i * nr + j] = rows[j * ld + i];
}

/* One B panel (kc deep, n <= NR valid columns) against every MR-row panel of the packed
 * A block (K_g rows), into c (row stride ldc): c = or += A . B (beta 0 or 1); partial
 * tiles through a scratch tile. */
static void bwd_w_panel_gemm(const fc_gemm_config *k, const float *a, int64_t kc,
                             const float *bp, int64_t M, int64_t n, float beta, float *c,
                             int64_t ldc) {
    const int64_t mr = k->mr, nr = k->nr;
    float tile[FC_GEMM_TILE_MAX] __attribute__((aligned(64)));
    for (int64_t i0 = 0; i0 < M; i0 += mr, a += mr * kc, c += mr * ldc) {
        int64_t m = fc_min64(mr, M - i0);
        if (m == mr && n == nr) {
            k->ukernel(kc, a, bp, c, ldc, 1.0f, beta);
            continue;
        }
        k->ukernel(kc, a, bp, tile, nr, 1.0f, 0.0f);
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++)
                c[i * ldc + j] = tile[i * nr + j] + (beta == 0.0f ? 0.0f : c[i * ldc + j]);
    }
}

/* Panels [j0, j1) (NR columns of gw each) of block b, group g: gw_g (row stride CRS) =
 * (first) or += A . col^T, with A packed by fc_gemm_pack_a (K_g x b->cols). */
static void bwd_w_panels(const plan *p, const float *x, int64_t g, const block *b,
                         const float *ap, float *gwg, int first, int64_t j0, int64_t j1,
                         float *rows, float *bp) {
    const fc_gemm_config *k = &fc_kernels_active()->gemm;
    const int64_t mr = k->mr, nr = k->nr, cols = b->cols, M = p->Kg, CRS = p->CRS;
    const int64_t Mr = fc_ceil_div(M, mr) * mr, kstep = fc_gemm_kstep(cols);
    /* rows derived from the one stride_w taps back (col_row_next) */
    const int64_t sw = p->d->dilation_w == 1 ? p->d->stride_w : 1;
    for (int64_t jp = j0; jp < j1; jp++) {
        int64_t q0 = jp * nr, n = fc_min64(nr, CRS - q0);
        for (int64_t j = 0; j < n; j++)
            if (sw > 1 && j >= sw && (q0 + j) % p->S >= sw)
                col_row_next(p, x, g, b, q0 + j, rows + (j - sw) * cols, rows + j * cols);
            else
                col_row(p, x, g, b, q0 + j, rows + j * cols);
        if (n < nr) memset(rows + n * cols, 0, (size_t)((nr - n) * cols) * sizeof(float));
        for (int64_t pc = 0; pc < cols; pc += kstep) {
            int64_t kc = fc_min64(kstep, cols - pc);
            float beta = first && pc == 0 ? 0.0f : 1.0f;
            panel_t(k, rows + pc, cols, kc, bp);
            bwd_w_panel_gemm(k, ap + Mr * pc, kc, bp, M, n, beta, gwg + q0, CRS);
        }
    }
}

/* xt's row hb of channel block cb of image i (block b, group g): x's row
 * oh0 * stride_h + hb - pad_top, columns from -pad_left, NR channels side by side. */
static void bwd_w_xt_row(const plan *p, const float *x, int64_t g, const block *b, int64_t i,
                         int64_t cb, int64_t hb, float *xt) {
    const fc_conv2d_desc *d = p->d;
    const fc_gemm_config *k = &fc_kernels_active()->gemm;
    const int64_t nr = k->nr, H = d->H, W = d->W, Wp = bwd_w_xt_cols(p);
    const int64_t c0 = cb * nr, n = fc_min64(nr, p->Cg - c0);
    const int64_t ih = b->oh0 * d->stride_h + hb - d->pad_top;
    float *dst = xt + ((i * bwd_w_cblocks(p) + cb) * bwd_w_xt_rows(p) + hb) * Wp * nr;
    if (ih < 0 || ih >= H) {
        memset(dst, 0, (size_t)(Wp * nr) * sizeof(float));
        return;
    }
    int64_t pl = fc_min64(d->pad_left, Wp), wn = fc_max64(0, fc_min64(W, Wp - pl));
    const float *src = x + ((b->n0 + i) * d->C + g * p->Cg + c0) * H * W + ih * W;
    memset(dst, 0, (size_t)(pl * nr) * sizeof(float));
    if (n == nr && k->pack_transposed && nr % 8 == 0)
        k->pack_transposed(src, H * W, wn, nr, dst + pl * nr);
    else
        for (int64_t w = 0; w < wn; w++)
            for (int64_t j = 0; j < nr; j++)
                dst[(pl + w) * nr + j] = j < n ? src[j * H * W + w] : 0.0f;
    memset(dst + (pl + wn) * nr, 0, (size_t)((Wp - pl - wn) * nr) * sizeof(float));
}

/* o[t][0, nr) = src[t * step][0, nr) for t < n: a strided row's positions (constant
 * sizes: inlined vector moves). */
static inline void copy_chunks(float *restrict o, const float *restrict src, int64_t n,
                               int64_t nr, int64_t step) {
    if (nr == 32)
        for (int64_t t = 0; t < n; t++) memcpy(o + t * 32, src + t * step, 128);
    else if (nr == 16)
        for (int64_t t = 0; t < n; t++) memcpy(o + t * 16, src + t * step, 64);
    else
        for (int64_t t = 0; t < n; t++) memcpy(o + t * nr, src + t * step, (size_t)nr * sizeof(float));
}

/* Panels [j0, j1) (channel block cb of tap (r, s): panel (r * S + s) * CB + cb) of block
 * b: gwp (grad_w_g permuted, [K_g][R*S][C_g]) = (first) or += A . col^T, A packed by
 * fc_gemm_pack_a (K_g x b->cols), col's rows read from xt. */
static void bwd_w_cl_panels(const plan *p, const float *xt, const block *b, const float *ap,
                            float *gwp, int first, int64_t j0, int64_t j1, float *bp) {
    const fc_conv2d_desc *d = p->d;
    const fc_gemm_config *k = &fc_kernels_active()->gemm;
    const int64_t mr = k->mr, nr = k->nr, cols = b->cols, M = p->Kg, CRS = p->CRS;
    const int64_t Mr = fc_ceil_div(M, mr) * mr, kstep = fc_gemm_kstep(cols);
    const int64_t CB = bwd_w_cblocks(p), Hb = bwd_w_xt_rows(p), Wp = bwd_w_xt_cols(p);
    const int64_t OW = p->OW, sw = d->stride_w, sh = d->stride_h;
    const int64_t chan = Hb * Wp * nr, image = CB * chan;
    for (int64_t jp = j0; jp < j1; jp++) {
        int64_t rs = jp / CB, cb = jp % CB, r = rs / p->S, s = rs % p->S;
        int64_t q0 = rs * p->Cg + cb * nr, n = fc_min64(nr, p->Cg - cb * nr);
        const float *base = xt + cb * chan + (r * d->dilation_h * Wp + s * d->dilation_w) * nr;
        for (int64_t pc = 0; pc < cols; pc += kstep) {
            int64_t kc = fc_min64(kstep, cols - pc);
            float beta = first && pc == 0 ? 0.0f : 1.0f;
            float *o = bp;
            for (int64_t q = pc; q < pc + kc;) { /* output positions, one row's run at once */
                int64_t i = q / b->pb, oh = (q % b->pb) / OW, ow = q % OW;
                int64_t run = fc_min64(OW - ow, pc + kc - q);
                const float *src = base + i * image + (oh * sh * Wp + ow * sw) * nr;
                if (sw == 1) memcpy(o, src, (size_t)(run * nr) * sizeof(float));
                else copy_chunks(o, src, run, nr, sw * nr);
                o += run * nr;
                q += run;
            }
            bwd_w_panel_gemm(k, ap + Mr * pc, kc, bp, M, n, beta, gwp + q0, CRS);
        }
    }
}

/* xp's row hb of channel c of image i (block b, group g): x's row
 * oh0 * stride_h + hb - pad_top from column -pad_left, zeros outside x. */
static void bwd_w_xp_row(const plan *p, const float *x, int64_t g, const block *b, int64_t i,
                         int64_t c, int64_t hb, float *xp) {
    const fc_conv2d_desc *d = p->d;
    const int64_t H = d->H, W = d->W, Wp = bwd_w_xt_cols(p);
    const int64_t ih = b->oh0 * d->stride_h + hb - d->pad_top;
    float *dst = xp + ((i * p->Cg + c) * bwd_w_xt_rows(p) + hb) * Wp;
    if (ih < 0 || ih >= H) {
        memset(dst, 0, (size_t)Wp * sizeof(float));
        return;
    }
    int64_t pl = fc_min64(d->pad_left, Wp), wn = fc_max64(0, fc_min64(W, Wp - pl));
    memset(dst, 0, (size_t)pl * sizeof(float));
    memcpy(dst + pl, x + ((b->n0 + i) * d->C + g * p->Cg + c) * H * W + ih * W,
           (size_t)wn * sizeof(float));
    memset(dst + pl + wn, 0, (size_t)(Wp - pl - wn) * sizeof(float));
}

/* Panels [j0, j1) (NR columns of gw each) of block b: gw_g = (first) or += A . col^T,
 * the B panels gathered from xp: for each run of s in one (c, r) the panel's columns
 * [jq, jq + len) of every output position, o[t] = xp[..][ow * sw + (s0 + t) * dw]. */
static void bwd_w_xp_panels(const plan *p, const float *xp, const block *b, const float *ap,
                            float *gwg, int first, int64_t j0, int64_t j1, float *bp) {
    const fc_conv2d_desc *d = p->d;
    const fc_gemm_config *k = &fc_kernels_active()->gemm;
    const int64_t mr = k->mr, nr = k->nr, cols = b->cols, M = p->Kg, CRS = p->CRS;
    const int64_t Mr = fc_ceil_div(M, mr) * mr, kstep = fc_gemm_kstep(cols);
    const int64_t Hb = bwd_w_xt_rows(p), Wp = bwd_w_xt_cols(p), OW = p->OW;
    const int64_t sw = d->stride_w, sh = d->stride_h, dw = d->dilation_w, RS = p->R * p->S;
    int64_t segoff[FC_GEMM_TILE_MAX], segj[FC_GEMM_TILE_MAX], seglen[FC_GEMM_TILE_MAX];
    for (int64_t jp = j0; jp < j1; jp++) {
        int64_t q0 = jp * nr, n = fc_min64(nr, CRS - q0), ns = 0;
        for (int64_t jq = 0; jq < n; ns++) { /* one (c, r): columns [jq, jq + len) */
            int64_t qq = q0 + jq, c = qq / RS, r = (qq / p->S) % p->R, s0 = qq % p->S;
            seglen[ns] = fc_min64(p->S - s0, n - jq);
            segoff[ns] = (c * Hb + r * d->dilation_h) * Wp + s0 * dw;
            segj[ns] = jq;
            jq += seglen[ns];
        }
        if (n < nr) /* columns no run writes: zero once (copies of 16 may spill there) */
            for (int64_t q = 0; q < kstep; q++)
                for (int64_t j = n; j < nr; j++) bp[q * nr + j] = 0.0f;
        for (int64_t pc = 0; pc < cols; pc += kstep) {
            int64_t kc = fc_min64(kstep, cols - pc);
            float beta = first && pc == 0 ? 0.0f : 1.0f;
            for (int64_t q = pc; q < pc + kc;) {
                int64_t i = q / b->pb, oh = (q % b->pb) / OW, ow = q % OW;
                int64_t run = fc_min64(OW - ow, pc + kc - q);
                const float *src = xp + (i * p->Cg * Hb + oh * sh) * Wp + ow * sw;
                float *o = bp + (q - pc) * nr;
                for (int64_t t = 0; t < run; t++, o += nr, src += sw)
                    for (int64_t e = 0; e < ns; e++) {
                        const float *sp = src + segoff[e];
                        float *op = o + segj[e];
                        if (dw == 1 && seglen[e] <= 16) {
                            /* whole vectors: spills past the run land where the next run
                             * (or row) writes afterwards, or in columns past n */
                            memcpy(op, sp, 64);
                            continue;
                        }
                        for (int64_t u = 0; u < seglen[e]; u++) op[u] = sp[u * dw];
                    }
                q += run;
            }
            bwd_w_panel_gemm(k, ap + Mr * pc, kc, bp, M, n, beta, gwg + q0, CRS);
        }
    }
}

/* gw (all groups, [K][CRS]) = (first) or += the contribution of block (ib, rb). */
static fc_status bwd_w_block(const plan *p, int64_t ib, int64_t rb, const float *gy,
                             const float *x, float *gw, int first, worker *wk, int gt) {
    const fc_conv2d_desc *d = p->d;
    fc_status st = FC_SUCCESS;
    block b = get_block(p, ib, rb);
    for (int64_t g = 0; g < p->G && st == FC_SUCCESS; g++) {
        float *gwg = gw + g * p->Kg * p->CRS;
        int64_t lda;
        const float *A = block_gy(p, gy, g, &b, wk->stage, &lda);
        if (wk->bias) fc_conv2d_bias_grad_add(A, p->Kg, b.cols, lda, wk->bias + g * p->Kg);
        if (p->cl) {
            int64_t nr = fc_gemm_nr(), CB = bwd_w_cblocks(p), Hb = bwd_w_xt_rows(p);
            int64_t np = p->R * p->S * CB, xtf = bwd_w_xt_image(p);
            float *ap = wk->col, *xt = ap + align16(fc_gemm_packed_a_floats(p->Kg, p->cols));
            float *bps = xt + align16(xtf * p->nimg);
            fc_gemm_pack_a(0, p->Kg, b.cols, A, lda, ap, 1);
            #pragma omp parallel num_threads(gt) if (gt > 1)
            {
                int t, nt;
                fc_team(&t, &nt);
                #pragma omp for schedule(static)
                for (int64_t u = 0; u < b.nn * CB * Hb; u++)
                    bwd_w_xt_row(p, x, g, &b, u / (CB * Hb), (u / Hb) % CB, u % Hb, xt);
                bwd_w_cl_panels(p, xt, &b, ap, gwg, first, np * t / nt, np * (t + 1) / nt,
                                bps + t * align16(nr * bwd_w_kmax(p)));
            }
            continue;
        }
        if (p->xp) {
            int64_t nr = fc_gemm_nr(), np = fc_ceil_div(p->CRS, nr), Hb = bwd_w_xt_rows(p);
            float *ap = wk->col, *xp = ap + align16(fc_gemm_packed_a_floats(p->Kg, p->cols));
            float *bps = xp + align16(bwd_w_xp_image(p) * p->nimg + 16);
            fc_gemm_pack_a(0, p->Kg, b.cols, A, lda, ap, 1);
            #pragma omp parallel num_threads(gt) if (gt > 1)
            {
                int t, nt;
                fc_team(&t, &nt);
                #pragma omp for schedule(static)
                for (int64_t u = 0; u < b.nn * p->Cg * Hb; u++)
                    bwd_w_xp_row(p, x, g, &b, u / (p->Cg * Hb), (u / Hb) % p->Cg, u % Hb, xp);
                bwd_w_xp_panels(p, xp, &b, ap, gwg, first, np * t / nt, np * (t + 1) / nt,
                                bps + t * bwd_w_xp_panel(p));
            }
            continue;
        }
        if (p->fused) {
            int64_t nr = fc_gemm_nr(), np = fc_ceil_div(p->CRS, nr);
            int64_t per = align16(nr * p->cols) + align16(nr * bwd_w_kmax(p));
            float *ap = wk->col, *bufs = ap + align16(fc_gemm_packed_a_floats(p->Kg, p->cols));
            fc_gemm_pack_a(0, p->Kg, b.cols, A, lda, ap, 1);
            #pragma omp parallel num_threads(gt) if (gt > 1)
            {
                int t, nt;
                fc_team(&t, &nt);
                float *rows = bufs + t * per;
                bwd_w_panels(p, x, g, &b, ap, gwg, first, np * t / nt, np * (t + 1) / nt,
                             rows, rows + align16(nr * p->cols));
            }
            continue;
        }
        const float *B;
        int64_t ldb;
        if (p->direct) {
            B = x + (b.n0 * d->C + g * p->Cg) * p->P + b.oh0 * p->OW;
            ldb = p->P;
        } else {
            im2col_run(p, x, g, &b, wk->col, gt > 1);
            B = wk->col;
            ldb = b.cols;
        }
        fc_gemm_args ga = {0, 1, p->Kg, p->CRS, b.cols, 1.0f, A, lda, B, ldb,
                           first ? 0.0f : 1.0f, gwg, p->CRS, NULL};
        wk->gemm.used = 0;
        st = fc_gemm_run(&ga, gt, &wk->gemm);
    }
    return st;
}

/* Row `row` (group, output channel) of grad_w from the workers' permuted sums:
 * gw[row][c][r][s] = sum over workers of [row][r][s][c]. */
static void bwd_w_unpermute(const plan *p, const worker *wk, int nw, float *gw, int64_t row) {
    const int64_t RS = p->R * p->S, Cg = p->Cg, at = row * p->CRS;
    for (int64_t rs = 0; rs < RS; rs++)
        for (int64_t c = 0; c < Cg; c++) {
            float s = wk[0].gw[at + rs * Cg + c];
            for (int u = 1; u < nw; u++) s += wk[u].gw[at + rs * Cg + c];
            gw[at + c * RS + rs] = s;
        }
}

fc_status fc_conv_im2col_backward_weights(const fc_conv2d_desc *d, const float *gy,
                                          const float *x, float *gw, float *gb,
                                          fc_arena *ws) {
    plan p;
    make_plan(d, FC_PASS_BACKWARD_WEIGHTS, &p);
    if (!gb) p.bias_doubles = 0; /* (its workspace share goes unused) */
    worker wk[64];
    int nw = p.across ? p.threads : 1;
    if (nw > 64) return FC_INVALID_ARGUMENT;
    float *wp;
    fc_status st = carve(&p, ws, wk, nw, &wp);
    if (st != FC_SUCCESS) return st;
    int64_t items = p.nib * p.nrb; /* blocks (ib, rb) */
    if (!p.across) {
        float *dst = p.cl ? wk[0].gw : gw;
        for (int64_t i = 0; i < items && st == FC_SUCCESS; i++)
            st = bwd_w_block(&p, i / p.nrb, i % p.nrb, gy, x, dst, i == 0, &wk[0], p.threads);
        if (p.cl) {
            #pragma omp parallel for num_threads(p.threads) schedule(static) if (p.threads > 1)
            for (int64_t row = 0; row < p.G * p.Kg; row++) bwd_w_unpermute(&p, wk, 1, gw, row);
        }
        if (st == FC_SUCCESS && gb) fc_conv2d_bias_grad(d->N, d->K, p.P, gy, gb);
        return st;
    }
    /* Blocks split in nw contiguous ranges; thread t sums its range into its own
     * buffer (thread 0: gw), then the buffers are added into gw. */
    int bad = 0;
    int64_t total = p.gw_floats;
    #pragma omp parallel num_threads(nw)
    {
        int t = 0;
#ifdef _OPENMP
        t = omp_get_thread_num();
#endif
        float *dst = t == 0 && !p.cl ? gw : wk[t].gw;
        int64_t b0 = items * t / nw, b1 = items * (t + 1) / nw;
        if (wk[t].bias) memset(wk[t].bias, 0, (size_t)p.bias_doubles * sizeof(double));
        if (b0 == b1) memset(dst, 0, (size_t)total * sizeof(float));
        for (int64_t i = b0; i < b1; i++)
            if (bwd_w_block(&p, i / p.nrb, i % p.nrb, gy, x, dst, i == b0, &wk[t], 1) !=
                FC_SUCCESS)
                __atomic_store_n(&bad, 1, __ATOMIC_RELAXED);
        #pragma omp barrier
        if (p.cl) {
            #pragma omp for schedule(static)
            for (int64_t row = 0; row < p.G * p.Kg; row++) bwd_w_unpermute(&p, wk, nw, gw, row);
        } else {
            #pragma omp for schedule(static)
            for (int64_t i = 0; i < total; i++) {
                float s = gw[i];
                for (int u = 1; u < nw; u++) s += wk[u].gw[i];
                gw[i] = s;
            }
        }
        if (p.bias_doubles) {
            #pragma omp for schedule(static)
            for (int64_t k = 0; k < d->K; k++) {
                double s = 0.0;
                for (int u = 0; u < nw; u++) s += wk[u].bias[k];
                gb[k] = (float)s;
            }
        }
    }
    return bad ? FC_INVALID_WORKSPACE : FC_SUCCESS;
}

/* ------------------------------------------------------------ packing from w^T */

/* fc_conv_im2col_pack_weights from every group's weights transposed, wt_g[CRS][K_g]
 * (group after group): backward-data's flipped forward (conv/bwd_data_flipped.c)
 * arranges them so in one cache-local pass, and the GEMM's packing then reads them
 * along its panels (A transposed, B as is). */
void fc_conv_im2col_pack_weights_t(const fc_conv2d_desc *d, int layout, const float *wt,
                                   float *wp) {
    plan p;
    make_plan(d, FC_PASS_FORWARD, &p);
    use_layout(&p, layout);
    for (int64_t g = 0; g < p.G; g++) {
        const float *wg = wt + g * p.Kg * p.CRS;
        if (p.layout == FC_IM2COL_WEIGHTS_AS_B)
            fc_gemm_pack_b(0, p.CRS, p.Kg, wg, p.Kg, wp + g * p.wp_group, p.threads);
        else
            fc_gemm_pack_a(1, p.Kg, p.CRS, wg, p.Kg, wp + g * p.wp_group, p.threads);
    }
}

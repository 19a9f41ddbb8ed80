/* Convolution as im2col + packed SGEMM, one image and group at a time, in blocks of
 * output rows so that the column matrix never exceeds a cache-sized budget:
 *
 *   forward           y[K_g][P_blk]   = w_g[K_g][CRS] . col[CRS][P_blk]
 *   backward-data     gcol[CRS][P_blk] = w_g^T . gy[K_g][P_blk], then col2im (adds)
 *   backward-weights  gw_g[K_g][CRS] += gy[K_g][P_blk] . col^T
 *
 * where CRS = C/groups * R * S and P_blk a block of output positions. A 1x1, stride-1,
 * unpadded convolution needs no column matrix: x itself is one.
 *
 * Threads: when there are enough independent (image, group[, block]) items, each
 * thread takes whole items with a serial GEMM and its own slice of the workspace (no
 * barriers, packing stays in the core's caches); otherwise items run one after another
 * with the GEMM threaded inside and im2col/col2im split over channels. The two never
 * nest. Backward-weights accumulates per-thread partial sums when it goes across
 * images, then adds them. */
#include <string.h>

#include "conv_desc.h"
#include "im2col.h"
#include "gemm/gemm.h"

/* Column-matrix block budget in floats (512 KiB: the block, packed into B panels
 * right after, stays in L2). */
#define FC_IM2COL_BLOCK_FLOATS (128 * 1024)

typedef struct plan {
    const fc_conv2d_desc *d;
    int64_t G, Cg, Kg, R, S, CRS, OH, OW, P;
    int direct;             /* 1x1, stride 1, no padding: x is the column matrix */
    int64_t rows, nblk;     /* output rows per block, blocks per image */
    int threads;            /* worker threads */
    int across;             /* 1: items across threads, serial GEMMs; 0: threaded GEMM */
    int64_t col_floats;     /* per worker */
    size_t gemm_bytes;      /* per worker */
    int64_t gw_floats;      /* per-thread partial weight gradient (backward-weights) */
} plan;

static void make_plan(const fc_conv2d_desc *d, fc_conv_pass pass, plan *p) {
    memset(p, 0, sizeof *p);
    p->d = d;
    p->G = d->groups;
    p->Cg = d->C / d->groups;
    p->Kg = d->K / d->groups;
    p->R = d->R;
    p->S = d->S;
    p->CRS = p->Cg * d->R * d->S;
    fc_conv2d_check(d, &p->OH, &p->OW);
    p->P = p->OH * p->OW;
    p->direct = d->R == 1 && d->S == 1 && d->stride_h == 1 && d->stride_w == 1 &&
                d->pad_top == 0 && d->pad_bottom == 0 && d->pad_left == 0 && d->pad_right == 0;
    if (p->direct) {
        p->rows = p->OH;
    } else {
        /* CRS * OW may exceed 64 bits on a legal descriptor (huge weight, wide output). */
        int64_t row_floats;
        if (!fc_mul_ok(p->CRS, p->OW, &row_floats)) row_floats = INT64_MAX;
        p->rows = FC_IM2COL_BLOCK_FLOATS / fc_max64(1, row_floats);
        p->rows = fc_max64(1, fc_min64(p->rows, p->OH));
        /* Equal blocks: ceil(OH / nblk) rows each. */
        p->rows = fc_ceil_div(p->OH, fc_ceil_div(p->OH, p->rows));
    }
    p->nblk = fc_ceil_div(p->OH, p->rows);
    int T = fc_threads();
    int64_t items = pass == FC_PASS_FORWARD ? d->N * p->G * p->nblk : d->N * p->G;
    if (pass == FC_PASS_BACKWARD_WEIGHTS) items = d->N;
    p->across = T > 1 && (items % T == 0 || items >= 4 * T);
    p->threads = T;
    int gt = p->across ? 1 : T;
    int64_t pb = p->rows * p->OW;
    /* -1 on overflow: plan_workspace then reports SIZE_MAX (FC_SIZE_OVERFLOW). */
    if (p->direct) p->col_floats = 0;
    else if (!fc_mul_ok(p->CRS, pb, &p->col_floats)) p->col_floats = -1;
    switch (pass) {
    case FC_PASS_FORWARD: p->gemm_bytes = fc_gemm_workspace(p->Kg, pb, p->CRS, gt); break;
    case FC_PASS_BACKWARD_DATA:
        p->gemm_bytes = fc_gemm_workspace(p->direct ? p->Cg : p->CRS, pb, p->Kg, gt);
        break;
    case FC_PASS_BACKWARD_WEIGHTS:
        p->gemm_bytes = fc_gemm_workspace(p->Kg, p->CRS, pb, gt);
        /* Thread 0 writes grad_w itself; the others keep partial sums. */
        if (p->across) p->gw_floats = p->Kg * p->CRS * p->G;
        break;
    }
}

static size_t plan_workspace(const plan *p) {
    if (p->gemm_bytes == SIZE_MAX) return SIZE_MAX;
    int workers = p->across ? p->threads : 1;
    size_t total = 0;
    for (int t = 0; t < workers; t++) {
        if (!fc_ws_add(&total, p->col_floats, sizeof(float))) return SIZE_MAX;
        if (__builtin_add_overflow(total, p->gemm_bytes + FC_ALIGN, &total)) return SIZE_MAX;
        if (t > 0 && !fc_ws_add(&total, p->gw_floats, sizeof(float))) return SIZE_MAX;
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
    float *col;
    fc_arena gemm;
    float *gw;
} worker;

static fc_status carve(const plan *p, fc_arena *ws, worker *w, int nw) {
    for (int t = 0; t < nw; t++) {
        w[t].col = NULL;
        w[t].gw = NULL;
        if (p->col_floats) {
            w[t].col = (float *)fc_arena_alloc(ws, (size_t)p->col_floats * sizeof(float));
            if (!w[t].col) return FC_INVALID_WORKSPACE;
        }
        char *g = (char *)fc_arena_alloc(ws, p->gemm_bytes);
        if (!g && p->gemm_bytes) return FC_INVALID_WORKSPACE;
        w[t].gemm = (fc_arena){g, p->gemm_bytes, 0};
        if (t > 0 && p->gw_floats) {
            w[t].gw = (float *)fc_arena_alloc(ws, (size_t)p->gw_floats * sizeof(float));
            if (!w[t].gw) return FC_INVALID_WORKSPACE;
        }
    }
    return FC_SUCCESS;
}

/* Output columns [ow_lo, ow_hi) whose input column ow*sw + off lies in [0, W). */
static void valid_cols(int64_t OW, int64_t W, int64_t sw, int64_t off, int64_t *lo, int64_t *hi) {
    int64_t a = off >= 0 ? 0 : fc_ceil_div(-off, sw);
    int64_t b = W - off <= 0 ? 0 : fc_ceil_div(W - off, sw);
    *lo = fc_min64(a, OW);
    *hi = fc_max64(*lo, fc_min64(b, OW));
}

/* col[(c*R + r)*S + s][(oh - oh0)*OW + ow] = x[c][oh*sh - pt + r*dh][ow*sw - pl + s*dw]
 * for channels [c0, c1) of the group's planes `x`, output rows [oh0, oh1). */
static void im2col_block(const plan *p, const float *x, float *col, int64_t c0, int64_t c1,
                         int64_t oh0, int64_t oh1) {
    const fc_conv2d_desc *d = p->d;
    const int64_t H = d->H, W = d->W, OW = p->OW, pb = (oh1 - oh0) * OW;
    for (int64_t c = c0; c < c1; c++)
        for (int64_t r = 0; r < p->R; r++)
            for (int64_t s = 0; s < p->S; s++) {
                float *dst = col + ((c * p->R + r) * p->S + s) * pb;
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
                    if (d->stride_w == 1)
                        memcpy(dst + lo, src + lo, (size_t)(hi - lo) * sizeof(float));
                    else
                        for (int64_t ow = lo; ow < hi; ow++) dst[ow] = src[ow * d->stride_w];
                    for (int64_t ow = hi; ow < OW; ow++) dst[ow] = 0.0f;
                }
            }
}

/* The adjoint of im2col_block: gx[c][ih][iw] += col[...] (gx planes pre-zeroed). */
static void col2im_block(const plan *p, const float *col, float *gx, int64_t c0, int64_t c1,
                         int64_t oh0, int64_t oh1) {
    const fc_conv2d_desc *d = p->d;
    const int64_t H = d->H, W = d->W, OW = p->OW, pb = (oh1 - oh0) * OW;
    for (int64_t c = c0; c < c1; c++)
        for (int64_t r = 0; r < p->R; r++)
            for (int64_t s = 0; s < p->S; s++) {
                const float *src = col + ((c * p->R + r) * p->S + s) * pb;
                int64_t off = s * d->dilation_w - d->pad_left, lo, hi;
                valid_cols(OW, W, d->stride_w, off, &lo, &hi);
                for (int64_t oh = oh0; oh < oh1; oh++, src += OW) {
                    int64_t ih = oh * d->stride_h - d->pad_top + r * d->dilation_h;
                    if (ih < 0 || ih >= H) continue;
                    float *dst = gx + (c * H + ih) * W + off;
                    if (d->stride_w == 1)
                        for (int64_t ow = lo; ow < hi; ow++) dst[ow] += src[ow];
                    else
                        for (int64_t ow = lo; ow < hi; ow++) dst[ow * d->stride_w] += src[ow];
                }
            }
}

/* Fills im2col for a block: split over channels when `par` (GEMM-parallel mode). */
static void im2col_run(const plan *p, const float *x, float *col, int64_t oh0, int64_t oh1,
                       int par) {
    if (!par) {
        im2col_block(p, x, col, 0, p->Cg, oh0, oh1);
        return;
    }
    #pragma omp parallel for num_threads(p->threads) schedule(static)
    for (int64_t c = 0; c < p->Cg; c++) im2col_block(p, x, col, c, c + 1, oh0, oh1);
}

static void col2im_run(const plan *p, const float *col, float *gx, int64_t oh0, int64_t oh1,
                       int par) {
    if (!par) {
        col2im_block(p, col, gx, 0, p->Cg, oh0, oh1);
        return;
    }
    #pragma omp parallel for num_threads(p->threads) schedule(static)
    for (int64_t c = 0; c < p->Cg; c++) col2im_block(p, col, gx, c, c + 1, oh0, oh1);
}

/* ------------------------------------------------------------------ forward */

static fc_status fwd_item(const plan *p, int64_t n, int64_t g, int64_t b, const float *x,
                          const float *w, const float *bias, float *y, worker *wk, int gt) {
    const fc_conv2d_desc *d = p->d;
    int64_t oh0 = b * p->rows, oh1 = fc_min64(p->OH, oh0 + p->rows), pb = (oh1 - oh0) * p->OW;
    const float *xg = x + (n * d->C + g * p->Cg) * d->H * d->W;
    float *yb = y + (n * d->K + g * p->Kg) * p->P + oh0 * p->OW;
    const float *B = xg + oh0 * p->OW; /* direct: x is [Cg][H*W] with H*W == P */
    int64_t ldb = p->P;
    if (!p->direct) {
        im2col_run(p, xg, wk->col, oh0, oh1, gt > 1);
        B = wk->col;
        ldb = pb;
    }
    float beta = 0.0f;
    if (bias) {
        for (int64_t k = 0; k < p->Kg; k++) {
            float v = bias[g * p->Kg + k], *row = yb + k * p->P;
            for (int64_t j = 0; j < pb; j++) row[j] = v;
        }
        beta = 1.0f;
    }
    fc_gemm_args ga = {0, 0, p->Kg, pb, p->CRS, 1.0f, w + g * p->Kg * p->CRS, p->CRS,
                       B, ldb, beta, yb, p->P};
    wk->gemm.used = 0;
    return fc_gemm_run(&ga, gt, &wk->gemm);
}

fc_status fc_conv_im2col_forward(const fc_conv2d_desc *d, const float *x, const float *w,
                                 const float *bias, float *y, fc_arena *ws) {
    plan p;
    make_plan(d, FC_PASS_FORWARD, &p);
    worker wk[64];
    int nw = p.across ? p.threads : 1;
    if (nw > 64) return FC_INVALID_ARGUMENT;
    fc_status st = carve(&p, ws, wk, nw);
    if (st != FC_SUCCESS) return st;
    int64_t items = d->N * p.G * p.nblk;
    if (!p.across) {
        for (int64_t i = 0; i < items && st == FC_SUCCESS; i++)
            st = fwd_item(&p, i / (p.G * p.nblk), (i / p.nblk) % p.G, i % p.nblk, x, w, bias,
                          y, &wk[0], p.threads);
        return st;
    }
    int bad = 0;
    #pragma omp parallel num_threads(nw)
    {
        int t = 0;
#ifdef _OPENMP
        t = omp_get_thread_num();
#endif
        #pragma omp for schedule(static)
        for (int64_t i = 0; i < items; i++)
            if (fwd_item(&p, i / (p.G * p.nblk), (i / p.nblk) % p.G, i % p.nblk, x, w, bias, y,
                         &wk[t], 1) != FC_SUCCESS)
                __atomic_store_n(&bad, 1, __ATOMIC_RELAXED);
    }
    return bad ? FC_INVALID_WORKSPACE : FC_SUCCESS;
}

/* ------------------------------------------------------------ backward-data */

static fc_status bwd_data_item(const plan *p, int64_t n, int64_t g, const float *gy,
                               const float *w, float *gx, worker *wk, int gt) {
    const fc_conv2d_desc *d = p->d;
    const float *wg = w + g * p->Kg * p->CRS;
    const float *gyg = gy + (n * d->K + g * p->Kg) * p->P;
    float *gxg = gx + (n * d->C + g * p->Cg) * d->H * d->W;
    fc_status st = FC_SUCCESS;
    if (p->direct) { /* gx_g[Cg][HW] = w_g^T . gy_g */
        fc_gemm_args ga = {1, 0, p->Cg, p->P, p->Kg, 1.0f, wg, p->CRS, gyg, p->P, 0.0f,
                           gxg, p->P};
        wk->gemm.used = 0;
        return fc_gemm_run(&ga, gt, &wk->gemm);
    }
    memset(gxg, 0, (size_t)(p->Cg * d->H * d->W) * sizeof(float));
    for (int64_t b = 0; b < p->nblk && st == FC_SUCCESS; b++) {
        int64_t oh0 = b * p->rows, oh1 = fc_min64(p->OH, oh0 + p->rows);
        int64_t pb = (oh1 - oh0) * p->OW;
        fc_gemm_args ga = {1, 0, p->CRS, pb, p->Kg, 1.0f, wg, p->CRS, gyg + oh0 * p->OW, p->P,
                           0.0f, wk->col, pb};
        wk->gemm.used = 0;
        st = fc_gemm_run(&ga, gt, &wk->gemm);
        col2im_run(p, wk->col, gxg, oh0, oh1, gt > 1);
    }
    return st;
}

fc_status fc_conv_im2col_backward_data(const fc_conv2d_desc *d, const float *gy,
                                       const float *w, float *gx, fc_arena *ws) {
    plan p;
    make_plan(d, FC_PASS_BACKWARD_DATA, &p);
    worker wk[64];
    int nw = p.across ? p.threads : 1;
    if (nw > 64) return FC_INVALID_ARGUMENT;
    fc_status st = carve(&p, ws, wk, nw);
    if (st != FC_SUCCESS) return st;
    int64_t items = d->N * p.G;
    if (!p.across) {
        for (int64_t i = 0; i < items && st == FC_SUCCESS; i++)
            st = bwd_data_item(&p, i / p.G, i % p.G, gy, w, gx, &wk[0], p.threads);
        return st;
    }
    int bad = 0;
    #pragma omp parallel num_threads(nw)
    {
        int t = 0;
#ifdef _OPENMP
        t = omp_get_thread_num();
#endif
        #pragma omp for schedule(static)
        for (int64_t i = 0; i < items; i++)
            if (bwd_data_item(&p, i / p.G, i % p.G, gy, w, gx, &wk[t], 1) != FC_SUCCESS)
                __atomic_store_n(&bad, 1, __ATOMIC_RELAXED);
    }
    return bad ? FC_INVALID_WORKSPACE : FC_SUCCESS;
}

/* --------------------------------------------------------- backward-weights */

/* gw (all groups, [K][CRS]) += or = the contribution of image n. */
static fc_status bwd_w_image(const plan *p, int64_t n, const float *gy, const float *x,
                             float *gw, int first, worker *wk, int gt) {
    const fc_conv2d_desc *d = p->d;
    fc_status st = FC_SUCCESS;
    for (int64_t g = 0; g < p->G && st == FC_SUCCESS; g++) {
        const float *gyg = gy + (n * d->K + g * p->Kg) * p->P;
        const float *xg = x + (n * d->C + g * p->Cg) * d->H * d->W;
        float *gwg = gw + g * p->Kg * p->CRS;
        for (int64_t b = 0; b < p->nblk && st == FC_SUCCESS; b++) {
            int64_t oh0 = b * p->rows, oh1 = fc_min64(p->OH, oh0 + p->rows);
            int64_t pb = (oh1 - oh0) * p->OW;
            const float *B = xg + oh0 * p->OW;
            int64_t ldb = p->P;
            if (!p->direct) {
                im2col_run(p, xg, wk->col, oh0, oh1, gt > 1);
                B = wk->col;
                ldb = pb;
            }
            fc_gemm_args ga = {0, 1, p->Kg, p->CRS, pb, 1.0f, gyg + oh0 * p->OW, p->P, B, ldb,
                               (first && b == 0) ? 0.0f : 1.0f, gwg, p->CRS};
            wk->gemm.used = 0;
            st = fc_gemm_run(&ga, gt, &wk->gemm);
        }
    }
    return st;
}

fc_status fc_conv_im2col_backward_weights(const fc_conv2d_desc *d, const float *gy,
                                          const float *x, float *gw, fc_arena *ws) {
    plan p;
    make_plan(d, FC_PASS_BACKWARD_WEIGHTS, &p);
    worker wk[64];
    int nw = p.across ? p.threads : 1;
    if (nw > 64) return FC_INVALID_ARGUMENT;
    fc_status st = carve(&p, ws, wk, nw);
    if (st != FC_SUCCESS) return st;
    if (!p.across) {
        for (int64_t n = 0; n < d->N && st == FC_SUCCESS; n++)
            st = bwd_w_image(&p, n, gy, x, gw, n == 0, &wk[0], p.threads);
        return st;
    }
    /* Images split in nw contiguous ranges; thread t sums its range into its own
     * buffer (thread 0: gw), then the buffers are added into gw. */
    int bad = 0;
    int64_t total = p.gw_floats;
    #pragma omp parallel num_threads(nw)
    {
        int t = 0;
#ifdef _OPENMP
        t = omp_get_thread_num();
#endif
        float *dst = t == 0 ? gw : wk[t].gw;
        int64_t n0 = d->N * t / nw, n1 = d->N * (t + 1) / nw;
        if (n0 == n1) memset(dst, 0, (size_t)total * sizeof(float));
        for (int64_t n = n0; n < n1; n++)
            if (bwd_w_image(&p, n, gy, x, dst, n == n0, &wk[t], 1) != FC_SUCCESS)
                __atomic_store_n(&bad, 1, __ATOMIC_RELAXED);
        #pragma omp barrier
        #pragma omp for schedule(static)
        for (int64_t i = 0; i < total; i++) {
            float s = gw[i];
            for (int u = 1; u < nw; u++) s += wk[u].gw[i];
            gw[i] = s;
        }
    }
    return bad ? FC_INVALID_WORKSPACE : FC_SUCCESS;
}

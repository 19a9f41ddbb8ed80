/* Direct convolution on the blocked channel layout NCHW8c: the reorders, the weight
 * arrangement, and the forward loops (padding, tiling, threading) around the per-ISA
 * kernel of conv/blocked.h. Meant for layers run many times with the same weights
 * (arranged once) on small maps, where im2col's N = OH*OW leaves GEMM lanes idle; a
 * network kept in this layout pays the reorders only at its edges. */
#include <string.h>

#include "blocked.h"
#include "conv_desc.h"
#include "epilogue.h"
#include "core/registry.h"

#define CB FC_BLOCKED_CB

/* ----------------------------------------------------------------- reorders */

static fc_status check_dims(int64_t N, int64_t C, int64_t H, int64_t W, int64_t *blocked) {
    if (N < 0 || C < 1 || H < 1 || W < 1) return FC_INVALID_SHAPE;
    int64_t cp = fc_ceil_div(C, CB) * CB, t;
    if (!fc_prod4(N, cp, H, W, blocked) || !fc_prod4(N, C, H, W, &t)) return FC_SIZE_OVERFLOW;
    return FC_SUCCESS;
}

/* One reorder, either way: plane block nc of the blocked layout against channels
 * [c0, c0 + 8) of image n; to the blocked layout the channels past C become zeros. */
static fc_status reorder(int64_t N, int64_t C, int64_t H, int64_t W, const float *src,
                         float *dst, int to_blocked) {
    int64_t nb;
    fc_status st = check_dims(N, C, H, W, &nb);
    if (st != FC_SUCCESS) return st;
    if (nb == 0) return FC_SUCCESS;
    if (!src || !dst) return FC_INVALID_ARGUMENT;
    int64_t KB = fc_ceil_div(C, CB), HW = H * W;
    #pragma omp parallel for num_threads(fc_threads()) schedule(static)
    for (int64_t nc = 0; nc < N * KB; nc++) {
        int64_t n = nc / KB, c0 = (nc % KB) * CB, cn = fc_min64(CB, C - c0);
        int64_t plain = (n * C + c0) * HW, blocked = nc * HW * CB;
        if (to_blocked) {
            fc_blocked_gather_run(src + plain, HW, HW, cn, dst + blocked);
        } else {
            const float *s = src + blocked;
            float *d = dst + plain;
            if (cn == CB) /* (a constant count: unrolled) */
                for (int64_t i = 0; i < HW; i++)
                    for (int64_t j = 0; j < CB; j++) d[j * HW + i] = s[i * CB + j];
            else
                for (int64_t j = 0; j < cn; j++)
                    for (int64_t i = 0; i < HW; i++) d[j * HW + i] = s[i * CB + j];
        }
    }
    return FC_SUCCESS;
}

fc_status fc_reorder_nchw_to_nchw8c(int64_t N, int64_t C, int64_t H, int64_t W, const float *x,
                                    float *xb) {
    FC_CALL_SCOPE();
    return reorder(N, C, H, W, x, xb, 1);
}

fc_status fc_reorder_nchw8c_to_nchw(int64_t N, int64_t C, int64_t H, int64_t W, const float *xb,
                                    float *x) {
    FC_CALL_SCOPE();
    return reorder(N, C, H, W, xb, x, 0);
}

/* ------------------------------------------------------------------ weights */

/* The descriptors the blocked forward serves: any kernel size, stride, padding and
 * dilation; one group. */
static fc_status check_desc(const fc_conv2d_desc *d, int64_t *OH, int64_t *OW) {
    if (!d) return FC_INVALID_ARGUMENT;
    fc_status st = fc_conv2d_check(d, OH, OW);
    if (st != FC_SUCCESS) return st;
    if (d->groups != 1) return FC_UNSUPPORTED_ALGORITHM;
    return FC_SUCCESS;
}

fc_status fc_conv2d_blocked_weights_size(const fc_conv2d_desc *d, size_t *floats) {
    FC_CALL_SCOPE();
    if (!floats) return FC_INVALID_ARGUMENT;
    int64_t OH, OW, n;
    fc_status st = check_desc(d, &OH, &OW);
    if (st != FC_SUCCESS) return st;
    if (!fc_prod4(fc_ceil_div(d->K, CB) * CB, fc_ceil_div(d->C, CB) * CB, d->R, d->S, &n))
        return FC_SIZE_OVERFLOW;
    *floats = (size_t)n;
    return FC_SUCCESS;
}

/* The output blocks in pairs (the kernel's), a pair's two blocks side by side so one
 * pointer reaches both: from wb + kb0 * CBn * T * 64 (kb0 = the pair's first block),
 * wb[cb][t][i][b][j] = weight (k = (kb0 + b)*8 + j, c = cb*8 + i, t) for the
 * nb = min(2, KB - kb0) blocks b of the pair, zero past K or C. */
static void arrange_block(const fc_blocked_src *s, int64_t cb, int64_t kb, float *restrict wb) {
    int64_t KB = fc_ceil_div(s->K, CB), CBn = fc_ceil_div(s->C, CB), PB = FC_BLOCKED_KBLOCKS;
    int64_t nb = fc_min64(PB, KB - (kb - kb % PB)); /* blocks of its pair */
    int64_t kn = fc_min64(CB, s->K - kb * CB);      /* real k of the block */
    float *dst = wb + fc_blocked_weights_at(KB, CBn, s->T, kb, cb * CB, 0);
    const float *blk = s->src + kb * CB * s->sk + cb * CB * s->sc;
    int64_t cn = fc_min64(CB, s->C - cb * CB);
    /* taps row by row of tc */
    for (int64_t tr = 0; tr < s->T / s->tc; tr++)
        for (int64_t tc = 0; tc < s->tc; tc++) {
            const float *tap = blk + tr * s->str + tc * s->st;
            for (int64_t i = 0; i < CB; i++, dst += nb * CB) {
                const float *from = tap + i * s->sc;
                if (i < cn && kn == CB) { /* (a constant count: unrolled) */
                    for (int64_t j = 0; j < CB; j++) dst[j] = from[j * s->sk];
                    continue;
                }
                int64_t j = 0;
                if (i < cn)
                    for (; j < kn; j++) dst[j] = from[j * s->sk];
                for (; j < CB; j++) dst[j] = 0.0f;
            }
        }
}

/* Items (cb, kb), kb inner: consecutive items read along the same rows of the source
 * and fill the two halves of a pair's lines one after the other; each item arranges
 * its block of every source in turn, while the block's lines of w are in cache. */
void fc_blocked_arrange_weights_n(const fc_blocked_src *s, float *const *wb, int n) {
    if (n < 1) return; /* (no phase with taps: s[0] is not set) */
    int64_t KB = fc_ceil_div(s->K, CB), CBn = fc_ceil_div(s->C, CB);
    #pragma omp parallel for num_threads(fc_threads()) schedule(static)
    for (int64_t ck = 0; ck < CBn * KB; ck++)
        for (int i = 0; i < n; i++) arrange_block(s + i, ck / KB, ck % KB, wb[i]);
}

void fc_blocked_arrange_weights(const fc_blocked_src *s, float *wb) {
    fc_blocked_arrange_weights_n(s, &wb, 1);
}

fc_status fc_conv2d_blocked_transform_weights(const fc_conv2d_desc *d, const float *w, float *wb,
                                              size_t wb_floats) {
    FC_CALL_SCOPE();
    if (!w || !wb) return FC_INVALID_ARGUMENT;
    size_t need;
    fc_status st = fc_conv2d_blocked_weights_size(d, &need);
    if (st != FC_SUCCESS) return st;
    if (wb_floats < need) return FC_INVALID_WORKSPACE;
    int64_t T = d->R * d->S;
    const fc_blocked_src src = {w, d->K, d->C, T, T, d->C * T, T, 0, 1};
    fc_blocked_arrange_weights(&src, wb);
    return FC_SUCCESS;
}

/* ------------------------------------------------------------------ forward */

typedef struct blk_geom {
    int64_t OH, OW, CBn, KB, Hp, Wp;
    int64_t x_img, y_img;     /* floats per image: blocked input (unpadded), output */
    int64_t xp_img;           /* floats per padded (or gathered) image */
    int padded;               /* 0: the input is read in place */
    int in_place;             /* padding never copied: taps over it skipped (make_tiles) */
    int gathered;             /* 1x1, strided or padded: the input pixels the output reads,
                                 gathered into planes of OH x OW (xp_img per image) */
} blk_geom;

/* Output rows [oh0, oh1) whose taps read the map's data in the same rows of taps
 * [r0, r1), the other rows of taps reading only padding (zeros). */
typedef struct blk_band {
    int64_t oh0, oh1, r0, r1;
} blk_band;

/* The output columns whose taps read the map's data in the same columns of taps
 * [s0, s1): `count` columns. Inside a band: `join` the class whose segment runs them
 * (itself, or its band's main class for a small one); for a segment's class, [u0, u1)
 * the columns of taps it runs, its pixels [first, first + n) of the pixel order (at
 * the cursor while they are filled), in `per` tiles of which `next` are made. */
typedef struct blk_cols {
    int64_t s0, s1, count, join, u0, u1, first, n, cursor, per, next;
} blk_cols;

/* A kernel call's pixels: [pos, pos + n) of the image's pixel order (pix_x, pix_y), all
 * of one segment (a band's pixels of one class of columns, or of several joined), and
 * the taps they run (fc_blocked_args). row0: the first output row it and the tiles
 * after it hold (rising with the tiles). */
typedef struct blk_tile {
    int64_t pos, n, row0, tap0, nrows, ncols;
} blk_tile;

/* Tiles below this many pixels (or np if fewer) are not made of a small class of
 * columns: its pixels run with their band's main class, over the union of their
 * columns of taps (reading some padding). A tile's NKB * NP accumulators are its
 * dependency chains: 2 FMA pipes x 4 cycles of latency want 8, i.e. 4 pixels. The
 * corners of 7x7 maps as tiles of their own (1 pixel, 4 taps) cost more than the 2
 * taps they save: 512@7x7 batch 16, one thread, medians of alternating runs, 35.0
 * against 33.9 ms, its flipped backward-data 37.6 against 33.6. */
#define FC_BLOCKED_MIN_TILE 4

/* All a layer's arranged weights up to this many bytes: blocked_forward runs a batch
 * image-major (see there). */
#define FC_BLOCKED_IMAGE_MAJOR_BYTES (4 << 20)

/* Whether a padded layer reads its input in place rather than from a padded copy made
 * on every call: on maps of more than 256 output pixels. In place, make_tiles joins no
 * small classes of columns (a joined pixel would read its neighbours as padding), so a
 * map's corners run as tiles of their own, which costs more than the copy on small
 * maps. Zen 5, 2 threads, ResNet-18 plan steps, medians of alternating runs, copy ->
 * in place: batch 16, 64@56x56 3x3 9.3-9.6 -> 8.6-8.7 ms, 128@28x28 8.9-9.1 -> 8.4-8.6,
 * 64@56 stride 2 5.20 -> 4.92; 256@14x14 even (8.4-8.7 either way); 512@7x7 8.2-8.4 ->
 * 8.7-8.9 (lost: kept on the copy). Whole plans with the rule: ResNet-18 batch 1 11.27
 * -> 10.53 ms, ResNet-50 batch 1 27.2 -> 25.1. */
static int blk_in_place_pays(const blk_geom *g) { return g->OH * g->OW > 256; }

static fc_status make_geom(const fc_conv2d_desc *d, blk_geom *g) {
    fc_status st = check_desc(d, &g->OH, &g->OW);
    if (st != FC_SUCCESS) return st;
    g->CBn = fc_ceil_div(d->C, CB);
    g->KB = fc_ceil_div(d->K, CB);
    g->Hp = d->H + d->pad_top + d->pad_bottom;
    g->Wp = d->W + d->pad_left + d->pad_right;
    g->padded = d->pad_top || d->pad_bottom || d->pad_left || d->pad_right;
    /* A strided 1x1 layer would read one pixel of every sw (half of each cache line at
     * stride 2) and again for each group of output blocks: at batch 1 its input is
     * gathered once into a dense OH x OW map (zeros where it reads padding) and run at
     * stride 1. A batch reads it in place unless padded: the gather's pass over the
     * input cost more than the lines the kernel leaves half read. Zen 5, 2 threads,
     * ResNet-50 plan steps, medians of alternating runs, gathered -> in place: batch 16
     * 256 -> 512 @56 9.67 -> 8.00 ms, 512 -> 1024 @28 8.25 -> 7.50, 1024 -> 2048 @14
     * 8.11 -> 7.85; batch 1 even (0.53 ms) but 1024 -> 2048, 13 groups reading the map
     * again: 0.63 -> 0.68. */
    int strided = d->stride_h > 1 || d->stride_w > 1;
    g->gathered = d->R == 1 && d->S == 1 && (g->padded || (strided && d->N < 2));
    if (g->gathered) {
        g->padded = 1;
        g->Hp = g->OH;
        g->Wp = g->OW;
    }
    g->in_place = g->padded && !g->gathered && blk_in_place_pays(g);
    if (g->in_place) {
        g->padded = 0;
        g->Hp = d->H;
        g->Wp = d->W;
    }
    if (!fc_prod4(g->CBn, d->H, d->W, CB, &g->x_img) ||
        !fc_prod4(g->CBn, g->Hp, g->Wp, CB, &g->xp_img) ||
        !fc_prod4(g->KB, g->OH, g->OW, CB, &g->y_img))
        return FC_SIZE_OVERFLOW;
    int64_t t;
    if (!fc_mul_ok(d->N, g->xp_img, &t) || !fc_mul_ok(d->N, g->y_img, &t) ||
        !fc_mul_ok(d->N, g->x_img, &t))
        return FC_SIZE_OVERFLOW;
    return FC_SUCCESS;
}

static size_t workspace_bytes(const fc_conv2d_desc *d, const blk_geom *g) {
    size_t total = 0;
    int64_t px = g->OH * g->OW; /* fc_prod4 of y_img bounds it */
    if (g->padded && !fc_ws_add(&total, d->N * g->xp_img, sizeof(float))) return SIZE_MAX;
    if (!fc_ws_add(&total, 2 * g->KB * CB, sizeof(float))) return SIZE_MAX;   /* scale, bias */
    if (!fc_ws_add(&total, d->R * d->S, sizeof(int64_t))) return SIZE_MAX;    /* tap offsets */
    if (!fc_ws_add(&total, g->OH, sizeof(blk_band))) return SIZE_MAX;          /* bands */
    if (!fc_ws_add(&total, g->OW, sizeof(blk_cols))) return SIZE_MAX;          /* classes */
    if (!fc_ws_add(&total, g->OW, sizeof(int64_t))) return SIZE_MAX;           /* ... of columns */
    if (!fc_ws_add(&total, 2 * px, sizeof(int64_t))) return SIZE_MAX;          /* pix_x, pix_y */
    if (!fc_ws_add(&total, px, sizeof(blk_tile))) return SIZE_MAX;             /* tiles */
    return total;
}

fc_status fc_conv2d_blocked_workspace_size(const fc_conv2d_desc *d, size_t *bytes) {
    FC_CALL_SCOPE();
    if (!bytes) return FC_INVALID_ARGUMENT;
    blk_geom g;
    fc_status st = make_geom(d, &g);
    if (st != FC_SUCCESS) return st;
    size_t b = workspace_bytes(d, &g);
    if (b == SIZE_MAX) return FC_SIZE_OVERFLOW;
    *bytes = b;
    return FC_SUCCESS;
}

/* Rows [r0, r1) of the (image, padded row) pairs (N * Hp of them), every channel
 * block: the blocked input copied into planes with zero borders, rows of Wp*8 floats. */
static void pad_rows(const fc_conv2d_desc *d, const blk_geom *g, const float *x, float *xp,
                     int64_t r0, int64_t r1) {
    int64_t rowlen = g->Wp * CB;
    int64_t left = d->pad_left * CB, mid = d->W * CB, right = d->pad_right * CB;
    for (int64_t nr = r0; nr < r1; nr++) {
        int64_t n = nr / g->Hp, h = nr % g->Hp - d->pad_top;
        for (int64_t cb = 0; cb < g->CBn; cb++) {
            int64_t plane = n * g->CBn + cb;
            float *dst = xp + (plane * g->Hp + nr % g->Hp) * rowlen;
            if (h < 0 || h >= d->H) {
                memset(dst, 0, (size_t)rowlen * sizeof(float));
                continue;
            }
            memset(dst, 0, (size_t)left * sizeof(float));
            memcpy(dst + left, x + (plane * d->H + h) * mid, (size_t)mid * sizeof(float));
            memset(dst + left + mid, 0, (size_t)right * sizeof(float));
        }
    }
}

/* The 1x1 layer's input pixels, gathered, for rows [r0, r1) of the (image, output row)
 * pairs: xg[n][cb][oh][ow] = x at (oh*sh - pad_top, ow*sw - pad_left), zeros outside
 * the map. */
static void gather_rows(const fc_conv2d_desc *d, const blk_geom *g, const float *x, float *xg,
                        int64_t r0, int64_t r1) {
    for (int64_t nr = r0; nr < r1; nr++) {
        int64_t n = nr / g->OH, oh = nr % g->OH, ih = oh * d->stride_h - d->pad_top;
        for (int64_t cb = 0; cb < g->CBn; cb++) {
            int64_t plane = n * g->CBn + cb;
            float *dst = xg + (plane * g->OH + oh) * g->OW * CB;
            const float *src = x + (plane * d->H + ih) * d->W * CB;
            for (int64_t ow = 0; ow < g->OW; ow++) {
                int64_t iw = ow * d->stride_w - d->pad_left;
                if (ih < 0 || ih >= d->H || iw < 0 || iw >= d->W)
                    memset(dst + ow * CB, 0, CB * sizeof(float));
                else
                    memcpy(dst + ow * CB, src + iw * CB, CB * sizeof(float));
            }
        }
    }
}

#ifdef _OPENMP /* the threads' runs; serially one thread runs every item */
/* The first item whose preceding items hold at least `work` (items run group-major,
 * per_group items a group, each worth its group's block count: `group` blocks, the
 * last group the rest of KB). */
static int64_t blocked_item_at(int64_t work, int64_t per_group, int64_t group, int64_t KB) {
    int64_t before = 0;
    for (int64_t kb = 0; kb < KB; kb += group) {
        int64_t nb = fc_min64(group, KB - kb), in_group = per_group * nb;
        if (work <= before + in_group)
            return kb / group * per_group + fc_ceil_div(work - before, nb);
        before += in_group;
    }
    return fc_ceil_div(KB, group) * per_group;
}
#endif

/* The taps [*t0, *t1) of n (R or S) that read data, tap j of output place o reading the
 * (padded) map at o*step + j*dil, data in [lo, lo + len): as (0, 0) where none do. */
static void data_taps(int64_t o, int64_t step, int64_t dil, int64_t n, int64_t lo,
                      int64_t len, int64_t *t0, int64_t *t1) {
    int64_t at = o * step, a = 0, b = 0;
    if (at < lo) a = fc_ceil_div(lo - at, dil);
    if (at <= lo + len - 1) b = fc_min64(n, (lo + len - 1 - at) / dil + 1);
    if (b <= a) a = b = 0; /* only padding: the epilogue of zero sums */
    *t0 = a;
    *t1 = b;
}

/* The tiles of an image of an OH x OW output whose map holds data in rows
 * [top, top + rows) and columns [left, left + cols), the rest padding: the pixels in
 * segments that run the same taps, those of an output row band (the rows of taps that
 * read data) and a class of columns (the columns of taps that do); each segment's
 * pixels row by row in the pixel order (pix_x, pix_y), in tiles of at most np pixels as
 * even as np allows (49 pixels at np 6: 4 of 6 and 5 of 5, not 8 + 1). A tile may hold
 * pixels of several rows: the left edge of a 5-row band is one tile of 5. A 3x3 layer
 * padded by 1 on a 7x7 map multiplied zeros in 2 of its 21 (row, tap row) pairs and as
 * many (column, tap column) ones. Small classes (fewer than FC_BLOCKED_MIN_TILE pixels
 * in the band: the corners of 1-row bands) join the band's main class, but where the
 * input is read in place (g->in_place: its rows hold no padding to read). Skipped taps
 * are never multiplied, so an infinite weight over padding rows or columns alone makes
 * no NaN (inf * 0) there, as in oneDNN; but for those joined pixels, whose extra
 * columns of taps read padding (their rows never do). Returns the number of tiles. */
static int64_t make_tiles(const fc_conv2d_desc *d, const blk_geom *g, int64_t top,
                          int64_t rows, int64_t left, int64_t cols, int64_t np,
                          blk_band *bands, blk_cols *cls, int64_t *col_cls, int64_t *pix_x,
                          int64_t *pix_y, blk_tile *tiles) {
    int64_t sh = g->gathered ? 1 : d->stride_h, sw = g->gathered ? 1 : d->stride_w;
    int64_t row_step = sh * g->Wp * CB, col_step = sw * CB;
    /* read in place, the pixels' origins lie up and left of their first data tap by
     * the padding (before the map for its first row: only taps over data are run) */
    int64_t x0 = g->in_place ? -(d->pad_top * g->Wp + d->pad_left) * CB : 0;
    int64_t nb = 0, nc = 0, pos = 0, nt = 0;
    int64_t min_px = fc_min64(FC_BLOCKED_MIN_TILE, np);
    for (int64_t oh = 0; oh < g->OH; oh++) {
        int64_t r0, r1;
        data_taps(oh, sh, d->dilation_h, d->R, top, rows, &r0, &r1);
        if (nb > 0 && bands[nb - 1].r0 == r0 && bands[nb - 1].r1 == r1) {
            bands[nb - 1].oh1 = oh + 1;
            continue;
        }
        bands[nb++] = (blk_band){oh, oh + 1, r0, r1};
    }
    for (int64_t ow = 0; ow < g->OW; ow++) {
        int64_t s0, s1, k = 0;
        data_taps(ow, sw, d->dilation_w, d->S, left, cols, &s0, &s1);
        while (k < nc && (cls[k].s0 != s0 || cls[k].s1 != s1)) k++;
        if (k == nc) cls[nc++] = (blk_cols){.s0 = s0, .s1 = s1};
        cls[k].count++;
        col_cls[ow] = k;
    }
    int64_t big = 0; /* the main class: most columns (the interior) */
    for (int64_t k = 1; k < nc; k++)
        if (cls[k].count > cls[big].count) big = k;
    for (int64_t b = 0; b < nb; b++) {
        const blk_band *bd = bands + b;
        int64_t nr = bd->oh1 - bd->oh0;
        /* which class's segment runs each class's pixels, over which columns of taps */
        for (int64_t k = 0; k < nc; k++) {
            /* (in place, a joined pixel would read its neighbours as padding) */
            int small = bd->r1 == 0 || (!g->in_place && cls[k].count * nr < min_px);
            cls[k].join = small ? big : k;
            cls[k].u0 = cls[k].s0;
            cls[k].u1 = cls[k].s1;
            cls[k].n = 0;
        }
        for (int64_t k = 0; k < nc; k++) {
            blk_cols *j = cls + cls[k].join;
            if (j == cls + k || cls[k].s1 == 0) continue; /* (joining no taps adds none) */
            if (j->u1 == 0) {
                j->u0 = cls[k].s0;
                j->u1 = cls[k].s1;
            } else {
                j->u0 = fc_min64(j->u0, cls[k].s0);
                j->u1 = fc_max64(j->u1, cls[k].s1);
            }
        }
        /* the segments' pixels, row by row each, in one pass */
        for (int64_t k = 0; k < nc; k++) cls[cls[k].join].n += cls[k].count * nr;
        for (int64_t k = 0; k < nc; k++) {
            if (cls[k].join != k) continue;
            cls[k].first = cls[k].cursor = pos;
            pos += cls[k].n;
            cls[k].per = fc_ceil_div(cls[k].n, np);
            cls[k].next = 0;
        }
        for (int64_t oh = bd->oh0; oh < bd->oh1; oh++)
            for (int64_t ow = 0; ow < g->OW; ow++) {
                int64_t at = cls[cls[col_cls[ow]].join].cursor++;
                pix_x[at] = x0 + oh * row_step + ow * col_step;
                pix_y[at] = (oh * g->OW + ow) * CB;
            }
        /* the segments' tiles (each segment's in order) merged by their last row, then
         * position: an edge tile, its pixels in as many rows, runs after the interior
         * tiles of those rows, which brought its input into cache (run first, it read
         * strided lines from memory: 512@7x7 batch 16, one thread, 1.07-1.10 times the
         * time without column skipping, and 0.92-0.93 merged by last row) */
        int64_t nrows = bd->r1 - bd->r0;
        for (;;) {
            int64_t best = -1, best_row = 0, best_q = 0;
            for (int64_t k = 0; k < nc; k++) {
                const blk_cols *c = cls + k;
                if (c->join != k || c->next == c->per) continue;
                int64_t q0 = c->first + c->next * c->n / c->per;
                int64_t q1 = c->first + (c->next + 1) * c->n / c->per;
                int64_t row = pix_y[q1 - 1] / CB / g->OW;
                if (best < 0 || row < best_row || (row == best_row && q0 < best_q)) {
                    best = k;
                    best_row = row;
                    best_q = q0;
                }
            }
            if (best < 0) break;
            blk_cols *c = cls + best;
            int64_t q1 = c->first + (c->next + 1) * c->n / c->per;
            int64_t ncols = nrows ? c->u1 - c->u0 : 0;
            int64_t run = ncols ? nrows : 0;
            tiles[nt++] = (blk_tile){best_q, q1 - best_q, pix_y[best_q] / CB / g->OW,
                                     run ? bd->r0 * d->S + c->u0 : 0, run, ncols};
            c->next++;
        }
    }
    /* row0: the first row of the tile and of those after it, rising with the tiles (the
     * threads pad the rows from their first tile's on) */
    for (int64_t i = nt - 1; i > 0; i--)
        tiles[i - 1].row0 = fc_min64(tiles[i - 1].row0, tiles[i].row0);
    return nt;
}

/* The first (image, padded row) pair item `it` reads, with one group of output blocks
 * (items are image-major tiles; it may be the end: the next image's start): its first
 * tile's first row times the row step. */
static int64_t blocked_first_row(int64_t it, const blk_tile *tiles, int64_t ntiles,
                                 int64_t per_img, int64_t step, int64_t total) {
    int64_t n = it / ntiles;
    return fc_min64(total, n * per_img + tiles[it % ntiles].row0 * step);
}

/* Slice j of n of group grp's arranged weights, prefetched (nothing past the last
 * group). */
static void prefetch_group_slice(const float *wb, int64_t w_kb, int64_t KB, int64_t group,
                                 int64_t grp, int64_t j, int64_t n) {
    int64_t kb0 = grp * group;
    if (kb0 >= KB) return;
    const char *p = (const char *)(wb + kb0 * w_kb);
    int64_t len = fc_min64(group, KB - kb0) * w_kb * (int64_t)sizeof(float);
    int64_t a = len * j / n, b = len * (j + 1) / n;
    for (int64_t o = a & ~(int64_t)63; o < b; o += 64) __builtin_prefetch(p + o, 0, 2);
}

/* Item `it` (group, image, tile of pixels): one kernel call, over the taps of the
 * tile's segment. */
static void blocked_item(const fc_blocked_args *base, const blk_geom *g,
                         const fc_conv2d_desc *d, const fc_epilogue *ep, const float *xp,
                         int64_t x_img, float *yb, fc_blocked_fn kern, int64_t it,
                         const blk_tile *tiles, int64_t ntiles, int64_t group,
                         int image_major, int64_t w_period, int64_t w_step) {
    int64_t tile = it % ntiles, rest = it / ntiles, ngroups = fc_ceil_div(g->KB, group);
    int64_t n = image_major ? rest / ngroups : rest % d->N;
    int64_t grp = image_major ? rest % ngroups : rest / d->N;
    const blk_tile *tl = tiles + tile;
    fc_blocked_args a = *base;
    a.wb = base->wb + n % w_period * w_step;
    a.xp = xp + n * x_img;
    a.y = yb + n * g->y_img;
    a.res = ep->residual ? ep->residual + n * g->y_img : NULL;
    a.tap0 = tl->tap0;
    a.nrows = tl->nrows;
    a.ncols = tl->ncols;
    if (a.ncols == d->S) { /* whole rows of taps: one run, contiguous in toff and wb */
        a.ncols *= a.nrows;
        a.nrows = a.nrows > 0;
    }
    int64_t kb = grp * group;
    kern(&a, kb, fc_min64(group, g->KB - kb), tl->pos, tl->n);
}

/* The forward; the map's data rows are [top, top + rows) and its data columns
 * [left, left + cols) of the input (after the padding this call adds, if any), the
 * others zeros. */
static fc_status blocked_forward(const fc_conv2d_desc *d, int64_t top, int64_t rows,
                                 int64_t left, int64_t cols, const float *xb, const float *wb,
                                 int64_t w_period, int64_t w_step, int64_t x_step,
                                 int64_t y_step, const fc_epilogue *ep, float *yb,
                                 void *workspace, size_t workspace_size) {
    if (!xb || !wb || !yb) return FC_INVALID_ARGUMENT;
    blk_geom g;
    fc_status st = make_geom(d, &g);
    if (st != FC_SUCCESS) return st;
    if (x_step || y_step) { /* images further apart than their size: unpadded input only */
        if (g.padded || x_step < g.x_img || y_step < g.y_img) return FC_INVALID_ARGUMENT;
        g.x_img = x_step;
        g.y_img = y_step;
    }
    if (g.gathered) { /* 1x1 taps: each gathered pixel reads its own place */
        top = left = 0;
        rows = g.Hp;
        cols = g.Wp;
    } else if (g.padded || g.in_place) {
        top = d->pad_top;
        rows = d->H;
        left = d->pad_left;
        cols = d->W;
    }
    const fc_epilogue none = {NULL, NULL, NULL, 0};
    if (!ep) ep = &none;
    st = fc_epilogue_check(ep, yb, d->N * g.y_img);
    if (st != FC_SUCCESS) return st;
    if (d->N == 0) return FC_SUCCESS;
    size_t need = workspace_bytes(d, &g);
    if (need == SIZE_MAX) return FC_SIZE_OVERFLOW;
    FC_ARENA(ws);
    st = fc_workspace_open(workspace, workspace_size, need, &ws);
    if (st != FC_SUCCESS) return st;

    const fc_kernels *kt = fc_kernels_active();
    const float *xp = xb;
    float *padded = NULL; /* filled in the parallel region below, before any kernel call */
    int64_t Hp = d->H, Wp = d->W, x_img = g.x_img;
    if (g.padded) {
        padded = fc_arena_alloc(&ws, (size_t)(d->N * g.xp_img) * sizeof(float));
        if (!padded) return FC_INVALID_WORKSPACE;
        xp = padded;
        Hp = g.Hp;
        Wp = g.Wp;
        x_img = g.xp_img;
    }
    float *sb = fc_arena_alloc(&ws, (size_t)(2 * g.KB * CB) * sizeof(float));
    int64_t *toff = fc_arena_alloc(&ws, (size_t)(d->R * d->S) * sizeof(int64_t));
    blk_band *bands = fc_arena_alloc(&ws, (size_t)g.OH * sizeof(blk_band));
    blk_cols *cls = fc_arena_alloc(&ws, (size_t)g.OW * sizeof(blk_cols));
    int64_t *col_cls = fc_arena_alloc(&ws, (size_t)g.OW * sizeof(int64_t));
    int64_t *pix = fc_arena_alloc(&ws, (size_t)(2 * g.OH * g.OW) * sizeof(int64_t));
    blk_tile *tiles = fc_arena_alloc(&ws, (size_t)(g.OH * g.OW) * sizeof(blk_tile));
    if (!sb || !toff || !bands || !cls || !col_cls || !pix || !tiles)
        return FC_INVALID_WORKSPACE;
    /* scale and bias padded to whole blocks (the kernel loads vectors of 8) */
    float *scale = ep->scale ? sb : NULL, *bias = sb + g.KB * CB;
    for (int64_t k = 0; k < g.KB * CB; k++) {
        sb[k] = ep->scale && k < d->K ? ep->scale[k] : 0.0f;
        bias[k] = ep->bias && k < d->K ? ep->bias[k] : 0.0f;
    }
    for (int64_t r = 0; r < d->R; r++)
        for (int64_t s = 0; s < d->S; s++)
            toff[r * d->S + s] = (r * d->dilation_h * Wp + s * d->dilation_w) * CB;

    fc_blocked_args base = {
        .cb = g.CBn, .x_cb = Hp * Wp * CB, .pix_x = pix, .pix_y = pix + g.OH * g.OW,
        .toff = toff, .S = d->S, .T = d->R * d->S, .wb = wb,
        .w_kb = g.CBn * d->R * d->S * CB * CB, .y_kb = g.OH * g.OW * CB,
        .K = d->K, .scale = scale, .bias = bias, .relu = ep->relu != 0};
    /* Work items: (group of output blocks, image, tile of output pixels); a kernel call
     * runs the tile over all the group's blocks, so the tile's input stays in L1 while
     * the group's weights, sized to stay in L2 (the table's group_bytes), are read
     * again for each tile. Where all the weights fit (1x1 and most layers of large maps)
     * there is one group and the input is streamed once; 512-channel 3x3 layers get one
     * or two pairs of blocks a group (the input, then, is what stays in cache). The images inside a group: a batch reads
     * the weights from memory once, not once per image. Tiles are as even as the
     * kernel's width allows, inside each segment of pixels that run the same taps
     * (make_tiles). */
    int64_t np = kt->conv_blocked.np;
    int64_t ntiles = make_tiles(d, &g, top, rows, left, cols, np, bands, cls, col_cls,
                                pix, pix + g.OH * g.OW, tiles);
    int64_t pair_bytes = FC_BLOCKED_KBLOCKS * base.w_kb * (int64_t)sizeof(float);
    /* as few groups as the L2 bound allows, as even as whole pairs make them (8 blocks
     * under a bound of 6: 4 + 4, not 6 + 2) */
    int64_t most = FC_BLOCKED_KBLOCKS * fc_max64(1, kt->conv_blocked.group_bytes / pair_bytes);
    int64_t group = fc_ceil_div(fc_ceil_div(g.KB, fc_ceil_div(g.KB, most)), FC_BLOCKED_KBLOCKS) *
                    FC_BLOCKED_KBLOCKS;
    int64_t ngroups = fc_ceil_div(g.KB, group);
    int64_t per_group = d->N * ntiles, items = ngroups * per_group;
    fc_blocked_fn kern = kt->conv_blocked.forward;
    /* Items run group-major (each group's weights read once for the whole batch) unless
     * all the weights are small enough to stay in the last-level cache: then
     * image-major, so that an image's input is read again by each group from L2 instead
     * of the whole batch's input from memory. 1 thread, batch 16, 1024 -> 256 1x1 at
     * 14x14 (4 groups): 31-32 ms group-major against 4.9 ms at batch 4 */
    int image_major = d->N > 1 && ngroups > 1 &&
                      g.KB * base.w_kb * (int64_t)sizeof(float) <= FC_BLOCKED_IMAGE_MAJOR_BYTES;
    /* Many groups (256- and 512-channel 3x3 layers: one pair a group): whole groups
     * handed out as threads free up, so a core slowed by the host does not hold the
     * other back, and a group's weights stay with one thread. Few: runs of equal work.
     * ResNet-18 batch-1 inference, three alternating rounds on a noisy host: medians
     * 20.0-21.2 -> 18.3-19.0 ms, the fastest runs unchanged (17.6-17.8). */
    int T = fc_threads(), dynamic = T > 1 && ngroups >= 4 * T && !image_major;
    /* With several groups run group-major, each item also prefetches its share of the
     * weights of the group its thread runs next (the next one; T on when handed out
     * dynamically), so that a group's first tile finds them in cache instead of waiting
     * on memory: at batch 1 a 512-channel 3x3 layer's 9.4 MB are read once, 590 KB a
     * group over 7 tiles. Zen 5, plan steps, medians of 7-9 alternating runs, 2 threads:
     * ResNet-18 batch 1 512@7x7 2.92 -> 2.63 ms (three layers), ResNet-50 batch 1
     * 512@7x7 1.82 -> 1.64, 512 3x3/2 @14 0.97 -> 0.84, 256 -> 1024 1x1 1.96 -> 1.85;
     * one thread, ResNet-18 batch 1 512@7x7 4.95 -> 4.83; batch 16 even. */
    int pf = ngroups > 1 && !image_major && w_period == 1;
    /* One region for the padding and the kernels (a barrier between them, not a second
     * fork and join: 2 threads, ResNet-18's 64@56 3x3 at batch 1 lost 7% to its
     * padding as a region of its own, 2% at one thread). */
    #pragma omp parallel num_threads(T)
    {
        int64_t lo = 0, hi = items;
        int t, nt;
        fc_team(&t, &nt);
#ifdef _OPENMP
        if (!dynamic) {
            /* Each thread a contiguous run of items of equal work (output blocks times
             * tiles): the last group may hold fewer blocks than the others (16 blocks in
             * groups of 6: 6 + 6 + 4), and an equal count of items would give one
             * thread an eighth more work. */
            if (image_major) { /* images of equal work: each a run of groups */
                int64_t img = g.KB * ntiles, work = d->N * img, w0 = work * t / nt,
                        w1 = work * (t + 1) / nt, per_img = ngroups * ntiles;
                lo = w0 / img * per_img + blocked_item_at(w0 % img, ntiles, group, g.KB);
                hi = w1 / img * per_img + blocked_item_at(w1 % img, ntiles, group, g.KB);
            } else {
                int64_t work = per_group * g.KB;
                lo = blocked_item_at(work * t / nt, per_group, group, g.KB);
                hi = blocked_item_at(work * (t + 1) / nt, per_group, group, g.KB);
            }
        }
#endif
        if (padded) {
            /* Each thread pads (or gathers) the rows its own tiles read first, every
             * channel block of them, so that the kernels find their input in their own
             * core's cache: split by channel blocks instead, half of each thread's input
             * came from the other core (2 threads, 64@56 3x3 batch 1: 1.27 against
             * 1.07 ms unpadded; one thread 2.16 against 2.09). With several groups of
             * output blocks every thread reads every row, and the rows split evenly. */
            int64_t per_img = g.gathered ? g.OH : g.Hp, total = d->N * per_img;
            int64_t step = g.gathered ? 1 : d->stride_h;
            int64_t r0 = total * t / nt, r1 = total * (t + 1) / nt;
            if (ngroups == 1) {
                r0 = t == 0 ? 0 : blocked_first_row(lo, tiles, ntiles, per_img, step, total);
                r1 = t == nt - 1 ? total
                                 : blocked_first_row(hi, tiles, ntiles, per_img, step, total);
            }
            if (g.gathered) gather_rows(d, &g, xb, padded, r0, r1);
            else pad_rows(d, &g, xb, padded, r0, r1);
            #pragma omp barrier
        }
        if (dynamic) {
            #pragma omp for schedule(dynamic, 1) nowait
            for (int64_t grp = 0; grp < ngroups; grp++)
                for (int64_t it = grp * per_group; it < (grp + 1) * per_group; it++) {
                    if (pf) prefetch_group_slice(wb, base.w_kb, g.KB, group, grp + T,
                                                 it - grp * per_group, per_group);
                    blocked_item(&base, &g, d, ep, xp, x_img, yb, kern, it, tiles, ntiles,
                                 group, 0, w_period, w_step);
                }
        } else {
            for (int64_t it = lo; it < hi; it++) {
                if (pf)
                    prefetch_group_slice(wb, base.w_kb, g.KB, group, it / per_group + 1,
                                         it % per_group, per_group);
                blocked_item(&base, &g, d, ep, xp, x_img, yb, kern, it, tiles, ntiles,
                             group, image_major, w_period, w_step);
            }
        }
    }
    return FC_SUCCESS;
}

fc_status fc_conv2d_blocked_forward(const fc_conv2d_desc *d, const float *xb, const float *wb,
                                    const fc_epilogue *ep, float *yb, void *workspace,
                                    size_t workspace_size) {
    FC_CALL_SCOPE();
    if (!d) return FC_INVALID_ARGUMENT;
    return blocked_forward(d, 0, d->H, 0, d->W, xb, wb, 1, 0, 0, 0, ep, yb, workspace,
                           workspace_size);
}

fc_status fc_blocked_forward_image_weights(const fc_conv2d_desc *d, const float *xb,
                                           const float *wb, int64_t w_period, int64_t w_step,
                                           int64_t x_step, int64_t y_step,
                                           const fc_epilogue *ep, float *yb, void *workspace,
                                           size_t workspace_size) {
    if (w_period < 1) return FC_INVALID_ARGUMENT;
    return blocked_forward(d, 0, d->H, 0, d->W, xb, wb, w_period, w_step, x_step, y_step, ep,
                           yb, workspace, workspace_size);
}

fc_status fc_blocked_forward_padded(const fc_conv2d_desc *d, int64_t top, int64_t rows,
                                    int64_t left, int64_t cols, const float *xb,
                                    const float *wb, const fc_epilogue *ep, float *yb,
                                    void *workspace, size_t workspace_size) {
    return blocked_forward(d, top, rows, left, cols, xb, wb, 1, 0, 0, 0, ep, yb, workspace,
                           workspace_size);
}

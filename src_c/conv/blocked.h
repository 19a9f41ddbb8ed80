/* Direct convolution on the blocked channel layout NCHW8c (x[N][C/8][H][W][8], channels
 * padded with zeros to a multiple of 8): the loops (conv/blocked.c) and the contract of
 * the per-ISA kernels they call through the registry (one body in
 * kernels/f32_conv_blocked.inc). Each output pixel's 8 channels are one vector, so a
 * tile of output pixels times output-channel blocks accumulates in registers with one
 * broadcast input value feeding one FMA per block: no im2col, no lanes wasted on small
 * maps (oneDNN's and MLAS's NCHWc direct convolution). */
#ifndef FC_CONV_BLOCKED_H
#define FC_CONV_BLOCKED_H

#include "../core/internal.h"

/* Channels per block of the layout (one AVX2 vector). */
#define FC_BLOCKED_CB 8

/* dst[i][j] = src[j * stride + i] for n pixels i and the cn (<= 8) channels j of a block,
 * zeros in the block's lanes past cn: a run of pixels of one block's planes (stride
 * floats apart) into the blocked layout. The reorders to NCHW8c share it. */
static inline void fc_blocked_gather_run(const float *restrict src, int64_t stride, int64_t n,
                                         int64_t cn, float *restrict dst) {
    if (cn == FC_BLOCKED_CB) { /* (a constant count: unrolled) */
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < FC_BLOCKED_CB; j++) dst[i * FC_BLOCKED_CB + j] = src[j * stride + i];
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t j = 0;
        for (; j < cn; j++) dst[i * FC_BLOCKED_CB + j] = src[j * stride + i];
        for (; j < FC_BLOCKED_CB; j++) dst[i * FC_BLOCKED_CB + j] = 0.0f;
    }
}
/* Output-channel blocks the kernel accumulates at once (fewer at the last one). */
#define FC_BLOCKED_KBLOCKS 2

/* The kernel's weight arrangement (below) of K x C x T weights, T taps in rows of tc,
 * (T a multiple of tc), whose (k, c, t) lies at src[k*sk + c*sc + (t / tc)*str +
 * (t % tc)*st]: the public
 * transform's plain weights (tc = T), backward-data's flipped ones
 * (conv/bwd_data_flipped.c) and a phase's taps of them (conv/bwd_data_phases.c) read
 * straight from w. */
typedef struct fc_blocked_src {
    const float *src;
    int64_t K, C, T, tc, sk, sc, str, st;
} fc_blocked_src;
void fc_blocked_arrange_weights(const fc_blocked_src *s, float *wb);
/* The same for n sources of equal K and C (their T may differ), into wb[0..n), in one
 * pass: a strided backward-data's phases (conv/bwd_data_phases.c). */
void fc_blocked_arrange_weights_n(const fc_blocked_src *s, float *const *wb, int n);
/* Where that arrangement keeps the 8 lanes (k = kb*8 + j) of output block kb against
 * input channel c and tap t, for KB output blocks and CBn input blocks. */
static inline int64_t fc_blocked_weights_at(int64_t KB, int64_t CBn, int64_t T, int64_t kb,
                                            int64_t c, int64_t t) {
    int64_t kb0 = kb - kb % FC_BLOCKED_KBLOCKS;
    int64_t nb = KB - kb0 < FC_BLOCKED_KBLOCKS ? KB - kb0 : FC_BLOCKED_KBLOCKS;
    return kb0 * CBn * T * FC_BLOCKED_CB * FC_BLOCKED_CB +
           (c / FC_BLOCKED_CB) * T * FC_BLOCKED_CB * nb * FC_BLOCKED_CB +
           (t * FC_BLOCKED_CB + c % FC_BLOCKED_CB) * nb * FC_BLOCKED_CB +
           (kb - kb0) * FC_BLOCKED_CB;
}

/* One image of the forward pass. The input is padded (zeros around each plane, so the
 * kernel needs no boundary logic): xp[CB][Hp][Wp][8]. Weights
 * (fc_conv2d_blocked_transform_weights) are in pairs of output blocks, the pair from
 * block kb0 (even) at wb + kb0 * w_kb: [CB][R*S][8 input][nb][8 output], nb = 2 but
 * for an odd KB's last block. */
typedef struct fc_blocked_args {
    const float *xp;          /* padded input of the image */
    int64_t cb;               /* input channel blocks */
    int64_t x_cb;             /* floats between input channel blocks (Hp*Wp*8) */
    const int64_t *pix_x;     /* the tile's pixels from position q0: their input origins */
    const int64_t *pix_y;     /* ... and their output places (floats from y, res) */
    /* Taps run: nrows runs of ncols taps, the runs S taps apart, from tap0 = r0*S + s0
     * (the rows and columns of taps that read the map's data for the tile's pixels;
     * the others read only padding, zeros, and are skipped: blocked.c's segments;
     * whole rows of taps are one run) */
    const int64_t *toff;      /* R*S offsets (floats) of the taps from a pixel's origin */
    int64_t tap0, nrows, ncols;
    int64_t S;                /* taps per row of taps */
    int64_t T;                /* taps of an input block's weights (R*S) */
    const float *wb;          /* packed weights (all output blocks) */
    int64_t w_kb;             /* floats of one output block's weights (CB*R*S*64) */
    float *y;                 /* output of the image: y[KB][OH*OW][8] */
    int64_t y_kb;             /* floats between output blocks in y (OH*OW*8) */
    int64_t K;                /* real output channels: lanes past K are stored as 0 */
    /* The forward epilogue, in registers before the store:
     * y = act(scale * acc + bias + res). scale: KB*8 values or NULL (1); bias: KB*8
     * values (zeros when absent), never NULL; res laid out as y or NULL (may be y). */
    const float *scale;
    const float *bias;
    const float *res;
    int relu;
} fc_blocked_args;

/* fc_conv2d_blocked_forward on an input whose rows outside [top, top + rows) and
 * columns outside [left, left + cols) the caller padded with zeros (conv/blocked_nchw.c
 * pads while it reorders; d has no padding of its own there): the taps that read only
 * those rows or columns are skipped. Workspace as the public forward's for d. */
fc_status fc_blocked_forward_padded(const fc_conv2d_desc *d, int64_t top, int64_t rows,
                                    int64_t left, int64_t cols, const float *xb,
                                    const float *wb, const fc_epilogue *ep, float *yb,
                                    void *workspace, size_t workspace_size);

/* fc_conv2d_blocked_forward with image n's arranged weights at wb + (n % w_period) *
 * w_step floats (conv/blocked_winograd.c: one weight matrix per transform position,
 * the positions run as the images of one call) and, where x_step, y_step are not 0,
 * image n of an unpadded input at xb + n * x_step, of the output at yb + n * y_step
 * (at least an image's floats apart). */
fc_status fc_blocked_forward_image_weights(const fc_conv2d_desc *d, const float *xb,
                                           const float *wb, int64_t w_period, int64_t w_step,
                                           int64_t x_step, int64_t y_step,
                                           const fc_epilogue *ep, float *yb, void *workspace,
                                           size_t workspace_size);

/* Winograd F(mxm,3x3), m = 2 or 4, on the layout (conv/blocked_winograd.c): the tile
 * transforms of one tile row of one channel block, per ISA
 * (kernels/f32_conv_blocked_winograd.inc). V and M hold tile tw's 8 lanes of transform
 * position xi at [xi * pos + tw * 8]. */
typedef struct fc_blocked_wg_in {
    const float *x;           /* the block's input plane: H x W pixels of 8 */
    int64_t H, W;
    int64_t h0, w0;           /* the first tile's input origin (m*th - pad_top, -pad_left);
                                 rows and columns outside the plane read as zeros */
    int64_t TW;
    int m;                    /* output tile m x m (2 or 4), the tiles' stride */
    int r;                    /* kernel r x r (3, or 5 with m 2): input tiles of m + r - 1 */
    float *v;
    int64_t pos;
    int64_t ts;               /* floats between consecutive tiles' 8 lanes (8: blocked) */
} fc_blocked_wg_in;

typedef struct fc_blocked_wg_out {
    const float *m;
    int64_t pos, TW;
    int mt, r;                /* the tile's m and the kernel's r (as fc_blocked_wg_in's) */
    int64_t rows, OW;         /* output rows of the tile row (1..m) and columns */
    float *y;                 /* the block's plane at the tile row's first output row */
    const float *res;         /* the residual at the same place, or NULL (may be y) */
    const float *scale, *bias;/* the block's 8 of each (scale 1 where absent) */
    int relu;
    int kn;                   /* real channels of the block: lanes past it stored as 0 */
    /* A tile holding a non-finite value (NaN, infinity, a transform's overflow): before
     * the epilogue, fix(ctx, oh, ow, v) recomputes each non-finite lane of v, output
     * (oh, ow) of the plane (oh counted from the tile row's first) */
    void (*fix)(const void *ctx, int64_t oh, int64_t ow, float *v);
    const void *ctx;
} fc_blocked_wg_out;

/* The filter transform G f G^T of one block's 8 output channels [k0, k0 + kn) against
 * input channel c, written straight into the positions' arranged 1x1 weights (the 8
 * lanes of position xi at dst + xi * pos; lanes past kn stored as 0). Lane l's filter
 * has tap (r, s) at w + l * sk + r * fr + s * fs (fr, fs negative: read flipped). In
 * double, the sums in the same order as the NCHW Winograd's (conv/winograd_common.c). */
typedef struct fc_blocked_wg_filt {
    const float *w;
    int64_t sk, fr, fs;
    int kn, m, r;             /* (m, r as fc_blocked_wg_in's) */
    float *dst;
    int64_t pos;
} fc_blocked_wg_filt;

typedef void (*fc_blocked_wg_in_fn)(const fc_blocked_wg_in *a);
typedef void (*fc_blocked_wg_out_fn)(const fc_blocked_wg_out *a);
typedef void (*fc_blocked_wg_filt_fn)(const fc_blocked_wg_filt *a);
/* Backward-weights (conv/blocked_winograd_bwd_weights.c) transforms grad_y's m x m
 * tiles by A g A^T with the same arguments: x the block's grad_y plane (H x W = the
 * output map), h0 = m * th, w0 = 0, (m+r-1)^2 positions written as the input transform's. */
typedef fc_blocked_wg_in_fn fc_blocked_wg_grad_fn;

/* Output blocks [kb, kb + nkb) (kb even, nkb >= 1, kb + nkb <= KB) for the np (1..the
 * table's np) output pixels at positions [q0, q0 + np) of pix_x / pix_y,
 * FC_BLOCKED_KBLOCKS blocks at a time over the same pixels (their input stays in L1
 * across the blocks). Reads xp, wb, scale, bias, res; writes only those pixels' blocks
 * of y (after reading res at the same place). */
typedef void (*fc_blocked_fn)(const fc_blocked_args *a, int64_t kb, int64_t nkb, int64_t q0,
                              int64_t np);

/* The test hook's setting (fc_conv_blocked_winograd_set_mode: -1 the rule, 0 never, 1
 * wherever Winograd serves), which conv2d.c's NCHW rule obeys too. */
int fc_conv_blocked_winograd_override(void);
/* Tile rows of a band of the Winograd passes over `all` tile rows of TW tiles (the
 * batch's, across images): at most about `bytes` of transformed data (row_bytes a row)
 * but at least min_tiles tiles, the bands as even as whole rows allow. */
static inline int64_t fc_blocked_wg_band(int64_t all, int64_t TW, int64_t row_bytes,
                                         int64_t bytes, int64_t min_tiles) {
    int64_t most = fc_max64(fc_max64(1, bytes / row_bytes), fc_ceil_div(min_tiles, TW));
    all = fc_max64(all, 1);
    return fc_ceil_div(all, fc_ceil_div(all, most));
}
/* conv/blocked_winograd.c's pieces for a caller that transforms the filters on every
 * call (conv/blocked_nchw.c): fc_conv2d_blocked_winograd_transform_weights's work, of
 * d's filters w, or (flipped) of those of the layer whose backward-data d's forward is
 * (conv/bwd_data_flipped.h; w[d->C][d->K][R][S]); and the forward, whose fix-up of
 * non-finite outputs reads the same plain filters. */
fc_status fc_blocked_winograd_transform(const fc_conv2d_desc *d, fc_conv_algorithm algo,
                                        const float *w, int flipped, float *wb);
fc_status fc_blocked_winograd_run(const fc_conv2d_desc *d, fc_conv_algorithm algo,
                                  const float *xb, const float *wb, const float *w, int flipped,
                                  const fc_epilogue *ep, float *yb, void *workspace,
                                  size_t workspace_size);

#endif

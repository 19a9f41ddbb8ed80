/* Depthwise convolution (groups == C, multiplier m): output channel c*m+j reads input
 * channel c only. A dedicated direct kernel rather than grouped GEMM: each task
 * (image, input channel) copies its plane once into a padded, phase-split per-thread
 * buffer (so strided rows read contiguously and no tap needs a bounds check) and the
 * per-ISA kernels run along the output width.
 *   forward        one packed x plane -> m output planes
 *   backward-data  m packed, zero-upsampled grad_y planes, flipped weights, stride 1
 *   backward-wts   per-thread partial sums over (image, channel) tasks, then reduced */
#include <string.h>

#include "conv_desc.h"
#include "depthwise.h"
#include "epilogue.h"
#include "plane.h"
#include "core/registry.h"

static int thread_id(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

static int team_size(void) {
#ifdef _OPENMP
    return omp_get_num_threads();
#else
    return 1;
#endif
}

/* One channel's weight and bias gradients from the threads' partial sums: its R*S + 1
 * values at first + t * step (t <= RS, the last the bias) in each of nteam partials
 * team_stride floats apart, added in thread order. */
static void sum_partials(const float *first, int64_t team_stride, int nteam, int64_t step,
                         int64_t RS, float *gw, float *gb) {
    for (int64_t t = 0; t <= RS; t++) {
        float s = 0.0f;
        for (int q = 0; q < nteam; q++) s += first[q * team_stride + t * step];
        if (t < RS) gw[t] = s;
        else if (gb) *gb = s;
    }
}

/* Checks the descriptor; sets OH, OW. */
static fc_status dw_check(const fc_depthwise_conv2d_desc *d, int64_t *OH, int64_t *OW) {
    if (!d) return FC_INVALID_ARGUMENT;
    if (d->N < 1 || d->C < 1 || d->H < 1 || d->W < 1 || d->multiplier < 1 || d->R < 1 || d->S < 1)
        return FC_INVALID_SHAPE;
    if (d->stride_h < 1 || d->stride_w < 1) return FC_INVALID_STRIDE;
    if (d->dilation_h < 1 || d->dilation_w < 1) return FC_INVALID_DILATION;
    if (d->pad_top < 0 || d->pad_bottom < 0 || d->pad_left < 0 || d->pad_right < 0)
        return FC_INVALID_PADDING;
    int64_t oh = fc_conv_out_size(d->H, d->pad_top, d->pad_bottom, d->R, d->dilation_h, d->stride_h);
    int64_t ow = fc_conv_out_size(d->W, d->pad_left, d->pad_right, d->S, d->dilation_w, d->stride_w);
    if (oh < 0 || ow < 0) return FC_INVALID_SHAPE;
    int64_t K, t, lim = INT64_MAX / 8;
    if (!fc_mul_ok(d->C, d->multiplier, &K)) return FC_SIZE_OVERFLOW;
    if (!fc_prod4(d->N, d->C, d->H, d->W, &t) || t > lim) return FC_SIZE_OVERFLOW;
    if (!fc_prod4(K, 1, d->R, d->S, &t) || t > lim) return FC_SIZE_OVERFLOW;
    if (!fc_prod4(d->N, K, oh, ow, &t) || t > lim) return FC_SIZE_OVERFLOW;
    /* Padded planes of both passes (every term below is bounded by these). */
    int64_t ph = (d->R - 1) * d->dilation_h, pw = (d->S - 1) * d->dilation_w;
    /* The sums themselves may overflow with hostile pads: check every step. */
    int64_t rows, cols;
    if (__builtin_add_overflow(d->H, ph, &rows) || __builtin_add_overflow(rows, d->pad_top, &rows) ||
        __builtin_add_overflow(rows, d->pad_bottom, &rows) || __builtin_add_overflow(rows, 1, &rows) ||
        __builtin_add_overflow(d->W, pw, &cols) || __builtin_add_overflow(cols, d->pad_left, &cols) ||
        __builtin_add_overflow(cols, d->pad_right, &cols) ||
        __builtin_add_overflow(cols, d->stride_w, &cols) || __builtin_add_overflow(cols, 1, &cols))
        return FC_SIZE_OVERFLOW;
    if (!fc_prod4(d->multiplier, rows, cols, 1, &t) || t > lim)
        return FC_SIZE_OVERFLOW;
    *OH = oh;
    *OW = ow;
    return FC_SUCCESS;
}

fc_status fc_depthwise_conv2d_output_shape(const fc_depthwise_conv2d_desc *d, int64_t *OH,
                                           int64_t *OW) {
    if (!OH || !OW) return FC_INVALID_ARGUMENT;
    return dw_check(d, OH, OW);
}

static fc_plane_geom forward_geom(const fc_depthwise_conv2d_desc *d, int64_t OH, int64_t OW) {
    return fc_plane_geom_make(d->H, d->W, d->pad_top, d->pad_left,
                     (OH - 1) * d->stride_h + (d->R - 1) * d->dilation_h + 1,
                     (OW - 1) * d->stride_w + (d->S - 1) * d->dilation_w + 1, 1, 1, d->stride_w);
}

/* ceil(a / b) for a >= 0, b >= 1, without fc_ceil_div's a + b - 1 (which overflows
 * for the hostile strides and pads the descriptor check admits). */
static inline int64_t dw_ceil_div(int64_t a, int64_t b) { return a / b + (a % b != 0); }

/* fc_plane_pack for the forward geometry (no source sampling), cheaper on the small
 * and strided planes of depthwise layers, where packing cost as much as the
 * arithmetic: a thread's buffer keeps its padding between tasks (every task writes
 * the same interior slots), so only the first task (`borders`) writes the zeros; the
 * interior is a plain copy per phase, stride 2 with a constant step the compiler
 * vectorizes. */
static void dw_pack(const fc_plane_geom *g, const float *restrict src, float *restrict dst,
                    int borders) {
    const int64_t nph = g->nph, j0 = fc_max64(0, -g->left), j1 = fc_min64(g->W, g->Wp - g->left);
    if (borders) memset(dst, 0, (size_t)g->plane * sizeof(float));
    if (j0 >= j1) return;
    /* Phase p slot q holds source column q*nph + p - left, for q in [lo[p], hi[p])
     * (the same for every row). */
    int64_t lo[2] = {0, 0}, hi[2] = {0, 0};
    for (int64_t p = 0; p < fc_min64(nph, 2); p++) {
        lo[p] = dw_ceil_div(fc_max64(0, j0 + g->left - p), nph);
        hi[p] = fc_min64(g->phase, dw_ceil_div(fc_max64(0, j1 + g->left - p), nph));
    }
    const int64_t both_lo = fc_max64(lo[0], lo[1]), both_hi = fc_min64(hi[0], hi[1]);
    for (int64_t pr = fc_max64(0, g->top); pr < fc_min64(g->Hp, g->top + g->H); pr++) {
        float *drow = dst + pr * g->row;
        const float *srow = src + (pr - g->top) * g->W - g->left;
        if (nph == 1) {
            memcpy(drow + lo[0], srow + lo[0], (size_t)(hi[0] - lo[0]) * sizeof(float));
        } else if (nph == 2) {
            /* both phases in one pass (an even/odd split of the row); the slots either
             * side of the shared range are the phases' single-slot edges */
            float *d0 = drow, *d1 = drow + g->phase;
            for (int64_t q = lo[0]; q < fc_min64(both_lo, hi[0]); q++) d0[q] = srow[2 * q];
            for (int64_t q = lo[1]; q < fc_min64(both_lo, hi[1]); q++) d1[q] = srow[2 * q + 1];
            for (int64_t q = both_lo; q < both_hi; q++) {
                d0[q] = srow[2 * q];
                d1[q] = srow[2 * q + 1];
            }
            for (int64_t q = fc_max64(both_hi, lo[0]); q < hi[0]; q++) d0[q] = srow[2 * q];
            for (int64_t q = fc_max64(both_hi, lo[1]); q < hi[1]; q++) d1[q] = srow[2 * q + 1];
        } else {
            for (int64_t p = 0; p < nph; p++) {
                int64_t qlo = dw_ceil_div(fc_max64(0, j0 + g->left - p), nph);
                int64_t qhi = fc_min64(g->phase, dw_ceil_div(fc_max64(0, j1 + g->left - p), nph));
                float *dp = drow + p * g->phase;
                for (int64_t q = qlo; q < qhi; q++) dp[q] = srow[q * nph + p];
            }
        }
    }
}

/* fc_plane_pack for backward-data's zero-upsampled grad_y plane (one phase), with the
 * forward packer's rule: the zeros (padding and the stride's holes) stay in the
 * thread's buffer between tasks, so after the first task only the source values are
 * scattered (the general packer clears the plane and divides per element). */
static void dw_pack_sampled(const fc_plane_geom *g, const float *restrict src,
                            float *restrict dst, int borders) {
    if (borders) memset(dst, 0, (size_t)g->plane * sizeof(float));
    const int64_t sh = g->sh, sw = g->sw;
    /* source (i, j) lands at (top + i*sh, left + j*sw) when inside [0, Hp) x [0, Wp) */
    int64_t i0 = dw_ceil_div(fc_max64(0, -g->top), sh);
    int64_t i1 = fc_min64(g->H, dw_ceil_div(fc_max64(0, g->Hp - g->top), sh));
    int64_t j0 = dw_ceil_div(fc_max64(0, -g->left), sw);
    int64_t j1 = fc_min64(g->W, dw_ceil_div(fc_max64(0, g->Wp - g->left), sw));
    for (int64_t i = i0; i < i1; i++) {
        /* the row's first written slot, then every sw-th */
        float *drow = dst + (g->top + i * sh) * g->row + g->left + j0 * sw;
        const float *srow = src + i * g->W + j0;
        int64_t n = j1 - j0;
        if (sw == 1)
            memcpy(drow, srow, (size_t)fc_max64(0, n) * sizeof(float));
        else if (sw == 2)
            for (int64_t j = 0; j < n; j++) drow[2 * j] = srow[j];
        else
            for (int64_t j = 0; j < n; j++) drow[j * sw] = srow[j];
    }
}

/* Per-thread packed buffers of `floats` each plus shared pieces; opens the arena. */
typedef struct dw_ws {
    fc_arena arena;
    float *bufs;
    int64_t buf_stride;
    int64_t *soff;
} dw_ws;

static void dw_ws_close(dw_ws *w) { fc_workspace_close(&w->arena); }
#define DW_WS(name) dw_ws name __attribute__((cleanup(dw_ws_close))) = {0}

/* Bytes of the arena open_ws opens (SIZE_MAX on overflow). */
static size_t ws_bytes(int nt, int64_t floats, int64_t S, int64_t extra_floats, int64_t *stride,
                       int64_t *total_f) {
    size_t need = 0;
    if (floats > INT64_MAX - FC_DEPTHWISE_SLACK - 15) return SIZE_MAX;
    *stride = ((floats + FC_DEPTHWISE_SLACK + 15) / 16) * 16; /* keep every buffer 64-byte aligned */
    if (!fc_mul_ok(*stride, nt, total_f)) return SIZE_MAX;
    if (!fc_ws_add(&need, *total_f, sizeof(float)) || !fc_ws_add(&need, S, sizeof(int64_t)) ||
        !fc_ws_add(&need, extra_floats, sizeof(float)))
        return SIZE_MAX;
    return need;
}

static fc_status open_ws(int nt, int64_t floats, int64_t S, int64_t extra_floats,
                         void *workspace, size_t workspace_size, dw_ws *w, float **extra) {
    int64_t stride, total_f;
    size_t need = ws_bytes(nt, floats, S, extra_floats, &stride, &total_f);
    if (need == SIZE_MAX) return FC_SIZE_OVERFLOW;
    fc_status st = fc_workspace_open(workspace, workspace_size, need, &w->arena);
    if (st != FC_SUCCESS) return st;
    w->bufs = fc_arena_alloc(&w->arena, (size_t)total_f * sizeof(float));
    w->soff = fc_arena_alloc(&w->arena, (size_t)S * sizeof(int64_t));
    *extra = extra_floats ? fc_arena_alloc(&w->arena, (size_t)extra_floats * sizeof(float)) : NULL;
    if (!w->bufs || !w->soff || (extra_floats && !*extra)) return FC_INVALID_WORKSPACE;
    w->buf_stride = stride;
    return FC_SUCCESS;
}

static fc_plane_geom backward_data_geom(const fc_depthwise_conv2d_desc *d, int64_t OH, int64_t OW) {
    int64_t Rd = (d->R - 1) * d->dilation_h, Sd = (d->S - 1) * d->dilation_w;
    /* grad_x = stride-1 correlation of the zero-upsampled, padded grad_y with the
     * flipped kernel. */
    return fc_plane_geom_make(OH, OW, Rd - d->pad_top, Sd - d->pad_left, d->H + Rd, d->W + Sd,
                     d->stride_h, d->stride_w, 1);
}

/* ------------------------------------------------ forward, channels in the lanes */

/* Where the forward puts channels in the vector lanes (fc_depthwise_lanes) instead of
 * running vectors along the width: one output channel per input channel, output rows
 * of at most DW_LANES_MAX_OW (a vector along them would leave most of its lanes idle,
 * and each (image, channel) task is a few dozen multiply-adds) and windows of input
 * rows x columns the outputs read of at most DW_LANES_MAX_PX pixels (a thread's
 * transposed copy stays in L1/L2). 2 threads, AVX-512, fastest of 21 alternating
 * calls, vectors along the width -> lanes (torch), ms: 1024 channels at 7x7 3x3 batch
 * 1 0.228 -> 0.079 (0.156), batch 16 1.65 -> 1.18; 960 at 7x7 5x5 batch 16 2.14 ->
 * 1.37 (2.07); 512 at 14x14 3x3 stride 2 batch 1 0.066 (torch 0.127), batch 16 1.25 ->
 * 0.93 (1.27). Not at 14 columns (672 at 14x14 5x5 batch 1 0.108 -> 0.130, 240 batch
 * 16 0.71 -> 0.75). */
#define DW_LANES_MAX_OW 8
#define DW_LANES_MAX_PX 4096
#define DW_LANES_VL_MAX 16 /* the widest table's lanes: the workspace is sized for it */

/* The rows and columns of input the outputs read (*Hp, *Wp), where the lanes route
 * serves d; 0 where it does not. */
static int lanes_route(const fc_depthwise_conv2d_desc *d, int64_t OH, int64_t OW, int64_t *Hp,
                       int64_t *Wp) {
    if (d->multiplier != 1 || OW > DW_LANES_MAX_OW || OH > DW_LANES_MAX_PX) return 0;
    int64_t rh, rw; /* (OH - 1) * sh + (R - 1) * dil_h + 1, overflow-checked */
    if (__builtin_mul_overflow(OH - 1, d->stride_h, Hp) ||
        __builtin_mul_overflow(d->R - 1, d->dilation_h, &rh) ||
        __builtin_add_overflow(*Hp, rh + 1, Hp) ||
        __builtin_mul_overflow(OW - 1, d->stride_w, Wp) ||
        __builtin_mul_overflow(d->S - 1, d->dilation_w, &rw) ||
        __builtin_add_overflow(*Wp, rw + 1, Wp))
        return 0;
    return *Hp <= DW_LANES_MAX_PX && *Wp <= DW_LANES_MAX_PX && *Hp * *Wp <= DW_LANES_MAX_PX;
}

/* Bytes of the lanes route's workspace: a thread's transposed input, sums and output
 * planes; the transposed weights. */
static size_t lanes_ws_bytes(const fc_depthwise_conv2d_desc *d, int64_t OH, int64_t OW,
                             int64_t Hp, int64_t Wp, int nt, int64_t *per) {
    int64_t groups = d->C / DW_LANES_VL_MAX + 1, wt;
    *per = (Hp * Wp + 2 * OH * OW) * DW_LANES_VL_MAX; /* bounded by lanes_route */
    size_t need = 0;
    if (!fc_prod4(groups, DW_LANES_VL_MAX, d->R, d->S, &wt) ||
        !fc_ws_add(&need, wt, sizeof(float)) || !fc_ws_add(&need, *per * nt, sizeof(float)))
        return SIZE_MAX;
    return need;
}

/* Bytes of the lanes backward-weights' workspace: a thread's transposed input and
 * grad_y, and its partial sums of every channel's R*S + 1 gradients. */
static size_t lanes_bww_ws_bytes(const fc_depthwise_conv2d_desc *d, int64_t OH, int64_t OW,
                                 int64_t Hp, int64_t Wp, int nt, int64_t *per) {
    int64_t part;
    if (!fc_prod4(d->C / DW_LANES_VL_MAX + 1, DW_LANES_VL_MAX, d->R * d->S + 1, 1, &part) ||
        __builtin_add_overflow((Hp * Wp + OH * OW) * DW_LANES_VL_MAX, part, per))
        return SIZE_MAX;
    size_t need = 0;
    int64_t all;
    if (!fc_mul_ok(*per, nt, &all) || !fc_ws_add(&need, all, sizeof(float))) return SIZE_MAX;
    return need;
}

/* A stride-1 backward-data as the forward of grad_y (OH x OW maps) with the taps
 * turned around and the padding (R-1)*dil - pad (*f), where that padding is not
 * negative and the lanes route serves that forward (whose output is H x W). 2 threads,
 * AVX-512, fastest of 21 alternating calls, planes -> lanes (torch), ms: 1024 channels
 * at 7x7 3x3 batch 16 1.46 -> 0.68 (3.97), batch 1 0.096 -> 0.037 (0.090); 960 at 7x7
 * 5x5 batch 16 1.69 -> 0.88 (0.83-0.94). */
static int lanes_flipped(const fc_depthwise_conv2d_desc *d, int64_t OH, int64_t OW,
                         fc_depthwise_conv2d_desc *f, int64_t *Hp, int64_t *Wp) {
    int64_t eh = (d->R - 1) * d->dilation_h, ew = (d->S - 1) * d->dilation_w; /* dw_check */
    if (d->stride_h != 1 || d->stride_w != 1 || d->multiplier != 1 || d->pad_top > eh ||
        d->pad_bottom > eh || d->pad_left > ew || d->pad_right > ew)
        return 0;
    *f = *d;
    f->H = OH;
    f->W = OW;
    f->pad_top = eh - d->pad_top;
    f->pad_bottom = eh - d->pad_bottom;
    f->pad_left = ew - d->pad_left;
    f->pad_right = ew - d->pad_right;
    return lanes_route(f, d->H, d->W, Hp, Wp);
}

size_t fc_depthwise_workspace(const fc_depthwise_conv2d_desc *d, fc_conv_pass pass) {
    int64_t OH, OW, stride, total_f, floats, extra, K = d->C * d->multiplier, RS = d->R * d->S;
    if (dw_check(d, &OH, &OW) != FC_SUCCESS) return SIZE_MAX;
    int nt = fc_threads();
    if (pass == FC_PASS_BACKWARD_DATA) {
        fc_depthwise_conv2d_desc f;
        int64_t Hp, Wp, per;
        if (lanes_flipped(d, OH, OW, &f, &Hp, &Wp))
            return lanes_ws_bytes(&f, d->H, d->W, Hp, Wp, nt, &per);
        if (!fc_mul_ok(backward_data_geom(d, OH, OW).plane, d->multiplier, &floats)) return SIZE_MAX;
        extra = K * RS;
    } else {
        int64_t Hp, Wp, per;
        if (pass == FC_PASS_FORWARD && lanes_route(d, OH, OW, &Hp, &Wp))
            return lanes_ws_bytes(d, OH, OW, Hp, Wp, nt, &per);
        if (pass == FC_PASS_BACKWARD_WEIGHTS && lanes_route(d, OH, OW, &Hp, &Wp))
            return lanes_bww_ws_bytes(d, OH, OW, Hp, Wp, nt, &per);
        floats = forward_geom(d, OH, OW).plane;
        extra = 0;
        /* forward: a plane of output per thread for an epilogue (see run_forward) */
        if (pass == FC_PASS_FORWARD && !fc_prod4(OH, OW, nt, 1, &extra)) return SIZE_MAX;
        if (pass == FC_PASS_BACKWARD_WEIGHTS &&
            (!fc_mul_ok(K, RS + 1, &extra) || !fc_mul_ok(extra, nt, &extra)))
            return SIZE_MAX;
    }
    return ws_bytes(nt, floats, d->S, extra, &stride, &total_f);
}

static void fill_soff(int64_t *soff, int64_t S, int64_t dil_w, int64_t nph, int64_t phase) {
    for (int64_t s = 0; s < S; s++) soff[s] = ((s * dil_w) % nph) * phase + (s * dil_w) / nph;
}

/* xt[hp][wp][l] = x[c0 + l][hp - pad_top][wp - pad_left] for the nl channels of x
 * (their first plane at x), zeros outside the map and in lanes past nl. */
static void lanes_fill(const fc_depthwise_conv2d_desc *d, const float *x, int64_t nl,
                       int64_t VL, int64_t Hp, int64_t Wp, float *xt) {
    const int64_t h1 = fc_min64(d->H, Hp - d->pad_top), w1 = fc_min64(d->W, Wp - d->pad_left);
    memset(xt, 0, (size_t)(Hp * Wp * VL) * sizeof(float));
    for (int64_t l = 0; l < nl; l++) {
        const float *plane = x + l * d->H * d->W;
        for (int64_t h = 0; h < h1; h++) {
            float *dst = xt + ((h + d->pad_top) * Wp + d->pad_left) * VL + l;
            for (int64_t j = 0; j < w1; j++) dst[j * VL] = plane[h * d->W + j];
        }
    }
}

/* Test hook (not in fastconv.h): how many forwards ran channels in the lanes. */
FC_TEST_COUNTER(fc_depthwise_lanes_runs)

/* flipped: w's taps turned around (backward-data, lanes_flipped). */
static fc_status run_forward_lanes(const fc_depthwise_conv2d_desc *d, int64_t OH, int64_t OW,
                                   int64_t Hp, int64_t Wp, const float *x, const float *w,
                                   int flipped, const fc_epilogue *ep, float *y, void *workspace,
                                   size_t workspace_size) {
    const fc_kernels *kt = fc_kernels_active();
    const int64_t VL = kt->depthwise.lanes_vl, C = d->C, RS = d->R * d->S, P = OH * OW;
    const int64_t groups = fc_ceil_div(C, VL);
    int nt = fc_threads();
    int64_t per;
    size_t need = lanes_ws_bytes(d, OH, OW, Hp, Wp, nt, &per);
    if (need == SIZE_MAX) return FC_SIZE_OVERFLOW;
    FC_ARENA(ws);
    fc_status st = fc_workspace_open(workspace, workspace_size, need, &ws);
    if (st != FC_SUCCESS) return st;
    float *wt = fc_arena_alloc(&ws, (size_t)(groups * VL * RS) * sizeof(float));
    float *bufs = fc_arena_alloc(&ws, (size_t)(per * nt) * sizeof(float));
    if (!wt || !bufs) return FC_INVALID_WORKSPACE;
    FC_TEST_COUNT(fc_depthwise_lanes_runs);
    for (int64_t g = 0; g < groups; g++) /* wt[g][tap][lane], zeros past C */
        for (int64_t t = 0; t < RS; t++)
            for (int64_t l = 0; l < VL; l++)
                wt[(g * RS + t) * VL + l] =
                    g * VL + l < C ? w[(g * VL + l) * RS + (flipped ? RS - 1 - t : t)] : 0.0f;
    const int fused = !fc_epilogue_bias_only(ep);
    fc_depthwise_lanes_fn kern = kt->depthwise.lanes;
    #pragma omp parallel num_threads(nt)
    {
        float *xt = bufs + thread_id() * per, *ot = xt + Hp * Wp * VL, *out = ot + P * VL;
        #pragma omp for schedule(dynamic, 1)
        for (int64_t task = 0; task < d->N * groups; task++) {
            int64_t n = task / groups, c0 = task % groups * VL, nl = fc_min64(VL, C - c0);
            lanes_fill(d, x + (n * C + c0) * d->H * d->W, nl, VL, Hp, Wp, xt);
            fc_depthwise_lanes a = {xt, Wp, wt + c0 * RS, d->R, d->S, d->stride_h,
                                    d->stride_w, d->dilation_h, d->dilation_w, OH, OW, ot};
            kern(&a);
            for (int64_t l = 0; l < nl; l++) {
                int64_t k = c0 + l, at = (n * C + k) * P;
                if (fused) {
                    for (int64_t p = 0; p < P; p++) out[p] = ot[p * VL + l];
                    fc_epilogue_row(ep, k, out, y, at, P);
                } else {
                    float b = ep->bias ? ep->bias[k] : 0.0f;
                    for (int64_t p = 0; p < P; p++) y[at + p] = ot[p * VL + l] + b;
                }
            }
        }
    }
    return FC_SUCCESS;
}

/* An epilogue beyond a bias: the kernel writes each output plane to the thread's plane
 * buffer (still in cache), the epilogue writes it to y (so the residual may be y). */
fc_status fc_depthwise_run_forward(const fc_depthwise_conv2d_desc *d, int64_t OH, int64_t OW,
                                   const float *x, const float *w, const fc_epilogue *ep, float *y,
                                   void *workspace, size_t workspace_size) {
    fc_status st;
    int64_t Hp, Wp;
    if (lanes_route(d, OH, OW, &Hp, &Wp))
        return run_forward_lanes(d, OH, OW, Hp, Wp, x, w, 0, ep, y, workspace, workspace_size);
    const int64_t N = d->N, C = d->C, m = d->multiplier, RS = d->R * d->S;
    fc_plane_geom g = forward_geom(d, OH, OW);
    int nt = fc_threads();
    DW_WS(ws);
    float *planes;
    int64_t pfl;
    if (!fc_prod4(OH, OW, nt, 1, &pfl)) return FC_SIZE_OVERFLOW;
    st = open_ws(nt, g.plane, d->S, pfl, workspace, workspace_size, &ws, &planes);
    if (st != FC_SUCCESS) return st;
    const float *bias = ep->bias;
    int fused = !fc_epilogue_bias_only(ep);
    fill_soff(ws.soff, d->S, d->dilation_w, g.nph, g.phase);
    fc_depthwise_rows_fn kern = fc_kernels_active()->depthwise.forward;
    #pragma omp parallel num_threads(nt)
    {
        float *buf = ws.bufs + thread_id() * ws.buf_stride;
        float *out = planes + thread_id() * OH * OW;
        int fresh = 1;
        #pragma omp for schedule(dynamic, 1)
        for (int64_t t = 0; t < N * C; t++) {
            int64_t n = t / C, c = t % C;
            dw_pack(&g, x + t * d->H * d->W, buf, fresh);
            fresh = 0;
            for (int64_t j = 0; j < m; j++) {
                int64_t k = c * m + j, at = (n * C * m + k) * OH * OW;
                fc_depthwise_rows a = {buf, 1, g.plane, g.row, g.phase, w + k * RS, d->R, d->S,
                                d->stride_h, d->stride_w, d->dilation_h, d->dilation_w,
                                ws.soff, OH, OW, bias && !fused ? bias[k] : 0.0f,
                                fused ? out : y + at};
                kern(&a);
                if (fused) fc_epilogue_row(ep, k, out, y, at, OH * OW);
            }
        }
    }
    return FC_SUCCESS;
}

fc_status fc_depthwise_run_backward_data(const fc_depthwise_conv2d_desc *d, int64_t OH,
                                         int64_t OW, const float *gy, const float *w, float *gx,
                                         void *workspace, size_t workspace_size) {
    fc_status st;
    fc_depthwise_conv2d_desc f;
    int64_t Hp, Wp;
    if (lanes_flipped(d, OH, OW, &f, &Hp, &Wp)) {
        const fc_epilogue none = {NULL, NULL, NULL, 0};
        return run_forward_lanes(&f, d->H, d->W, Hp, Wp, gy, w, 1, &none, gx, workspace,
                                 workspace_size);
    }
    const int64_t N = d->N, C = d->C, m = d->multiplier, K = C * m, R = d->R, S = d->S, RS = R * S;
    fc_plane_geom g = backward_data_geom(d, OH, OW);
    int nt = fc_threads();
    DW_WS(ws);
    float *wf;
    int64_t floats;
    if (!fc_mul_ok(g.plane, m, &floats)) return FC_SIZE_OVERFLOW;
    st = open_ws(nt, floats, S, K * RS, workspace, workspace_size, &ws, &wf);
    if (st != FC_SUCCESS) return st;
    fill_soff(ws.soff, S, d->dilation_w, 1, g.phase);
    for (int64_t k = 0; k < K; k++)
        for (int64_t i = 0; i < RS; i++) wf[k * RS + i] = w[k * RS + RS - 1 - i];
    fc_depthwise_rows_fn kern = fc_kernels_active()->depthwise.forward;
    #pragma omp parallel num_threads(nt)
    {
        float *buf = ws.bufs + thread_id() * ws.buf_stride;
        int fresh = 1;
        #pragma omp for schedule(dynamic, 1)
        for (int64_t t = 0; t < N * C; t++) {
            int64_t n = t / C, c = t % C;
            for (int64_t j = 0; j < m; j++)
                dw_pack_sampled(&g, gy + (n * K + c * m + j) * OH * OW, buf + j * g.plane, fresh);
            fresh = 0;
            fc_depthwise_rows a = {buf, m, g.plane, g.row, g.phase, wf + c * m * RS, R, S, 1, 1,
                            d->dilation_h, d->dilation_w, ws.soff, d->H, d->W, 0.0f,
                            gx + t * d->H * d->W};
            kern(&a);
        }
    }
    return FC_SUCCESS;
}

/* Backward-weights with channels in the lanes, where the forward's route serves d:
 * each thread sums its (image, channel group) tasks into its own partials, [group][R*S
 * + 1][lanes] (the +1 the bias), added in thread order after a barrier. 2 threads,
 * AVX-512, fastest of 21 alternating calls, planes -> lanes (torch), ms: 1024 channels
 * at 7x7 3x3 batch 16 1.08 -> 0.50 (0.52-0.58), batch 1 0.105 -> 0.042 (0.096-0.103);
 * 960 at 7x7 5x5 batch 16 2.88 -> 0.95 (10.0-16.6); 512 at 14x14 stride 2 batch 16
 * 1.23 -> 0.85 (0.71-1.10), batch 1 0.085 -> 0.060 (0.130-0.146). */
static fc_status run_backward_weights_lanes(const fc_depthwise_conv2d_desc *d, int64_t OH,
                                            int64_t OW, int64_t Hp, int64_t Wp,
                                            const float *gy, const float *x, float *gw,
                                            float *gb, void *workspace, size_t workspace_size) {
    const fc_kernels *kt = fc_kernels_active();
    const int64_t VL = kt->depthwise.lanes_vl, C = d->C, RS = d->R * d->S, P = OH * OW;
    const int64_t groups = fc_ceil_div(C, VL), part = groups * (RS + 1) * VL;
    int nt = fc_threads();
    int64_t per;
    size_t need = lanes_bww_ws_bytes(d, OH, OW, Hp, Wp, nt, &per);
    if (need == SIZE_MAX) return FC_SIZE_OVERFLOW;
    FC_ARENA(ws);
    fc_status st = fc_workspace_open(workspace, workspace_size, need, &ws);
    if (st != FC_SUCCESS) return st;
    float *bufs = fc_arena_alloc(&ws, (size_t)(per * nt) * sizeof(float));
    if (!bufs) return FC_INVALID_WORKSPACE;
    FC_TEST_COUNT(fc_depthwise_lanes_runs);
    fc_depthwise_lanes_bww_fn kern = kt->depthwise.lanes_bww;
    #pragma omp parallel num_threads(nt)
    {
        float *xt = bufs + thread_id() * per, *gyt = xt + Hp * Wp * VL, *mine = gyt + P * VL;
        memset(mine, 0, (size_t)part * sizeof(float));
        #pragma omp for schedule(static)
        for (int64_t task = 0; task < d->N * groups; task++) {
            int64_t n = task / groups, g = task % groups, c0 = g * VL, nl = fc_min64(VL, C - c0);
            lanes_fill(d, x + (n * C + c0) * d->H * d->W, nl, VL, Hp, Wp, xt);
            for (int64_t p = 0; p < P; p++) /* gyt[p][l], zeros past nl */
                for (int64_t l = 0; l < VL; l++)
                    gyt[p * VL + l] = l < nl ? gy[(n * C + c0 + l) * P + p] : 0.0f;
            float *pg = mine + g * (RS + 1) * VL;
            fc_depthwise_lanes_bww a = {xt, Wp, gyt, d->R, d->S, d->stride_h, d->stride_w,
                                        d->dilation_h, d->dilation_w, OH, OW, pg,
                                        pg + RS * VL};
            kern(&a);
        }
        /* Threads that ran no task still zeroed their partials before this barrier. */
        #pragma omp barrier
        int nteam = team_size();
        #pragma omp for schedule(static)
        for (int64_t c = 0; c < C; c++)
            sum_partials(bufs + Hp * Wp * VL + P * VL + c / VL * (RS + 1) * VL + c % VL, per,
                         nteam, VL, RS, gw + c * RS, gb ? gb + c : NULL);
    }
    return FC_SUCCESS;
}

fc_status fc_depthwise_run_backward_weights(const fc_depthwise_conv2d_desc *d, int64_t OH,
                                            int64_t OW, const float *gy, const float *x,
                                            float *gw, float *gb, void *workspace,
                                            size_t workspace_size) {
    fc_status st;
    int64_t Hp, Wp;
    if (lanes_route(d, OH, OW, &Hp, &Wp))
        return run_backward_weights_lanes(d, OH, OW, Hp, Wp, gy, x, gw, gb, workspace,
                                          workspace_size);
    const int64_t N = d->N, C = d->C, m = d->multiplier, K = C * m, RS = d->R * d->S;
    fc_plane_geom g = forward_geom(d, OH, OW);
    int nt = fc_threads();
    /* Each thread sums its (image, channel) tasks into its own [K][RS + 1] partials
     * (the +1 is the bias); a parallel reduction over K follows. */
    int64_t part = RS + 1, pfl;
    if (!fc_mul_ok(K, part, &pfl) || !fc_mul_ok(pfl, nt, &pfl)) return FC_SIZE_OVERFLOW;
    DW_WS(ws);
    float *partials;
    st = open_ws(nt, g.plane, d->S, pfl, workspace, workspace_size, &ws, &partials);
    if (st != FC_SUCCESS) return st;
    fc_depthwise_bwd_weights_fn kern = fc_kernels_active()->depthwise.bwd_weights;
    #pragma omp parallel num_threads(nt)
    {
        int tid = thread_id();
        float *buf = ws.bufs + tid * ws.buf_stride;
        float *mine = partials + tid * K * part;
        memset(mine, 0, (size_t)(K * part) * sizeof(float));
        int fresh = 1;
        #pragma omp for schedule(static)
        for (int64_t t = 0; t < N * C; t++) {
            int64_t n = t / C, c = t % C;
            dw_pack(&g, x + t * d->H * d->W, buf, fresh);
            fresh = 0;
            for (int64_t j = 0; j < m; j++) {
                int64_t k = c * m + j;
                float *pk = mine + k * part;
                fc_depthwise_bwd_weights a = {buf, g.row, g.phase, gy + (n * K + k) * OH * OW, d->R, d->S,
                                d->stride_h, d->stride_w, d->dilation_h, d->dilation_w,
                                OH, OW, pk, pk + RS};
                kern(&a);
            }
        }
        /* Threads that ran no task still zeroed their partials before this barrier. */
        #pragma omp barrier
        int nteam = team_size();
        #pragma omp for schedule(static)
        for (int64_t k = 0; k < K; k++)
            sum_partials(partials + k * part, K * part, nteam, 1, RS, gw + k * RS,
                         gb ? gb + k : NULL);
    }
    return FC_SUCCESS;
}

/* ------------------------------------------------------------ public */

fc_status fc_depthwise_conv2d_workspace_size(const fc_depthwise_conv2d_desc *d,
                                             fc_conv_pass pass, size_t *bytes) {
    FC_CALL_SCOPE();
    int64_t OH, OW;
    if (!bytes) return FC_INVALID_ARGUMENT;
    if (pass != FC_PASS_FORWARD && pass != FC_PASS_BACKWARD_DATA && pass != FC_PASS_BACKWARD_WEIGHTS)
        return FC_INVALID_ARGUMENT;
    fc_status st = dw_check(d, &OH, &OW);
    if (st != FC_SUCCESS) return st;
    *bytes = fc_depthwise_workspace(d, pass);
    return *bytes == SIZE_MAX ? FC_SIZE_OVERFLOW : FC_SUCCESS;
}

fc_status fc_depthwise_conv2d_forward_ws(const fc_depthwise_conv2d_desc *d, const float *x,
                                         const float *w, const float *bias, float *y,
                                         void *workspace, size_t workspace_size) {
    FC_CALL_SCOPE();
    int64_t OH, OW;
    if (!x || !w || !y) return FC_INVALID_ARGUMENT;
    fc_status st = dw_check(d, &OH, &OW);
    if (st != FC_SUCCESS) return st;
    const fc_epilogue ep = {NULL, bias, NULL, 0};
    return fc_depthwise_run_forward(d, OH, OW, x, w, &ep, y, workspace, workspace_size);
}

fc_status fc_depthwise_conv2d_backward_data_ws(const fc_depthwise_conv2d_desc *d,
                                               const float *gy, const float *w, float *gx,
                                               void *workspace, size_t workspace_size) {
    FC_CALL_SCOPE();
    int64_t OH, OW;
    if (!gy || !w || !gx) return FC_INVALID_ARGUMENT;
    fc_status st = dw_check(d, &OH, &OW);
    if (st != FC_SUCCESS) return st;
    return fc_depthwise_run_backward_data(d, OH, OW, gy, w, gx, workspace, workspace_size);
}

fc_status fc_depthwise_conv2d_backward_weights_ws(const fc_depthwise_conv2d_desc *d,
                                                  const float *gy, const float *x, float *gw,
                                                  float *gb, void *workspace,
                                                  size_t workspace_size) {
    FC_CALL_SCOPE();
    int64_t OH, OW;
    if (!gy || !x || !gw) return FC_INVALID_ARGUMENT;
    fc_status st = dw_check(d, &OH, &OW);
    if (st != FC_SUCCESS) return st;
    return fc_depthwise_run_backward_weights(d, OH, OW, gy, x, gw, gb, workspace, workspace_size);
}

/* The shorter forms: NULL workspace. */
fc_status fc_depthwise_conv2d_forward(const fc_depthwise_conv2d_desc *d, const float *x,
                                      const float *w, const float *bias, float *y) {
    return fc_depthwise_conv2d_forward_ws(d, x, w, bias, y, NULL, 0);
}

fc_status fc_depthwise_conv2d_backward_data(const fc_depthwise_conv2d_desc *d,
                                            const float *gy, const float *w, float *gx) {
    return fc_depthwise_conv2d_backward_data_ws(d, gy, w, gx, NULL, 0);
}

fc_status fc_depthwise_conv2d_backward_weights(const fc_depthwise_conv2d_desc *d,
                                               const float *gy, const float *x, float *gw,
                                               float *gb) {
    return fc_depthwise_conv2d_backward_weights_ws(d, gy, x, gw, gb, NULL, 0);
}

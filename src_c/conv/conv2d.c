/* Public convolution entry points: check, size the workspace, dispatch. */
#include "blocked.h"
#include "blocked_nchw.h"
#include "bwd_data_flipped.h"
#include "bwd_data_phases.h"
#include "conv_desc.h"
#include "depthwise.h"
#include "direct.h"
#include "epilogue.h"
#include "smallc.h"
#include "im2col.h"
#include "winograd.h"
#include "core/registry.h"

static fc_depthwise_conv2d_desc depthwise_desc(const fc_conv2d_desc *d) {
    fc_depthwise_conv2d_desc dd = {d->N, d->C, d->H, d->W, d->K / d->C, d->R, d->S,
                                   d->stride_h, d->stride_w, d->pad_top, d->pad_bottom,
                                   d->pad_left, d->pad_right, d->dilation_h, d->dilation_w};
    return dd;
}

/* Whether im2col's backward-data runs as the forward convolution of grad_y with the
 * flipped weights (conv/bwd_data_flipped.c) rather than as a GEMM into columns and
 * col2im; it needs the flipped descriptor (stride 1, padding at most
 * dilation*(kernel-1)). Both do the same GEMM work; what differs is the rearranging:
 * col2im adds C/groups*R*S rows of columns per position, the flipped forward writes
 * K/groups*R*S (and arranges the weights once more), and the flipped GEMM's depth is
 * K/groups*R*S instead of K/groups. So it pays with fewer output than input channels
 * per group. Callgrind instructions, AVX2, one thread, flipped against col2im: 3x3
 * 28x28 batch 4, 128 -> 32 channels 0.69, 128 -> 16 0.50; 14x14 batch 2 256 -> 64 0.84;
 * with as many output as input channels 0.95-1.12 (ResNet 56x56 batch 1 0.95, 7x7
 * batch 16 1.05, VGG 14x14 batch 1 1.12, 5x5 28x28 batch 8 1.00, 32 -> 32 1.02), more
 * output channels 1.13 (64 -> 128), 1x1 1.01, LeNet's unpadded 5x5 (1 -> 6, 6 -> 16
 * channels) 5.4 and 3.2. Wall time (2 threads, medians of 11 alternating runs, loaded
 * machine): 128 -> 32 0.60, 128 -> 16 0.53, 256 -> 64 0.64, 28x28 batch 8 96 -> 64 0.83,
 * ResNet 56x56 batch 1 (64 -> 64) 1.01. The forward also computes the H x W positions
 * that an unpadded convolution's output lacks: 128 -> 32 unpadded 3x3 at 28x28 (1.16x
 * the positions) 0.74, at 16x16 (1.31x) 1.80, so at most 1.25x. */
static int im2col_bwd_flipped(const fc_conv2d_desc *d) {
    fc_conv2d_desc fd;
    if (!fc_conv_flipped_desc(d, &fd)) return 0;
    return d->K < d->C && 4 * d->H * d->W <= 5 * fd.H * fd.W; /* fd.H x fd.W = OH x OW */
}

/* Each algorithm's workspace for a pass, or SIZE_MAX when it cannot serve. */
static size_t algo_workspace(const fc_conv2d_desc *d, fc_conv_algorithm algo, fc_conv_pass pass) {
    switch (algo) {
    case FC_CONV_DIRECT: return fc_conv_direct_workspace(d, pass);
    case FC_CONV_DEPTHWISE: {
        fc_depthwise_conv2d_desc dd = depthwise_desc(d);
        return fc_depthwise_workspace(&dd, pass);
    }
    case FC_CONV_IM2COL:
        if (pass == FC_PASS_BACKWARD_DATA && im2col_bwd_flipped(d))
            return fc_conv_bwd_data_flipped_workspace(d);
        return fc_conv_im2col_workspace(d, pass);
    case FC_CONV_WINOGRAD_F23:
    case FC_CONV_WINOGRAD_F43: return fc_winograd_workspace(d, algo, pass);
    default: return SIZE_MAX;
    }
}

static int algo_known(fc_conv_algorithm a) {
    return a == FC_CONV_AUTO || a == FC_CONV_DIRECT || a == FC_CONV_IM2COL ||
           a == FC_CONV_WINOGRAD_F23 || a == FC_CONV_WINOGRAD_F43 || a == FC_CONV_DEPTHWISE;
}

/* One input channel per group, more than one group: the depthwise kernels serve it. */
static int depthwise_shaped(const fc_conv2d_desc *d) {
    return d->groups == d->C && d->C > 1;
}


/* Whether `algo` can run this descriptor (before any sizing). */
static int algo_serves(const fc_conv2d_desc *d, fc_conv_algorithm algo) {
    switch (algo) {
    case FC_CONV_DIRECT: return 1;
    case FC_CONV_IM2COL: return 1;
    case FC_CONV_DEPTHWISE: return depthwise_shaped(d);
    case FC_CONV_WINOGRAD_F23:
    case FC_CONV_WINOGRAD_F43: return fc_winograd_serves(d);
    default: (void)d; return 0;
    }
}

/* The Winograd variant AUTO should run, or FC_CONV_AUTO for none. Winograd's saving
 * is per tile and grows with the channels (its GEMMs shrink, its transforms do not),
 * its overhead (filter transform, a^2 weight matrices through the GEMMs) is per weight,
 * so it pays when tiles are many relative to the channels. Measured on the ResNet and
 * AlexNet 3x3 layers (2 threads, quiet machine, effective GFLOP/s against im2col's):
 * F(4x4) from 4 tiles per channel (ResNet 56x56 and 28x28 at batch 16: 197 vs 178,
 * 250 vs 172); F(2x2) from 2 tiles per channel with 128+ channels (ResNet 14x14 batch
 * 16: 182 vs 163 forward, 231 vs 98 backward-data) but not with 64 (ResNet 56x56 batch
 * 1: 128 vs 143); below that im2col (7x7, AlexNet conv5, batch-1 deep layers: up to 10x).
 * Backward-weights delegates to im2col, so Winograd is never preferred there. */
static fc_conv_algorithm winograd_preferred(const fc_conv2d_desc *d, fc_conv_pass pass) {
    if (pass == FC_PASS_BACKWARD_WEIGHTS || !fc_winograd_serves(d) ||
        fc_precision_active() == FC_PRECISION_HIGHEST)
        return FC_CONV_AUTO;
    int64_t Cg = d->C / d->groups, Kg = d->K / d->groups;
    if (Cg < 16 || Kg < 16) return FC_CONV_AUTO;
    int64_t OH = d->H + d->pad_top + d->pad_bottom - 2, OW = d->W + d->pad_left + d->pad_right - 2;
    int64_t ch = fc_max64(Cg, Kg);
    int64_t t4 = d->N * fc_ceil_div(OH, 4) * fc_ceil_div(OW, 4);
    int64_t t2 = d->N * fc_ceil_div(OH, 2) * fc_ceil_div(OW, 2);
    if (t4 >= 4 * ch) return FC_CONV_WINOGRAD_F43;
    return t2 >= 2 * ch && ch >= 128 ? FC_CONV_WINOGRAD_F23 : FC_CONV_AUTO;
}

/* 3x3 stride-1 layers of 16-32 channels (per group) on 28x28 to 48x48 output maps run
 * direct forward and backward-data: Winograd's transforms and im2col's columns cost
 * more than such short reductions save. 2 threads, fastest of 9 alternating calls,
 * Winograd F(4x4) (AUTO before) / direct / im2col, forward then backward-data (ms):
 * batch 128 32 -> 32 at 32x32 18.7 / 16.1 / 20.8 and 17.6 / 15.5 / 21.9 (torch 25.6
 * and 15.7); batch 16 16 -> 16 at 48x48 2.06 / 1.21 / 1.58 and 2.01 / 1.18 / 1.95;
 * batch 32 16 -> 32 at 32x32 6.58 / 2.57 / 3.20 and 7.44 / 3.10 / 2.99; batch 32 24
 * -> 24 at 28x28 2.44 / 1.92 / 2.25 and 2.84 / 2.12 / 2.11; batch 1 32 -> 32 at 32x32
 * (im2col before) 0.23 / 0.19 / 0.22. Not on 56x56 (batch 8 32 -> 32: Winograd 3.25
 * against direct 3.40) nor on smaller maps, which the blocked kernel takes
 * (blocked_narrow_3x3). */
static int direct_narrow_3x3(const fc_conv2d_desc *d, fc_conv_pass pass) {
    if (pass == FC_PASS_BACKWARD_WEIGHTS || !fc_winograd_serves(d)) return 0;
    int64_t Cg = d->C / d->groups, Kg = d->K / d->groups, OH, OW;
    fc_conv2d_out_shape(d, &OH, &OW);
    return Cg >= 16 && Kg >= 16 && Cg <= 32 && Kg <= 32 && OH * OW >= 28 * 28 &&
           OH * OW <= 48 * 48;
}

/* im2col + GEMM against direct, measured on the bench shapes plus LeNet, CIFAR- and
 * MobileNet-sized layers (2 threads, medians of alternating runs):
 * - forward: im2col except where the per-group GEMM is too small to fill its tiles
 *   (fewer than 8 output channels per group); on small maps with the weights read
 *   in place (im2col_inplace below).
 * - backward-data: im2col everywhere it was measured (LeNet C1 1.7 against 3.9 ms,
 *   strided and 3-channel layers 10-60x), so always.
 * - backward-weights: direct for a narrow weight gradient (at most 32 output channels
 *   per group, K_g*C*R*S up to 4096) of a spatial kernel on a moderate map (up to 2304
 *   output positions); im2col elsewhere, its column panels gathered straight from x.
 *   Fastest of 11 alternating calls, 2 threads, direct against im2col (ms): direct
 *   keeps LeNet C3 (batch 64) 0.47-0.52 / 0.62, 8->16 3x3 @28 (batch 32) 0.55-0.63 /
 *   0.85-1.02, 1->32 3x3 @28 (64) 0.74 / 0.95, 16->16 @48 (16) 1.90 / 2.33, 12->24 @24
 *   (32) 1.36 / 1.63, 6->16 5x5 @40 1.04 / 1.25; im2col takes CIFAR's 32->32 3x3 at
 *   32x32 (batch 128) 23.9 / 17.5 and at 56x56 (16) 10.4-12.9 / 7.8, 16->32 @112 (8)
 *   9.7-11.5 / 8.9-9.1, 3->16 @224 (8) 6.7-8.7 / 5.3-6.6, 32->32 @28/2 (32) 1.68 /
 *   1.12, 8->16 @56 (16) 2.34 / 2.11, where it had been 1.2-5x slower before its fused
 *   panels. Left to direct and even: 3->32 at 32x32 (batch 128) 4.6-5.9 / 4.5-4.7.
 *   1x1 kernels (no column expansion), tiny output maps (LeNet C5's 1x1) and a tiny
 *   weight gradient stay with im2col. */
#define FC_BWD_W_DIRECT_MAX_GRAD 4096
#define FC_BWD_W_DIRECT_MAX_PLANE 2304
static int im2col_preferred(const fc_conv2d_desc *d, fc_conv_pass pass) {
    int64_t Kg = d->K / d->groups, crs = d->C / d->groups * d->R * d->S;
    if (pass == FC_PASS_BACKWARD_DATA) return 1;
    if (pass == FC_PASS_BACKWARD_WEIGHTS) {
        int64_t OH = fc_conv_out_size(d->H, d->pad_top, d->pad_bottom, d->R, d->dilation_h,
                                      d->stride_h),
                OW = fc_conv_out_size(d->W, d->pad_left, d->pad_right, d->S, d->dilation_w,
                                      d->stride_w);
        int spatial = d->R * d->S > 1 && OH * OW >= 16;
        int direct = Kg <= 32 && spatial && Kg * crs <= FC_BWD_W_DIRECT_MAX_GRAD &&
                     OH * OW <= FC_BWD_W_DIRECT_MAX_PLANE;
        return Kg * crs >= 64 && !direct;
    }
    /* Few input channels and a spatial kernel (first layers: 3 channels, 7x7/2,
     * 11x11/4, 3x3): the GEMM's depth C*R*S is short, so building its columns costs
     * as much as it saves; direct's flat-tap kernel (conv/smallc.h) used 11-22% less
     * CPU time than im2col on the ResNet, AlexNet and VGG first layers (grouped
     * convolutions with few channels per group were not measured). */
    if (d->groups == 1 && d->C <= FC_SMALLC_MAX_CIN && d->R * d->S > 1) return 0;
    return Kg >= 8;
}

/* Speed is not worth any memory: direct, depthwise and Winograd copy whole padded
 * planes, which a huge padding or dilation turns into gigabytes (a 1x1 input padded by
 * 5000: 400 MB for a 3x3 output), while im2col builds its columns block by block. The
 * faster choice stands while it needs at most FC_AUTO_WORKSPACE_FREE bytes or 8x
 * what im2col needs. */
#define FC_AUTO_WORKSPACE_FREE ((size_t)64 << 20)

/* AUTO's choice for a checked descriptor, and its workspace (*bytes, SIZE_MAX on
 * overflow), sized once here for the plan. */
static fc_conv_algorithm select_algorithm(const fc_conv2d_desc *d, fc_conv_pass pass,
                                          size_t *bytes) {
    fc_conv_algorithm wg = winograd_preferred(d, pass), algo;
    /* Depthwise: the dedicated kernels beat grouped GEMM 3-100x (measured). */
    if (depthwise_shaped(d)) algo = FC_CONV_DEPTHWISE;
    else if (direct_narrow_3x3(d, pass)) algo = FC_CONV_DIRECT;
    else if (wg != FC_CONV_AUTO) algo = wg;
    else algo = im2col_preferred(d, pass) ? FC_CONV_IM2COL : FC_CONV_DIRECT;
    *bytes = algo_workspace(d, algo, pass);
    if (algo == FC_CONV_IM2COL || (*bytes != SIZE_MAX && *bytes <= FC_AUTO_WORKSPACE_FREE))
        return algo;
    size_t im2col = algo_workspace(d, FC_CONV_IM2COL, pass);
    if (im2col != SIZE_MAX && (*bytes == SIZE_MAX || *bytes / 8 > im2col)) {
        *bytes = im2col;
        return FC_CONV_IM2COL;
    }
    return algo;
}

/* Whether an im2col forward reads the weights in place (im2col.c, forward_inplace)
 * instead of packing them: AUTO's choice when the whole batch's output positions fit
 * one block of FC_IM2COL_INPLACE_MAX_COLS (7x7 up to batch 5, 14x14 at batch 1). There
 * each weight serves so few columns that packing it costs about what the packed GEMM
 * saves. Measured (AVX2; callgrind instructions, and medians of 1-thread CPU time over
 * alternating runs on a loaded machine, packed against in place): ResNet 512 -> 512
 * 3x3 at 7x7 batch 1: 55.7M -> 38.1M, 6.1 -> 3.7 ms (2 threads, the bench: 9.5-13.9
 * -> 5.2-6.8 ms); VGG 512 -> 512 at 14x14 batch 1: 143M -> 127M, 14.3-15.6 -> 12.0-13.6
 * ms; ResNet 256 -> 256 at 14x14 batch 1: 37.3M -> 33.2M. At 784 positions the packed
 * GEMM keeps up or wins (ResNet 128 -> 128 at 28x28 batch 1: 3.4 against 3.5 ms;
 * 512 -> 512 at 7x7 batch 16: 58 against 67 ms). An explicit FC_CONV_IM2COL always
 * packs, so that fc_conv2d_forward_prepacked_ex keeps its results bit for bit. */
static int im2col_inplace(const fc_conv2d_desc *d, fc_conv_algorithm asked,
                          fc_conv_algorithm algo, fc_conv_pass pass) {
    if (algo != FC_CONV_IM2COL || pass != FC_PASS_FORWARD) return 0;
    int forced = fc_conv_im2col_inplace_override();
    if (forced >= 0) return forced;
    if (asked != FC_CONV_AUTO) return 0;
    int64_t OH, OW, cols;
    fc_conv2d_out_shape(d, &OH, &OW);
    return fc_mul_ok(OH * OW, d->N, &cols) && cols <= FC_IM2COL_INPLACE_MAX_COLS;
}

/* Whether the active ISA's blocked kernel takes every 3x3 layer blocked_3x3_pays
 * shapes (the kernel table's all_3x3: AVX-512, its quad tiles in assembly), not only
 * the small maps and batches below, and instead of Winograd and the in-place im2col
 * too (that one on outputs of more than 64 positions), at any input size. Measured (2
 * threads, AVX-512, the weights arranged and both reorders on every call, fastest of 7
 * alternating calls, AUTO's choice -> blocked, forward then backward-data): batch 16
 * 14x14 256 -> 256 13.95 -> 11.68 and 14.90 -> 11.66 ms; 56x56 64 -> 64 15.24 -> 13.97 and
 * 15.21 -> 13.83; 13x13 256 -> 384 18.55 -> 14.87 and 20.17 -> 14.76, 384 -> 384 26.0 ->
 * 21.3 and 29.0 -> 21.3; batch 8 35x35 64 -> 96 4.84 -> 3.62 and 5.20 -> 3.52; batch 2
 * 28x28 128 -> 128 2.31 -> 1.50 (both); batch 32 7x7 512 2.86 -> 2.31 and 29.6 -> 22.0;
 * batch 1 14x14 256 1.08 -> 0.91 and even, 56x56 256 13.0 -> 12.1 and 13.8 -> 12.0,
 * 112x112 64 4.13 -> 3.35 and 3.90 -> 3.27; even (0.97-1.02) on 28x28 batch 16 and 7x7
 * batch 8 and 16. Lost at 7x7 batch 1 (512: 1.23 -> 1.30, the in-place im2col). */
static int blocked_all_3x3(void) { return fc_kernels_active()->conv_blocked.all_3x3; }

/* 3x3 stride-1 layers of 16+ channels, fewer than 64 on one side (neither more than
 * twice the other: blocked_3x3_pays), on maps below 28x28 (CIFAR's 16x16 and 8x8
 * stages, small-map layers of narrow networks), where the kernel table takes all 3x3
 * layers: the blocked kernel, forward and (flipped) backward-data, against AUTO's
 * Winograd F(4x4) whose transforms cost more than these short reductions save, and
 * im2col's columns. 2 threads, AVX-512, Zen 4, fastest of 9 alternating calls,
 * Winograd / direct / im2col / blocked (torch), ms, forward then backward-data: batch
 * 64 32 -> 32 at 16x16 3.20 / 2.51 / 2.73 / 1.95 (2.01) and 3.44 / 2.71 / 2.94 / 2.02
 * (2.98); batch 128 at 8x8 2.41 / 2.47 / 1.50 / 0.87 (1.12) and 2.55 / 2.59 / 1.82 /
 * 1.01 (1.35); batch 64 16 -> 16 at 16x16 1.52 / 0.75 / 1.19 / 0.62 (0.89) and 1.37 /
 * 0.71 / 1.19 / 0.61 (0.94); 32 -> 64 at 8x8 2.22 / 3.98 / 2.02 / 1.37 (1.66) and 2.77
 * / 3.05 / 1.55 / 1.20 (1.34); batch 16 32 -> 32 at 14x14 0.66 / 0.49 / 0.47 / 0.31
 * (0.42); at 27x27 2.02 / 1.50 / 1.74 / 1.41 (1.62); batch 24 24 -> 24 at 14x14 0.71 /
 * 0.44 / 0.41 / 0.30 (0.57); batch 32 20 -> 40 at 12x12 0.59 / 0.72 / 0.49 / 0.44
 * (0.71); 48 -> 96 at 8x8 (im2col before) 1.17 / 0.83 (1.07); batch 256 16 -> 16 at
 * 16x16 4.70 / 2.79 / 3.14 / 2.18 (2.16). From 28x28 up direct_narrow_3x3 and
 * Winograd keep them (batch 32 16 -> 32 at 32x32: direct 1.81, blocked 1.85). */
static int blocked_narrow_3x3(const fc_conv2d_desc *d, int64_t OH, int64_t OW) {
    return blocked_all_3x3() && d->stride_h == 1 && d->stride_w == 1 &&
           fc_min64(d->C, d->K) >= 16 && fc_min64(d->C, d->K) < 64 && OH * OW < 28 * 28;
}

/* 3x3 layers (stride 1, no dilation: blocked_nchw_pays checks those) where the blocked
 * kernel beats im2col + packed GEMM, reorders and weight arrangement on every call
 * included: 64 or more input and output channels, neither more than twice the other;
 * maps up to 14x14, or larger ones at batch 1; an input of at most 2^19 floats (2 MiB,
 * twice the L2: the kernel streams the batch's input once per group of output blocks).
 * Measured on the ResNet layers (AVX-512, CPU time of 1 thread, medians of 9-15
 * alternating runs on a shared machine, load 3-6; im2col against blocked; and callgrind
 * instructions, AVX2, 1 thread): forward 64 @ 56x56 batch 1 2.70 -> 2.35 ms (34.8M ->
 * 30.0M), 128 @ 28x28 batch 1 2.50 -> 2.31 (34.9M -> 29.5M), 256 @ 14x14 batch 2 5.14
 * -> 4.87, batch 4 10.2 -> 9.6, batch 8 20.1 -> 18.8, 512 @ 7x7 batch 16 40.7 -> 36.9
 * (2 threads: 40.5 -> 36.6). Lost: 7x7 batch 32 (80.5 -> 86.8: the input past the
 * bound), and against AUTO's Winograd at batch 2 on 28x28 (4.04 -> 4.83) and 56x56
 * (4.13 -> 4.93), so larger maps only at batch 1 (only where AUTO chose im2col, so never
 * instead of Winograd). Where im2col reads the weights in place (up to 256 positions:
 * 7x7 batch 1 3.1 -> 3.6, 14x14 batch 1 even) the forward stays with it
 * (blocked_nchw_pays' inplace). Channels in and out differing (AlexNet's and VGG's
 * widening layers; 1 thread, CPU time, medians of 5 alternating runs, im2col ->
 * blocked, forward then backward-data): batch 8 13x13 256 -> 384 24.4 -> 22.9 and
 * 27.3 -> 24.9 ms, 384 -> 256 27.0 -> 24.9 and 26.7 -> 23.6, 384 -> 384 38.8 either
 * way and 43.8 -> 36.3; 14x14 128 -> 256 9.9 -> 8.9 and 10.0 -> 9.0, 256 -> 512 37.8
 * -> 35.7 and 41.9 -> 38.7; 7x7 512 -> 256 11.6 -> 10.0 and 12.0 -> 9.6, 256 -> 512
 * 10.6 -> 10.0 and 10.7 -> 9.6. Past the input bound, batch 16 13x13: 256 -> 384
 * 49.5 -> 51.0 (lost), 384 -> 256 46.5 -> 49.3 (lost). */
static int blocked_3x3_pays(const fc_conv2d_desc *d) {
    if (d->R != 3 || d->S != 3 || d->K > 2 * d->C || d->C > 2 * d->K) return 0;
    int64_t OH, OW, in;
    fc_conv2d_out_shape(d, &OH, &OW);
    if (blocked_narrow_3x3(d, OH, OW)) return 1;
    if (d->C < 64 || d->K < 64) return 0;
    if (blocked_all_3x3()) return 1;
    if (!fc_prod4(d->N, d->C, d->H, d->W, &in) || in > (1 << 19)) return 0;
    return OH * OW <= 14 * 14 || d->N == 1;
}

/* blocked_3x3_pays where the kernel takes all 3x3 layers (above), and AUTO chose
 * anything: the forward's in-place im2col only on outputs of more than 64 positions. */
static int blocked_takes_3x3(const fc_conv2d_desc *d, int inplace) {
    if (!blocked_all_3x3() || !blocked_3x3_pays(d)) return 0;
    int64_t OH, OW;
    fc_conv2d_out_shape(d, &OH, &OW);
    return !inplace || d->N * OH * OW > 64;
}

/* 3x3 layers at stride 2 (ResNet's downsampling) where the kernel table takes all 3x3
 * layers: blocked_3x3_pays' channels, through the blocked kernel at stride 2 instead of
 * im2col, but for outputs of 64 positions or fewer (512 @ 7x7 at batch 1: im2col 0.77
 * against 0.92 ms). 2 threads, AVX-512, Zen 4, fastest of 11 alternating calls,
 * im2col -> blocked (torch), ms: batch 16 64 -> 128 @ 56x56 11.63 -> 10.88 (10.76), 128
 * -> 256 @ 28x28 10.36 -> 9.34 (9.42), 256 -> 512 @ 14x14 10.25 -> 8.81 (8.61); batch 8
 * 128 -> 128 @ 56x56 10.94 -> 10.37 (10.33), 256 -> 256 @ 28x28 10.91 -> 9.26 (9.55),
 * 512 -> 512 @ 14x14 11.05 -> 10.20 (9.36), 256 -> 512 5.23 -> 4.69 (4.61); batch 4 256
 * -> 512 2.85 -> 2.76 (3.04), 128 -> 256 2.96 -> 2.50 (2.73); batch 2 128 -> 256 1.58 ->
 * 1.32 (1.61), 64 -> 128 1.50 -> 1.27 (1.29); batch 1 64 -> 128 0.68 -> 0.61 (0.67), 128
 * -> 256 even (0.66). */
static int blocked_takes_strided_3x3(const fc_conv2d_desc *d) {
    int64_t OH, OW;
    fc_conv2d_out_shape(d, &OH, &OW);
    return blocked_all_3x3() && d->stride_h == 2 && d->stride_w == 2 && blocked_3x3_pays(d) &&
           d->N * OH * OW > 64;
}

/* 5x5 and larger kernels on 14x14 and larger output maps (16+ input channels) where
 * im2col would read the weights in place: there too the blocked kernel (and F(2x2,5x5),
 * blocked_winograd_5x5) wins. 2 threads, AVX-512, fastest of 15 alternating calls,
 * batch 1, 5x5 padding 2, in-place im2col -> blocked (-> F(2x2,5x5)), ms: 14x14 64 ->
 * 64 0.30 -> 0.21 (0.19), 128 -> 128 1.14 -> 0.75 (0.68), 256 -> 256 4.16 -> 2.90,
 * 48 -> 128 0.37 -> 0.34 (0.27); batch 2 128 -> 128 1.16 -> 1.09 (1.01). Not on 7x7
 * maps (160 -> 320: 0.96 -> 1.12). */
static int blocked_takes_large_inplace(const fc_conv2d_desc *d, fc_conv_algorithm algo,
                                       int inplace) {
    int64_t OH, OW;
    fc_conv2d_out_shape(d, &OH, &OW);
    return algo == FC_CONV_IM2COL && inplace && d->R * d->S >= 25 && d->C >= 16 &&
           OH * OW >= 14 * 14;
}

/* Whether AUTO's forward runs the blocked direct kernel with the reorders at the
 * call's edge (conv/blocked_nchw.c) instead of im2col + GEMM: large kernels (5x5 and
 * up) at stride 1 without dilation, 16+ input channels (or 6-15 with 16-32 output
 * channels, below), maps too large for im2col's in-place variant (and the 3x3 layers
 * of blocked_3x3_pays, above). im2col's column
 * matrix there is R*S = 25 times the input, which the blocked kernel never builds.
 * Measured (AVX2, the weights arranged and both reorders on every call; callgrind
 * 1-thread instructions, and medians of alternating 2-thread runs on a loaded machine,
 * load 3-4, im2col against blocked): N8 C64 28x28
 * K64 5x5: 211M -> 154M, 20.5 -> 15.6 ms (torch 14.5); N8 C48 35x35 K64 5x5: 244M ->
 * 182M, 23.5 -> 18.3 ms (quiet, once blocked.c's output-block groups were balanced:
 * 14.3 -> 11.5 ms, torch 10.5); AlexNet conv3 (N8 C96 27x27 K256 5x5): 92.8 -> 92.8 ms; 7x7 at
 * 28x28 N8: 49 -> 31 ms; batch 1 at 28x28: 3.0 -> 2.1 ms; 16 channels: 3.9 -> 2.4 ms.
 * Not taken: other 3x3 layers (C64 28x28 N8: 5.3 -> 6.3 ms), small maps where im2col
 * reads the weights in place (C64 7x7 batch 1: 0.4 -> 0.6 ms; 14x14 batch 1: even),
 * dilations and strides (unmeasured; but blocked_takes_strided_3x3's 3x3 layers at
 * stride 2, above). Only where AUTO chose im2col (so never
 * instead of Winograd or the few-channel direct kernel), and only while its workspace
 * obeys FC_AUTO_WORKSPACE_FREE like select_algorithm's choices. */
static int blocked_nchw_pays(const fc_conv2d_desc *d, fc_conv_algorithm algo, int inplace) {
    if (d->dilation_h != 1 || d->dilation_w != 1 ||
        ((d->stride_h != 1 || d->stride_w != 1) && !blocked_takes_strided_3x3(d)))
        return 0;
    if ((algo != FC_CONV_IM2COL || inplace) && !blocked_takes_3x3(d, inplace) &&
        !blocked_takes_large_inplace(d, algo, inplace))
        return 0;
    /* 5x5 and larger with 6-15 input channels (LeNet's C3: 6 -> 16 5x5 at 14x14): a
     * GEMM of 16-32 rows and 150-375 deep wastes its tiles while the blocked kernel
     * runs at 6/8 or more of its lanes. 2 threads, AVX-512, medians of 60 alternating
     * calls, im2col -> blocked: batch 64 14x14 C6 K16 0.47 -> 0.37 ms (torch 0.22),
     * C8 K16 0.57 -> 0.34, C12 K16 0.82 -> 0.65, C6 K32 0.61 -> 0.59, C8 K32 0.78 ->
     * 0.56, C12 K32 1.13 -> 1.06; batch 32 28x28 C6 K16 1.20 -> 1.03; lost with more
     * output channels (C6 K64 0.90 -> 1.03) and below 6 (C4 K16, direct 0.29 -> 0.50). */
    int few = d->C >= 6 && d->K >= 16 && d->K <= 32;
    if ((d->R * d->S < 25 || (d->C < 16 && !few)) && !blocked_3x3_pays(d)) return 0;
    size_t b = fc_conv_blocked_nchw_workspace(d);
    size_t im2col = fc_conv_im2col_workspace(d, FC_PASS_FORWARD);
    return b != SIZE_MAX && (b <= FC_AUTO_WORKSPACE_FREE || b / 8 <= im2col);
}

/* The rule above for a plan: AUTO's forward of one group, or what the test hook forces. */
static int blocked_nchw(const fc_conv2d_desc *d, fc_conv_algorithm asked, fc_conv_algorithm algo,
                        fc_conv_pass pass, int inplace) {
    if (pass != FC_PASS_FORWARD || asked != FC_CONV_AUTO || d->groups != 1) return 0;
    int forced = fc_conv_blocked_nchw_override();
    if (forced >= 0) return forced;
    return blocked_nchw_pays(d, algo, inplace);
}

/* Backward-data of a layer with more output than input channels, up to three times as many,
 * 16+ input channels, a kernel of 25+ taps and a padding that keeps the map's size (the
 * flipped forward then computes no position col2im would not): the flipped blocked
 * forward pays there too (re-measured after the blocked forward's groups of output
 * blocks were balanced and handed out dynamically). CPU time of 1 thread, AVX-512, medians of 5-7 alternating runs on a shared
 * machine, im2col's GEMM + col2im against flipped blocked: Inception N8 C48 35x35 K64
 * 5x5 pad 2 17.0-17.3 -> 13.7-14.6 ms (torch 12.8), batch 1 2.3-2.7 -> 1.8; 5x5 pad 2
 * N8 C32 28x28 K64 7.1 -> 5.9, N16 C16 28x28 K32 4.1 -> 3.1-3.2, N8 C24 14x14 K64 1.4 ->
 * 1.2, N4 C64 17x17 K128 5.1-5.2 -> 4.4, N8 C64 17x17 K128 10.3-10.4 -> 9.6-9.8, N8 C48
 * 35x35 K96 24.2-24.7 -> 21.7-21.9, N8 C128 14x14 K256 29.5-30.5 -> 24.0-26.5, N2 C64
 * 56x56 K128 25.0-25.2 -> 24.2-25.1; 7x7 pad 3 N4 C32 28x28 K64 7.4-7.5 -> 5.9-6.1.
 * AlexNet conv3 (C96 K256, 2.7x: 67.7-69.4 either way before the blocked kernel skipped
 * padding columns and paired its blocks in zmm; after, 68.8 -> 65.9 ms, 70.1 -> 67.1 in
 * another round). Not taken: 13 input channels (13 -> 40: 3.3-3.8 either way), unpadded (C48 K64 5x5 at 35x35: 14.0 -> 14.7-15.3, the
 * flipped forward's 1.27x positions); 3x3 was not measured. */
static int bwd_blocked_wider_pays(const fc_conv2d_desc *d) {
    int64_t OH, OW;
    fc_conv2d_out_shape(d, &OH, &OW);
    return d->R * d->S >= 25 && d->C >= 16 && d->K <= 3 * d->C && OH == d->H && OW == d->W;
}

/* AUTO's backward-data of a stride-1 convolution whose flipped forward (conv/
 * bwd_data_flipped.c) AUTO's forward would run through the blocked kernel: that
 * forward, rather than GEMM columns R*S times grad_x and col2im, where the layer has no
 * more output than input channels (or bwd_blocked_wider_pays, above, or a 3x3 layer
 * blocked_3x3_pays takes flipped: measured there). Measured on 2
 * threads (quiet machine, medians of 11 alternating runs, three rounds, im2col against
 * flipped blocked): N8 C64 28x28 K64 5x5 10.6-13.0 -> 9.7-11.4 ms (torch 10.1-11.9);
 * with more output channels it lost in that round: N8 C48 35x35 K64 13.5-15.3 ->
 * 14.1-16.6 ms, AlexNet conv3 (C96 K256) 50.9-60.2 -> 55.8-56.6 (re-measured: above).
 * 3x3 (blocked_3x3_pays of the flipped descriptor: d's shape, K == C) against GEMM +
 * col2im, which never reads the weights in place, so on every map the rule allows (CPU
 * time, AVX-512, medians of 9-15 alternating runs, shared machine; 1 thread, then 2):
 * ResNet 64 @ 56x56 batch 1 2.65 -> 2.54, 2.57 -> 2.35 ms; 128 @ 28x28 batch 1 2.62 ->
 * 2.42, 2.53 -> 2.35; 256 @ 14x14 batch 1 2.81 -> 2.71, 2.68 -> 2.61, batch 4 10.9 ->
 * 9.7, 10.6 -> 9.4, batch 8 21.2 -> 18.9, 21.6 -> 18.7; 512 @ 7x7 batch 1 4.28 -> 4.05,
 * 3.77 -> 3.26, batch 16 44.9 -> 41.4, 43.7 -> 37.9; lost at 7x7 batch 32 (85.3 ->
 * 89.7). 5x5 with 16-32 input and 6-15 output channels (the flipped forward has the
 * few input channels blocked_nchw_pays allows; AVX-512, 2 threads, medians of 40
 * alternating calls, two rounds, im2col -> blocked): batch 64 14x14 16 -> 6 0.96-1.16
 * -> 0.64-0.66 ms, 32 -> 12 2.26-2.66 -> 2.06-2.12, 16 -> 15 at 18x18 1.95-2.38 ->
 * 1.76-1.94; batch 32 28x28 24 -> 8 padded 2.01-2.22 -> 1.89-1.96. */
static int bwd_blocked_flipped(const fc_conv2d_desc *d, fc_conv_algorithm asked,
                               fc_conv_algorithm algo, fc_conv_pass pass) {
    fc_conv2d_desc fd;
    size_t bytes;
    if (pass != FC_PASS_BACKWARD_DATA || asked != FC_CONV_AUTO || d->groups != 1 ||
        !fc_conv_flipped_desc(d, &fd))
        return 0;
    int forced = fc_conv_blocked_nchw_override();
    if (forced >= 0) return forced;
    if ((algo != FC_CONV_IM2COL && !blocked_takes_3x3(&fd, 0)) ||
        (d->K > d->C && !bwd_blocked_wider_pays(d) && !blocked_3x3_pays(&fd)))
        return 0;
    fc_conv_algorithm fa = select_algorithm(&fd, FC_PASS_FORWARD, &bytes);
    /* im2col's backward-data never reads its weights in place, so the in-place forward's
     * exclusion does not hold for 3x3 (measured: above) */
    int inplace = blocked_3x3_pays(&fd) ? 0 : im2col_inplace(&fd, FC_CONV_AUTO, fa,
                                                             FC_PASS_FORWARD);
    return blocked_nchw_pays(&fd, fa, inplace);
}

/* Where a plan that runs the blocked kernel on a 3x3 stride-1 forward (fd: the flipped
 * forward of a backward-data) runs Winograd on the blocked layout instead
 * (conv/blocked_nchw.c): the inference plan's rule (fc_conv2d_plan_blocked_winograd:
 * 64+ channels, 7x7+ maps, FC_PRECISION_HIGH, F(4x4) on the larger maps and batches),
 * where the batch has at least FC_BLOCKED_WG_MIN_TILES tiles: the filters are
 * transformed on every call, (m+2)^2 * K * C floats written against 2 * that many
 * multiply-adds a tile. Measured (AVX-512, Zen 4, 2 threads, fastest of 15 calls
 * alternating direct blocked / Winograd / torch, ms, forward then backward-data): batch
 * 1 64 @ 56x56 1.26 -> 1.18 (torch 2.11) and 1.40 -> 1.10 (2.96), 128 @ 28x28 1.31 ->
 * 1.02 (1.56) and 1.35 -> 0.98 (1.78), 256 @ 14x14 (F(2x2), 49 tiles) 1.59 -> 1.37
 * (1.88) and even; batch 16 64 @ 56x56 22.2 -> 14.6 (33.6) and 21.0 -> 13.1 (39.2), 128
 * @ 28x28 19.0 -> 9.5 (18.5) and 19.0 -> 9.2 (19.1), 256 @ 14x14 17.5 -> 10.6 (16.9)
 * and 18.0 -> 10.4 (17.8), 512 @ 7x7 20.0 -> 13.6 (16.7) and 18.2 -> 12.7 (15.7); batch
 * 4 256 @ 14x14 5.0 -> 4.2 (4.9) and 4.8 -> 4.3 (5.2). Lost with 16 tiles: 512 @ 7x7
 * batch 4 (F(4x4)) 6.0 -> 8.1 and 6.4 -> 8.3, batch 1 backward-data (F(2x2)) 2.6 -> 4.5. */
#define FC_BLOCKED_WG_MIN_TILES 48

/* 5x5 layers (stride 1, no dilation) that the blocked forward takes run F(2x2,5x5)
 * (conv/blocked_winograd.c) with 32+ channels in and out, 64+ on one side, under
 * FC_PRECISION_HIGH (its error is F(4x4,3x3)'s order: the same points; worst measured
 * 1.2-1.6 of the norm-wise unit, F(4x4)'s bound 16), or wherever the test hook says;
 * the batch's tiles past FC_BLOCKED_WG_MIN_TILES as for 3x3. 2 threads, AVX-512,
 * fastest of 9 alternating calls, blocked direct -> F(2x2,5x5) (torch), ms, forward
 * then backward-data: AlexNet 96 -> 256 at 27x27 batch 16 64.8 -> 39.4 (63.3) and
 * 66.5 -> 39.7 (64.5), batch 1 4.44 -> 2.91 (4.60) and 4.52 -> 3.15 (4.77); batch 8
 * 64 -> 64 at 28x28 6.24 -> 4.56 (6.32) and 6.23 -> 4.68 (6.59), 48 -> 64 at 35x35
 * 6.65 -> 4.82 (6.76) and 6.73 -> 4.89 (6.77), 64 -> 96 13.2 -> 8.2 (13.3); batch 1
 * 192 -> 64 at 27x27 2.17 -> 1.58, 64 -> 64 at 28x28 0.72 -> 0.52. Even or lost at 32
 * channels (batch 8 32 -> 32 at 14x14 0.37 -> 0.46 backward-data) and with 16 input
 * channels (batch 8 16 -> 64 at 28x28 1.51 -> 1.66). */
static int blocked_winograd_5x5(const fc_conv2d_desc *fd) {
    if (fd->R != 5 || fd->S != 5 || fd->stride_h != 1 || fd->stride_w != 1 ||
        fd->dilation_h != 1 || fd->dilation_w != 1 || fd->groups != 1)
        return 0;
    int forced = fc_conv_blocked_winograd_override();
    if (forced >= 0) return forced;
    return fc_precision_active() == FC_PRECISION_HIGH && fc_min64(fd->C, fd->K) >= 32 &&
           fc_max64(fd->C, fd->K) >= 64;
}
static fc_conv_algorithm blocked_winograd(const fc_conv2d_desc *fd) {
    fc_conv_algorithm a;
    if (blocked_winograd_5x5(fd)) a = FC_CONV_WINOGRAD_F23;
    else if (!fc_winograd_serves(fd) || fc_conv2d_plan_blocked_winograd(fd, &a) != FC_SUCCESS ||
             a == FC_CONV_DIRECT)
        return FC_CONV_AUTO;
    int64_t OH, OW;
    fc_conv2d_out_shape(fd, &OH, &OW);
    if (fc_conv_blocked_winograd_override() == 1) return a;
    /* F(4x4) below the floor falls back on F(2x2), which has 4x the tiles and less than
     * half the filters to transform: 512 @ 7x7 at batch 4-11 (16-44 tiles of 4x4).
     * Direct -> F(2x2) (torch), ms, forward then backward-data: batch 8 9.73 -> 7.88
     * (9.22) and 9.52 -> 8.47 (9.24); batch 4 6.10 -> 4.68 (5.26) and 5.59 -> 5.60
     * (5.60). */
    if (a == FC_CONV_WINOGRAD_F43 &&
        fd->N * fc_ceil_div(OH, 4) * fc_ceil_div(OW, 4) < FC_BLOCKED_WG_MIN_TILES)
        a = FC_CONV_WINOGRAD_F23;
    int64_t m = fc_winograd_tile(a);
    if (fd->N * fc_ceil_div(OH, m) * fc_ceil_div(OW, m) < FC_BLOCKED_WG_MIN_TILES)
        return FC_CONV_AUTO;
    return a;
}

/* AUTO's backward-weights of a 3x3 stride-1 layer through Winograd on the blocked
 * layout (conv/blocked_winograd_bwd_weights.c) where its forward runs on the blocked
 * kernel's all_3x3 rule (or the blocked NCHW hook says) and blocked_winograd (above)
 * picks a tile size. Measured (AVX-512, Zen 4, 2 threads, fastest of 11 alternating
 * calls, im2col -> Winograd (torch), ms): batch 16 128 @ 28x28 19.3 -> 11.5 (19.3), 256
 * @ 14x14 19.4 -> 13.4 (19.8), 512 @ 7x7 20.3 -> 14.7 (30.9), 64 @ 56x56 20-36 -> 21-26
 * (noisy); batch 1 64 @ 56x56 1.40 -> 1.02 (1.79), 128 @ 28x28 1.31 -> 0.84 (1.77), 256 @
 * 14x14 1.43 -> 1.31 (1.98). */
static int bwd_weights_blocked(const fc_conv2d_desc *d, fc_conv_algorithm asked,
                               fc_conv_pass pass) {
    if (pass != FC_PASS_BACKWARD_WEIGHTS || asked != FC_CONV_AUTO || d->groups != 1)
        return 0;
    /* 5x5: F(2x2,5x5) where blocked_winograd says (the forward's rule). im2col ->
     * Winograd (torch), 2 threads, AVX-512, fastest of 9 alternating calls, ms: AlexNet 96
     * -> 256 at 27x27 batch 16 70.9 -> 45.7 (72.1), batch 1 4.99 -> 3.64 (5.21); batch 8
     * 64 -> 64 at 28x28 6.99 -> 5.66 (6.99), 48 -> 64 at 35x35 9.82 -> 7.93 (8.79), 32 ->
     * 64 at 28x28 3.48 -> 3.34; batch 1 64 -> 64 at 28x28 0.83 -> 0.58. */
    if (blocked_winograd_5x5(d)) return 1;
    if (!fc_winograd_serves(d)) return 0;
    int forced = fc_conv_blocked_nchw_override();
    if (forced >= 0) return forced;
    return blocked_all_3x3() && blocked_3x3_pays(d);
}

/* AUTO's backward-data of a strided layer as one blocked forward per phase of grad_x
 * (conv/bwd_data_phases.c) rather than im2col's GEMM into columns and col2im: 3x3
 * layers at stride 2 with as many channels in and out as the kernel table's
 * phases_min_channels (AVX-512 64, AVX2 128, measured in core/registry.c; the portable
 * table never), while its workspace obeys FC_AUTO_WORKSPACE_FREE like
 * select_algorithm's choices. Measured (AVX-512, Zen 4, 2 threads, fastest of 9
 * alternating calls, im2col -> phases (torch), ms): batch 16 64
 * -> 128 @ 56x56 12.96 -> 11.14 (26.5, bimodal), 128 -> 256 @ 28x28 11.13 -> 10.42
 * (11.61), 256 -> 512 @ 14x14 11.18 -> 9.85 (10.64); batch 8 256 -> 512 6.50 -> 6.11
 * (6.46), 512 -> 512 @ 14x14 12.25 -> 10.55 (12.01), 256 -> 256 3.14 -> 2.58 (3.29),
 * 128 -> 128 @ 28x28 3.26 -> 2.67 (3.58); batch 4 256 -> 512 3.54 -> 3.09 (3.46);
 * batch 1 even: 256 -> 512 0.99 -> 1.01 (1.19), 128 -> 256 0.74 either way (0.86), 64
 * -> 128 0.80 -> 0.71 (0.98). */
static int bwd_data_phases(const fc_conv2d_desc *d, fc_conv_algorithm asked, fc_conv_pass pass) {
    if (pass != FC_PASS_BACKWARD_DATA || asked != FC_CONV_AUTO ||
        !fc_conv_bwd_data_phases_serves(d))
        return 0;
    int forced = fc_conv_bwd_data_phases_override();
    if (forced >= 0) return forced;
    int64_t least = fc_kernels_active()->conv_blocked.phases_min_channels;
    if (!least || d->R != 3 || d->S != 3 || d->stride_h != 2 || d->stride_w != 2 ||
        d->C < least || d->K < least)
        return 0;
    size_t b = fc_conv_bwd_data_phases_workspace(d);
    size_t im2col = fc_conv_im2col_workspace(d, FC_PASS_BACKWARD_DATA);
    return b != SIZE_MAX && (b <= FC_AUTO_WORKSPACE_FREE || b / 8 <= im2col);
}

static int pass_known(fc_conv_pass pass) {
    return pass == FC_PASS_FORWARD || pass == FC_PASS_BACKWARD_DATA ||
           pass == FC_PASS_BACKWARD_WEIGHTS;
}

fc_status fc_conv_plan_make(const fc_conv2d_desc *d, fc_conv_algorithm algo, fc_conv_pass pass,
                            fc_conv_plan *p) {
    fc_status st = fc_conv2d_check(d, &p->OH, &p->OW); /* the one check of d */
    if (st != FC_SUCCESS) return st;
    if (!algo_known(algo) || !pass_known(pass)) return FC_INVALID_ARGUMENT;
    fc_conv_algorithm asked = algo;
    if (algo == FC_CONV_AUTO) {
        algo = select_algorithm(d, pass, &p->workspace);
    } else {
        if (!algo_serves(d, algo)) return FC_UNSUPPORTED_ALGORITHM;
        p->workspace = algo_workspace(d, algo, pass);
    }
    p->im2col_inplace = im2col_inplace(d, asked, algo, pass);
    if (p->im2col_inplace) p->workspace = fc_conv_im2col_inplace_workspace(d);
    p->blocked_nchw = blocked_nchw(d, asked, algo, pass, p->im2col_inplace);
    if (p->blocked_nchw) {
        p->im2col_inplace = 0;
        p->workspace = fc_conv_blocked_nchw_workspace(d);
    }
    p->blocked_wg = FC_CONV_AUTO;
    if (p->blocked_nchw) {
        p->blocked_wg = blocked_winograd(d);
        if (p->blocked_wg != FC_CONV_AUTO)
            p->workspace = fc_conv_blocked_nchw_winograd_workspace(d, p->blocked_wg);
    }
    if (bwd_weights_blocked(d, asked, pass)) {
        p->blocked_wg = blocked_winograd(d);
        if (p->blocked_wg != FC_CONV_AUTO)
            p->workspace = fc_conv_blocked_nchw_winograd_bwd_weights_workspace(d, p->blocked_wg);
    }
    fc_conv2d_desc fd;
    if (bwd_blocked_flipped(d, asked, algo, pass)) {
        p->blocked_nchw = 1;
        p->workspace = fc_conv_bwd_data_flipped_blocked_workspace(d);
        if (fc_conv_flipped_desc(d, &fd)) p->blocked_wg = blocked_winograd(&fd);
        if (p->blocked_wg != FC_CONV_AUTO)
            p->workspace = fc_conv_blocked_nchw_winograd_workspace(&fd, p->blocked_wg);
    }
    p->bwd_phases = bwd_data_phases(d, asked, pass);
    if (p->bwd_phases) p->workspace = fc_conv_bwd_data_phases_workspace(d);
    p->d = d;
    p->pass = pass;
    p->algo = algo;
    return p->workspace == SIZE_MAX ? FC_SIZE_OVERFLOW : FC_SUCCESS;
}

static fc_status run_depthwise(const fc_conv_plan *p, const float *in, const float *wt,
                               const fc_epilogue *ep, float *bias, float *out, void *ws,
                               size_t ws_size) {
    fc_depthwise_conv2d_desc dd = depthwise_desc(p->d);
    switch (p->pass) {
    case FC_PASS_FORWARD:
        return fc_depthwise_run_forward(&dd, p->OH, p->OW, in, wt, ep, out, ws, ws_size);
    case FC_PASS_BACKWARD_DATA:
        return fc_depthwise_run_backward_data(&dd, p->OH, p->OW, in, wt, out, ws, ws_size);
    case FC_PASS_BACKWARD_WEIGHTS: /* sums grad_bias in the same pass */
        return fc_depthwise_run_backward_weights(&dd, p->OH, p->OW, in, wt, out, bias, ws,
                                                 ws_size);
    }
    return FC_INVALID_ARGUMENT;
}

static fc_status run_forward(const fc_conv_plan *p, const float *x, const float *w,
                             const fc_epilogue *ep, float *y, fc_arena *ws) {
    const fc_conv2d_desc *d = p->d;
    if (p->blocked_nchw && p->blocked_wg != FC_CONV_AUTO)
        return fc_conv_blocked_nchw_winograd_forward(d, p->blocked_wg, x, w, 0, ep, y, ws);
    if (p->blocked_nchw) return fc_conv_blocked_nchw_forward(d, x, w, ep, y, ws);
    switch (p->algo) {
    case FC_CONV_DIRECT: return fc_conv_direct_forward(d, x, w, ep, y, ws);
    case FC_CONV_IM2COL:
        if (p->im2col_inplace) return fc_conv_im2col_forward_inplace(d, x, w, ep, y, ws);
        return fc_conv_im2col_forward(d, x, w, ep, y, ws);
    case FC_CONV_WINOGRAD_F23:
    case FC_CONV_WINOGRAD_F43: return fc_winograd_forward(d, p->algo, x, w, ep, y, ws);
    default: return FC_UNSUPPORTED_ALGORITHM; /* unreachable: the plan resolved it */
    }
}

static fc_status run_backward_data(const fc_conv_plan *p, const float *gy, const float *w,
                                   float *gx, fc_arena *ws) {
    const fc_conv2d_desc *d = p->d;
    if (p->bwd_phases) return fc_conv_bwd_data_phases(d, gy, w, gx, ws);
    if (p->blocked_nchw && p->blocked_wg != FC_CONV_AUTO) {
        fc_conv2d_desc fd;
        const fc_epilogue none = {NULL, NULL, NULL, 0};
        if (!fc_conv_flipped_desc(d, &fd)) return FC_UNSUPPORTED_ALGORITHM; /* unreachable */
        return fc_conv_blocked_nchw_winograd_forward(&fd, p->blocked_wg, gy, w, 1, &none, gx,
                                                     ws);
    }
    if (p->blocked_nchw) return fc_conv_bwd_data_flipped_blocked(d, gy, w, gx, ws);
    switch (p->algo) {
    case FC_CONV_DIRECT: return fc_conv_direct_backward_data(d, gy, w, gx, ws);
    case FC_CONV_IM2COL:
        if (im2col_bwd_flipped(d)) return fc_conv_bwd_data_flipped(d, gy, w, gx, ws);
        return fc_conv_im2col_backward_data(d, gy, w, gx, ws);
    case FC_CONV_WINOGRAD_F23:
    case FC_CONV_WINOGRAD_F43: return fc_winograd_backward_data(d, p->algo, gy, w, gx, ws);
    default: return FC_UNSUPPORTED_ALGORITHM;
    }
}

static fc_status run_backward_weights(const fc_conv_plan *p, const float *gy, const float *x,
                                      float *gw, float *gb, fc_arena *ws) {
    const fc_conv2d_desc *d = p->d;
    fc_status st;
    if (p->blocked_wg != FC_CONV_AUTO) {
        st = fc_conv_blocked_nchw_winograd_bwd_weights(d, p->blocked_wg, gy, x, gw, ws);
        if (st == FC_SUCCESS && gb) fc_conv2d_bias_grad(d->N, d->K, p->OH * p->OW, gy, gb);
        return st;
    }
    switch (p->algo) { /* im2col (and Winograd through it) sums the bias with its blocks */
    case FC_CONV_DIRECT: st = fc_conv_direct_backward_weights(d, gy, x, gw, ws); break;
    case FC_CONV_IM2COL: return fc_conv_im2col_backward_weights(d, gy, x, gw, gb, ws);
    case FC_CONV_WINOGRAD_F23:
    case FC_CONV_WINOGRAD_F43: return fc_winograd_backward_weights(d, gy, x, gw, gb, ws);
    default: return FC_UNSUPPORTED_ALGORITHM;
    }
    if (st == FC_SUCCESS && gb) fc_conv2d_bias_grad(d->N, d->K, p->OH * p->OW, gy, gb);
    return st;
}

fc_status fc_conv_plan_forward(const fc_conv_plan *p, const float *x, const float *w,
                               const fc_epilogue *ep, float *y, void *workspace,
                               size_t workspace_size) {
    if (p->algo == FC_CONV_DEPTHWISE)
        return run_depthwise(p, x, w, ep, NULL, y, workspace, workspace_size);
    FC_ARENA(ws);
    fc_status st = fc_workspace_open(workspace, workspace_size, p->workspace, &ws);
    if (st != FC_SUCCESS) return st;
    return run_forward(p, x, w, ep, y, &ws);
}

fc_status fc_conv_plan_run(const fc_conv_plan *p, const float *in, const float *wt, float *bias,
                           float *out, void *workspace, size_t workspace_size) {
    if (p->pass == FC_PASS_FORWARD) {
        const fc_epilogue ep = {NULL, bias, NULL, 0};
        return fc_conv_plan_forward(p, in, wt, &ep, out, workspace, workspace_size);
    }
    /* depthwise opens the workspace itself (it has a public form of its own) */
    if (p->algo == FC_CONV_DEPTHWISE)
        return run_depthwise(p, in, wt, NULL, bias, out, workspace, workspace_size);
    FC_ARENA(ws);
    fc_status st = fc_workspace_open(workspace, workspace_size, p->workspace, &ws);
    if (st != FC_SUCCESS) return st;
    switch (p->pass) {
    case FC_PASS_FORWARD: return FC_INVALID_ARGUMENT; /* handled above */
    case FC_PASS_BACKWARD_DATA: return run_backward_data(p, in, wt, out, &ws);
    case FC_PASS_BACKWARD_WEIGHTS: return run_backward_weights(p, in, wt, out, bias, &ws);
    }
    return FC_INVALID_ARGUMENT;
}

/* ------------------------------------------------------------ public */

/* AUTO's plan of d for the queries below: a workspace too large to size still names
 * its choices (FC_SIZE_OVERFLOW is the caller's to meet when it runs). */
static fc_status auto_plan(const fc_conv2d_desc *d, fc_conv_pass pass, fc_conv_plan *p) {
    fc_status st = fc_conv_plan_make(d, FC_CONV_AUTO, pass, p);
    return st == FC_SIZE_OVERFLOW ? FC_SUCCESS : st;
}

fc_status fc_conv2d_select_algorithm(const fc_conv2d_desc *d, fc_conv_pass pass,
                                     fc_conv_algorithm *algo) {
    FC_CALL_SCOPE();
    if (!algo) return FC_INVALID_ARGUMENT;
    fc_conv_plan p;
    fc_status st = auto_plan(d, pass, &p);
    if (st == FC_SUCCESS) *algo = p.algo;
    return st;
}

fc_status fc_conv2d_auto_forward_blocked(const fc_conv2d_desc *d, int *blocked) {
    FC_CALL_SCOPE();
    if (!blocked) return FC_INVALID_ARGUMENT;
    fc_conv_plan p;
    fc_status st = auto_plan(d, FC_PASS_FORWARD, &p);
    if (st == FC_SUCCESS) *blocked = p.blocked_nchw;
    return st;
}

fc_status fc_conv2d_plan_blocked(const fc_conv2d_desc *d, int *blocked) {
    FC_CALL_SCOPE();
    if (!blocked) return FC_INVALID_ARGUMENT;
    fc_conv_plan p;
    fc_status st = auto_plan(d, FC_PASS_FORWARD, &p);
    if (st != FC_SUCCESS) return st;
    int forced = fc_conv_blocked_nchw_override();
    *blocked = forced >= 0 ? forced
                           : p.blocked_nchw || (d->groups == 1 && d->C >= 16 &&
                                                fc_kernels_active()->conv_blocked.plan_any_batch);
    return FC_SUCCESS;
}

fc_status fc_conv2d_output_shape(const fc_conv2d_desc *d, int64_t *OH, int64_t *OW) {
    if (!OH || !OW) return FC_INVALID_ARGUMENT;
    return fc_conv2d_check(d, OH, OW);
}

fc_status fc_conv2d_workspace_size(const fc_conv2d_desc *d, fc_conv_algorithm algo,
                                   fc_conv_pass pass, size_t *bytes) {
    FC_CALL_SCOPE();
    if (!bytes) return FC_INVALID_ARGUMENT;
    fc_conv_plan p;
    fc_status st = fc_conv_plan_make(d, algo, pass, &p);
    if (st == FC_SUCCESS) *bytes = p.workspace;
    return st;
}

fc_status fc_conv2d_forward_ex(const fc_conv2d_desc *d, fc_conv_algorithm algo, const float *x,
                               const float *w, const fc_epilogue *ep, float *y, void *workspace,
                               size_t workspace_size) {
    FC_CALL_SCOPE();
    if (!x || !w || !y) return FC_INVALID_ARGUMENT;
    fc_conv_plan p;
    fc_status st = fc_conv_plan_make(d, algo, FC_PASS_FORWARD, &p);
    if (st != FC_SUCCESS) return st;
    const fc_epilogue none = {NULL, NULL, NULL, 0};
    if (!ep) ep = &none;
    st = fc_epilogue_check(ep, y, d->N * d->K * p.OH * p.OW);
    if (st != FC_SUCCESS) return st;
    return fc_conv_plan_forward(&p, x, w, ep, y, workspace, workspace_size);
}

fc_status fc_conv2d_forward(const fc_conv2d_desc *d, fc_conv_algorithm algo, const float *x,
                            const float *w, const float *bias, float *y, void *workspace,
                            size_t workspace_size) {
    const fc_epilogue ep = {NULL, bias, NULL, 0};
    return fc_conv2d_forward_ex(d, algo, x, w, &ep, y, workspace, workspace_size);
}

fc_status fc_conv2d_backward_data(const fc_conv2d_desc *d, fc_conv_algorithm algo,
                                  const float *grad_y, const float *w, float *grad_x,
                                  void *workspace, size_t workspace_size) {
    FC_CALL_SCOPE();
    if (!grad_y || !w || !grad_x) return FC_INVALID_ARGUMENT;
    fc_conv_plan p;
    fc_status st = fc_conv_plan_make(d, algo, FC_PASS_BACKWARD_DATA, &p);
    if (st != FC_SUCCESS) return st;
    return fc_conv_plan_run(&p, grad_y, w, NULL, grad_x, workspace, workspace_size);
}

fc_status fc_conv2d_backward_weights(const fc_conv2d_desc *d, fc_conv_algorithm algo,
                                     const float *grad_y, const float *x, float *grad_w,
                                     float *grad_bias, void *workspace, size_t workspace_size) {
    FC_CALL_SCOPE();
    if (!grad_y || !x || !grad_w) return FC_INVALID_ARGUMENT;
    fc_conv_plan p;
    fc_status st = fc_conv_plan_make(d, algo, FC_PASS_BACKWARD_WEIGHTS, &p);
    if (st != FC_SUCCESS) return st;
    return fc_conv_plan_run(&p, grad_y, x, grad_bias, grad_w, workspace, workspace_size);
}

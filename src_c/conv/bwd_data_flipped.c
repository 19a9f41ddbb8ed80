/* Backward-data of a stride-1 convolution as the forward convolution of grad_y with
 * the flipped weights (see bwd_data_flipped.h). With stride 1,
 *   gx[c][h][w] = sum_{k,r,s} gy[k][h + pt - r*dh][w + pl - s*dw] * w[k][c][r][s],
 * which, with r' = R-1-r and s' = S-1-s, is a correlation of gy padded by
 * dh*(R-1) - pt (top), dh*(R-1) - pb (bottom), and likewise for the columns, with
 * w'[c][k][r'][s'] = w[k][c][r][s]: an ordinary forward with K and C swapped (per
 * group) whose output is exactly H x W. */
#include "blocked.h"
#include "blocked_nchw.h"
#include "bwd_data_flipped.h"
#include "conv_desc.h"
#include "im2col.h"

int fc_conv_flipped_desc(const fc_conv2d_desc *d, fc_conv2d_desc *fd) {
    if (d->stride_h != 1 || d->stride_w != 1) return 0;
    int64_t eh = d->dilation_h * (d->R - 1), ew = d->dilation_w * (d->S - 1);
    fc_conv2d_desc f = *d;
    fc_conv2d_out_shape(d, &f.H, &f.W);
    f.C = d->K;
    f.K = d->C;
    f.pad_top = eh - d->pad_top;
    f.pad_bottom = eh - d->pad_bottom;
    f.pad_left = ew - d->pad_left;
    f.pad_right = ew - d->pad_right;
    int64_t OH, OW;
    /* negative padding (cropping) is not a forward's; the check also guards sizes */
    if (f.pad_top < 0 || f.pad_bottom < 0 || f.pad_left < 0 || f.pad_right < 0 ||
        fc_conv2d_check(&f, &OH, &OW) != FC_SUCCESS || OH != d->H || OW != d->W)
        return 0;
    *fd = f;
    return 1;
}

/* The flipped forward's weight arrangements: wt (its weights transposed per group, as
 * fc_conv_im2col_pack_weights_t takes them) and their packing for its GEMM. */
static int flipped_sizes(const fc_conv2d_desc *fd, int *layout, int64_t *wt, int64_t *wp) {
    *layout = fc_conv_im2col_weights_layout(fd);
    *wp = fc_conv_im2col_packed_weights_floats(fd, *layout);
    return *wp >= 0 && fc_prod4(fd->C, fd->K / fd->groups, fd->R, fd->S, wt);
}

size_t fc_conv_bwd_data_flipped_workspace(const fc_conv2d_desc *d) {
    fc_conv2d_desc fd;
    int layout;
    int64_t wt, wp;
    if (!fc_conv_flipped_desc(d, &fd) || !flipped_sizes(&fd, &layout, &wt, &wp))
        return SIZE_MAX;
    size_t total = 0, inner = fc_conv_im2col_prepacked_workspace(&fd);
    if (inner == SIZE_MAX || !fc_ws_add(&total, wt, sizeof(float)) ||
        !fc_ws_add(&total, wp, sizeof(float)) || __builtin_add_overflow(total, inner, &total))
        return SIZE_MAX;
    return total;
}

/* wt[g][k][r][s][c] = w[g][k][c][R-1-r][S-1-s] (k, c within group g): the flipped
 * forward's weights w'[g][c][k][r][s] transposed, each output channel's C/groups x R*S
 * block turned around in cache. */
static void arrange_weights(const fc_conv2d_desc *d, const float *restrict w,
                            float *restrict wt) {
    int64_t Cg = d->C / d->groups, T = d->R * d->S, block = Cg * T;
    /* a thread is worth it from about a million floats (the 512-channel 3x3 layers) */
    int threads = d->K * block >= (1 << 20) ? fc_threads() : 1;
    #pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t k = 0; k < d->K; k++) {
        const float *src = w + k * block;
        float *dst = wt + k * block;
        /* reads the block in order, writes its T rows of C/groups floats (in L1) */
        for (int64_t c = 0; c < Cg; c++) {
            const float *s = src + c * T + T - 1;
            float *o = dst + c;
            for (int64_t t = 0; t < T; t++, o += Cg) *o = s[-t];
        }
    }
}

fc_status fc_conv_bwd_data_flipped(const fc_conv2d_desc *d, const float *gy, const float *w,
                                   float *gx, fc_arena *ws) {
    fc_conv2d_desc fd;
    int layout;
    int64_t nwt, nwp;
    if (!fc_conv_flipped_desc(d, &fd) || !flipped_sizes(&fd, &layout, &nwt, &nwp))
        return FC_UNSUPPORTED_ALGORITHM; /* unreachable: the plan sized it */
    float *wt = fc_arena_alloc(ws, (size_t)nwt * sizeof(float));
    float *wp = fc_arena_alloc(ws, (size_t)nwp * sizeof(float));
    if (!wt || !wp) return FC_INVALID_WORKSPACE;
    arrange_weights(d, w, wt);
    fc_conv_im2col_pack_weights_t(&fd, layout, wt, wp);
    const fc_epilogue none = {NULL, NULL, NULL, 0};
    return fc_conv_im2col_forward_prepacked(&fd, layout, gy, wp, &none, gx, ws);
}

/* ------------------------------------------------- through the blocked forward */

/* The flipped forward's weights, wf[kf][cf][t] = w[cf][kf][T-1-t] (K and C swapped,
 * one group), straight into the blocked kernel's arrangement: one pass instead of
 * flipping into a plain copy and arranging that, which cost 1.3 ms of 5.2 for 512
 * channels at 7x7 batch 1 (1 thread, AVX-512). */
static void arrange_flipped_blocked(const fc_conv2d_desc *d, const float *w, float *wb) {
    int64_t T = d->R * d->S;
    const fc_blocked_src src = {w + T - 1, d->C, d->K, T, T, T, d->C * T, 0, -1};
    fc_blocked_arrange_weights(&src, wb);
}

size_t fc_conv_bwd_data_flipped_blocked_workspace(const fc_conv2d_desc *d) {
    fc_conv2d_desc fd;
    if (d->groups != 1 || !fc_conv_flipped_desc(d, &fd)) return SIZE_MAX;
    return fc_conv_blocked_nchw_workspace(&fd); /* counts the arranged weights */
}

fc_status fc_conv_bwd_data_flipped_blocked(const fc_conv2d_desc *d, const float *gy,
                                           const float *w, float *gx, fc_arena *ws) {
    fc_conv2d_desc fd;
    size_t nwb;
    if (d->groups != 1 || !fc_conv_flipped_desc(d, &fd) ||
        fc_conv2d_blocked_weights_size(&fd, &nwb) != FC_SUCCESS)
        return FC_UNSUPPORTED_ALGORITHM; /* unreachable: the plan chose it */
    float *wb = fc_arena_alloc(ws, nwb * sizeof(float));
    if (!wb) return FC_INVALID_WORKSPACE;
    arrange_flipped_blocked(d, w, wb);
    const fc_epilogue none = {NULL, NULL, NULL, 0};
    return fc_conv_blocked_nchw_forward_arranged(&fd, gy, wb, &none, gx, ws);
}

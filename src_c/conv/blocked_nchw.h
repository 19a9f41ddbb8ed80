/* The NCHW forward through the blocked (NCHW8c) direct kernel (conv/blocked_nchw.c):
 * the input reordered to the blocked layout, the weights arranged, the blocked forward,
 * the output reordered back, all inside one call. Where the kernel is large (5x5) the
 * blocked direct product beats im2col + GEMM by more than the reorders cost: im2col's
 * column matrix is R*S times the input. */
#ifndef FC_CONV_BLOCKED_NCHW_H
#define FC_CONV_BLOCKED_NCHW_H

#include "../core/internal.h"

/* Workspace bytes (SIZE_MAX on overflow or for a descriptor it cannot serve: groups
 * other than 1): the blocked input, output and weights plus the blocked forward's own
 * workspace. */
size_t fc_conv_blocked_nchw_workspace(const fc_conv2d_desc *d);
/* y = the epilogue (conv/epilogue.h; never NULL) of conv(x, w); the residual may be y. */
fc_status fc_conv_blocked_nchw_forward(const fc_conv2d_desc *d, const float *x, const float *w,
                                       const fc_epilogue *ep, float *y, fc_arena *ws);
/* The same from weights the caller arranged (fc_conv2d_blocked_transform_weights's
 * layout, fc_conv2d_blocked_weights_size floats) in a piece of ws taken before the call:
 * the workspace above counts them, so the caller's piece and this call's fit in it. */
fc_status fc_conv_blocked_nchw_forward_arranged(const fc_conv2d_desc *d, const float *x,
                                                const float *wb, const fc_epilogue *ep,
                                                float *y, fc_arena *ws);
/* Winograd F(2x2,3x3) / F(4x4,3x3) on the blocked layout (conv/blocked_winograd.c) the
 * same way: the reorders and the filter transforms on every call.
 * With `flipped`, d is the flipped forward of a layer's backward-data (conv/
 * bwd_data_flipped.h) and w that layer's weights, transformed flipped. The workspace
 * counts the blocked input and output, the transformed filters and the forward's own. */
size_t fc_conv_blocked_nchw_winograd_workspace(const fc_conv2d_desc *d, fc_conv_algorithm algo);
fc_status fc_conv_blocked_nchw_winograd_forward(const fc_conv2d_desc *d, fc_conv_algorithm algo,
                                                const float *x, const float *w, int flipped,
                                                const fc_epilogue *ep, float *y, fc_arena *ws);
/* Backward-weights of a 3x3 stride-1 layer by Winograd on the blocked layout
 * (conv/blocked_winograd_bwd_weights.c): gw (K, C, 3, 3) of grad_y and x, both NCHW;
 * groups 1. The workspace counts both reordered, the transformed tiles of a band, the
 * positions' K x C gradients and the GEMMs' packing. */
size_t fc_conv_blocked_nchw_winograd_bwd_weights_workspace(const fc_conv2d_desc *d,
                                                           fc_conv_algorithm algo);
fc_status fc_conv_blocked_nchw_winograd_bwd_weights(const fc_conv2d_desc *d,
                                                    fc_conv_algorithm algo, const float *gy,
                                                    const float *x, float *gw, fc_arena *ws);
/* xb[n][cb][hp][wp][8] = x[n][cb*8 + j][hp - pad_top][wp - pad_left] (d's padding,
 * dp->H x dp->W the padded map), zeros outside the map and past C: the NCHW input
 * reordered and padded in one pass. */
void fc_blocked_reorder_padded(const fc_conv2d_desc *d, const fc_conv2d_desc *dp, const float *x,
                               float *xb);
/* Bytes of the pieces these routes take: a blocked input and output (floats), arranged
 * or transformed weights (floats), the inner call's workspace (bytes); SIZE_MAX on
 * overflow. */
size_t fc_blocked_pieces_bytes(int64_t xb, int64_t yb, size_t wb, size_t inner);
/* Those pieces taken from ws in the same order (*w NULL where wb is 0: weights the
 * caller arranged); 0 when ws is short of any piece. */
int fc_blocked_pieces_take(fc_arena *ws, int64_t xb, int64_t yb, size_t wb, size_t inner,
                           float **x, float **y, float **w, void **in);
/* The test hook's setting (-1: AUTO's rule, 0: never, 1: every AUTO forward of one
 * group, and every AUTO backward-data of one group with a flipped forward), which
 * fc_conv_plan_make obeys. */
int fc_conv_blocked_nchw_override(void);

#endif

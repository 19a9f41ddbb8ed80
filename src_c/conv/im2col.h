/* Convolution as im2col + packed SGEMM (conv/im2col.c). */
#ifndef FC_CONV_IM2COL_H
#define FC_CONV_IM2COL_H

#include "../core/internal.h"

/* Workspace bytes of a pass for the current thread count (SIZE_MAX on overflow). */
size_t fc_conv_im2col_workspace(const fc_conv2d_desc *d, fc_conv_pass pass);
/* y = the epilogue (conv/epilogue.h; never NULL) of conv(x, w). */
fc_status fc_conv_im2col_forward(const fc_conv2d_desc *d, const float *x, const float *w,
                                 const fc_epilogue *ep, float *y, fc_arena *ws);
/* The forward from weights packed once (conv/prepacked.c keeps them with a header),
 * in one of two GEMM orientations (im2col.c, use_layout): the weights as the packed A
 * (MR along the output channels) or as the packed B (NR along them, for narrow
 * outputs). The packed weights (their floats, -1 on overflow, and the packing) depend
 * on the weight's shape, the layout and the active ISA's GEMM blocking only; the
 * layout d prefers; the workspace without the packed weights (enough for either). */
#define FC_IM2COL_WEIGHTS_AS_A 0
#define FC_IM2COL_WEIGHTS_AS_B 1
int fc_conv_im2col_weights_layout(const fc_conv2d_desc *d);
int64_t fc_conv_im2col_packed_weights_floats(const fc_conv2d_desc *d, int layout);
void fc_conv_im2col_pack_weights(const fc_conv2d_desc *d, int layout, const float *w,
                                 float *wp);
/* The same packing from the weights transposed per group: wt_g[C/groups*R*S][K/groups],
 * group after group. */
void fc_conv_im2col_pack_weights_t(const fc_conv2d_desc *d, int layout, const float *wt,
                                   float *wp);
size_t fc_conv_im2col_prepacked_workspace(const fc_conv2d_desc *d);
fc_status fc_conv_im2col_forward_prepacked(const fc_conv2d_desc *d, int layout,
                                           const float *x, const float *wp,
                                           const fc_epilogue *ep, float *y, fc_arena *ws);
/* The forward with the weights read in place, not packed (conv/im2col_inplace.h), in
 * blocks of at most FC_IM2COL_INPLACE_MAX_COLS output positions (whole images); its
 * workspace; the test hook's setting (-1: none, 0: never, 1: always), which
 * fc_conv_plan_make obeys over AUTO's rule. */
#define FC_IM2COL_INPLACE_MAX_COLS 256
fc_status fc_conv_im2col_forward_inplace(const fc_conv2d_desc *d, const float *x,
                                         const float *w, const fc_epilogue *ep, float *y,
                                         fc_arena *ws);
size_t fc_conv_im2col_inplace_workspace(const fc_conv2d_desc *d);
int fc_conv_im2col_inplace_override(void);
fc_status fc_conv_im2col_backward_data(const fc_conv2d_desc *d, const float *gy,
                                       const float *w, float *gx, fc_arena *ws);
/* ... and, where gb is not NULL, the bias gradient (fc_conv2d_bias_grad's sums) */
fc_status fc_conv_im2col_backward_weights(const fc_conv2d_desc *d, const float *gy,
                                          const float *x, float *gw, float *gb,
                                          fc_arena *ws);

#endif

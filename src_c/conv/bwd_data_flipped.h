/* Backward-data of a stride-1 convolution as a forward convolution
 * (conv/bwd_data_flipped.c): grad_x = conv(grad_y, w') with w' the weights turned
 * around (w'[c][k][r][s] = w[k][c][R-1-r][S-1-s] per group) and padding
 * dilation*(kernel-1) - pad on each side. It runs im2col's forward, whose column
 * matrix goes straight into the GEMM's packed panels, instead of a GEMM into a column
 * matrix followed by col2im's scatter-add. */
#ifndef FC_CONV_BWD_DATA_FLIPPED_H
#define FC_CONV_BWD_DATA_FLIPPED_H

#include "../core/internal.h"

/* 1 and *fd = the flipped descriptor (checked) when it exists: stride 1 and no
 * padding beyond dilation*(kernel-1) on any side; 0 otherwise. */
int fc_conv_flipped_desc(const fc_conv2d_desc *d, fc_conv2d_desc *fd);
/* Workspace bytes (SIZE_MAX on overflow or when there is no flipped descriptor). */
size_t fc_conv_bwd_data_flipped_workspace(const fc_conv2d_desc *d);
/* grad_x (overwritten) from grad_y; d must have a flipped descriptor. */
fc_status fc_conv_bwd_data_flipped(const fc_conv2d_desc *d, const float *gy, const float *w,
                                   float *gx, fc_arena *ws);

/* The same through the blocked NCHW forward (conv/blocked_nchw.h), where AUTO's rule
 * (conv2d.c, bwd_blocked_flipped) takes it; one group: the weights flipped straight into
 * the blocked kernel's arrangement, then that forward into gx. */
size_t fc_conv_bwd_data_flipped_blocked_workspace(const fc_conv2d_desc *d);
fc_status fc_conv_bwd_data_flipped_blocked(const fc_conv2d_desc *d, const float *gy,
                                           const float *w, float *gx, fc_arena *ws);

#endif

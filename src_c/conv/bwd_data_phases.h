/* Backward-data of a strided convolution as stride-1 forwards through the blocked
 * kernel, one per phase of grad_x (conv/bwd_data_phases.c): the rows ih = ph + sh*a of
 * phase ph receive only the rows of taps r = (ph + pad_top) mod sh + sh*j, so each phase
 * (ph, pw) is an ordinary correlation of grad_y with a sub-kernel of the weights turned
 * around, without col2im's scatter-add or a GEMM over zero-upsampled planes. */
#ifndef FC_CONV_BWD_DATA_PHASES_H
#define FC_CONV_BWD_DATA_PHASES_H

#include "../core/internal.h"

/* The strides the route serves (both ways), and so the most phases a way. */
#define FC_PHASES_MAX_STRIDE 4

/* Whether d has the route: one group, no dilation, a stride of 2 to
 * FC_PHASES_MAX_STRIDE on some way (1 to that on the other), checked. */
int fc_conv_bwd_data_phases_serves(const fc_conv2d_desc *d);
/* Workspace bytes (SIZE_MAX on overflow or where the route does not serve d). */
size_t fc_conv_bwd_data_phases_workspace(const fc_conv2d_desc *d);
/* grad_x (overwritten) from grad_y and the plain weights w. */
fc_status fc_conv_bwd_data_phases(const fc_conv2d_desc *d, const float *gy, const float *w,
                                  float *gx, fc_arena *ws);

/* Test hooks (not in fastconv.h): -1 AUTO's rule (conv2d.c), 0 never, 1 every AUTO
 * backward-data the route serves; and how many backward-data took it. Not thread-safe. */
int fc_conv_bwd_data_phases_override(void);

#endif

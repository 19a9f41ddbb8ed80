/* Descriptor checks and shape math shared by every convolution algorithm. */
#ifndef FC_CONV_DESC_H
#define FC_CONV_DESC_H

#include "../core/internal.h"

/* Checks every field (and that no size overflows); on success sets OH, OW. */
fc_status fc_conv2d_check(const fc_conv2d_desc *d, int64_t *OH, int64_t *OW);

/* grad_bias[k] = sum of grad_y over images and positions. */
void fc_conv2d_bias_grad(int64_t N, int64_t K, int64_t plane, const float *gy, float *gb);

/* Output size along one axis, or -1 when the effective kernel exceeds the padded
 * input (or on overflow). */
int64_t fc_conv_out_size(int64_t in, int64_t pad0, int64_t pad1, int64_t k, int64_t dil,
                         int64_t stride);

#endif

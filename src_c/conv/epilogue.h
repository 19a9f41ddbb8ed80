/* The convolution forward epilogue (fc_epilogue in fastconv.h), shared by the
 * algorithms: direct applies it in registers at its stores (kernels/f32_conv_direct.inc),
 * im2col, Winograd and depthwise write a block of plain convolution values to a buffer
 * that is still in cache and call fc_epilogue_row on it. */
#ifndef FC_CONV_EPILOGUE_H
#define FC_CONV_EPILOGUE_H

#include "../core/internal.h"

/* Nothing but an optional bias: the algorithms' own bias paths serve it. */
static inline int fc_epilogue_bias_only(const fc_epilogue *ep) {
    return !ep->scale && !ep->residual && !ep->relu;
}

/* y[at + i] = act(scale[k] * src[i] + bias[k] + residual[at + i]) for i < len, where y
 * and residual are the whole output arrays and `at` a flat offset into them. src may
 * be y + at (in place); residual may be y (then src must not be y + at). */
void fc_epilogue_row(const fc_epilogue *ep, int64_t k, const float *src, float *y, int64_t at,
                     int64_t len);

/* FC_INVALID_ARGUMENT when residual overlaps y (n floats each) without being y. */
fc_status fc_epilogue_check(const fc_epilogue *ep, const float *y, int64_t n);

#endif

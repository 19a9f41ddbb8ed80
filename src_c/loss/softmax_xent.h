/* Per-ISA kernels of the fused softmax cross-entropy (loss/softmax_xent.c; one body,
 * kernels/f32_softmax_xent.inc, reached through the registry).
 *
 * exp_sum: the sum of exp(z[k] - shift) over k < n (n >= 1), to about double precision
 *   (compensated float vectors); e (unless NULL) gets each float term. NaN in z
 *   or shift gives NaN terms, as expf. */
#ifndef FC_SOFTMAX_XENT_H
#define FC_SOFTMAX_XENT_H

#include "../core/internal.h"

typedef struct fc_xent_ukernels {
    double (*exp_sum)(int64_t n, const float *z, float shift, float *e);
} fc_xent_ukernels;

#endif

/* The im2col forward with the weights read in place (conv/im2col.c, forward_inplace):
 * the contract of its per-ISA kernels (kernels/<isa>/f32_conv_inplace_<isa>.c, one
 * body in kernels/f32_conv_inplace.inc).
 *
 * On small output maps (7x7 at batch 1: 49 columns against 512 x 4608 weights) the
 * packed GEMM copies every weight into panels on each call to use it 49 times, which
 * costs about as much as the arithmetic. This product broadcasts each weight from its
 * row where it lies (w_g [K_g][CRS]) against whole vectors of a column matrix whose
 * rows are padded to a multiple of the vector width, so nothing but the (small)
 * columns is ever copied. */
#ifndef FC_CONV_IM2COL_INPLACE_H
#define FC_CONV_IM2COL_INPLACE_H

#include "../core/internal.h"

/* c[i][j] = (accumulate ? c[i][j] : 0) + sum_{q < kc} a[i * lda + q] * b[q * ldb + j]
 * for i < m, j < nv * vl (vl: the table's conv_inplace.vl floats per vector): every
 * row of b and c is read and written in whole vectors (nv of them), a is only read
 * at the m rows' first kc floats. */
typedef void (*fc_conv_inplace_fn)(int64_t kc, int64_t m, int64_t nv, const float *a,
                                   int64_t lda, const float *b, int64_t ldb, float *c,
                                   int64_t ldc, int accumulate);

#endif

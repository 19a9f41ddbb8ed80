/* Softmax cross-entropy's exp sum, avx2. */
#pragma GCC target("avx2,fma")
#include "kernels/avx2/avx2.h"
#define FC_VBYTES 32
#define FC_XENT_EXP_SUM_UKERNEL fc_f32_xent_exp_sum_ukernel__avx2
#include "kernels/f32_softmax_xent.inc"

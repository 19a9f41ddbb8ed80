/* Softmax cross-entropy's exp sum, portable. */
#include "kernels/portable/portable.h"
#define FC_VBYTES 16
#define FC_XENT_EXP_SUM_UKERNEL fc_f32_xent_exp_sum_ukernel__portable
#include "kernels/f32_softmax_xent.inc"

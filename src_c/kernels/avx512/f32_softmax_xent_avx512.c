/* Softmax cross-entropy's exp sum, avx512. */
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")
#include "kernels/avx512/avx512.h"
#define FC_VBYTES 64
#define FC_XENT_EXP_SUM_UKERNEL fc_f32_xent_exp_sum_ukernel__avx512
#include "kernels/f32_softmax_xent.inc"

/* Elementwise micro-kernels, avx512. */
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")
#include "kernels/avx512/avx512.h"
#define FC_VBYTES 64
#define FC_ACTIVATION_FORWARD_UKERNEL fc_f32_activation_forward_ukernel__avx512
#define FC_ACTIVATION_BACKWARD_UKERNEL fc_f32_activation_backward_ukernel__avx512
#define FC_ADD_UKERNEL fc_f32_add_ukernel__avx512
#define FC_ADD_RELU_UKERNEL fc_f32_add_relu_ukernel__avx512
#define FC_BIAS_ADD_UKERNEL fc_f32_bias_add_ukernel__avx512
#define FC_SUM_UKERNEL fc_f32_sum_ukernel__avx512
#define FC_DROPOUT_FORWARD_UKERNEL fc_f32_dropout_forward_ukernel__avx512
#define FC_DROPOUT_BACKWARD_UKERNEL fc_f32_dropout_backward_ukernel__avx512
#include "kernels/f32_eltwise.inc"

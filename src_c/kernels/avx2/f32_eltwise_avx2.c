/* Elementwise micro-kernels, avx2. */
#pragma GCC target("avx2,fma")
#include "kernels/avx2/avx2.h"
#define FC_VBYTES 32
#define FC_ACTIVATION_FORWARD_UKERNEL fc_f32_activation_forward_ukernel__avx2
#define FC_ACTIVATION_BACKWARD_UKERNEL fc_f32_activation_backward_ukernel__avx2
#define FC_ADD_UKERNEL fc_f32_add_ukernel__avx2
#define FC_ADD_RELU_UKERNEL fc_f32_add_relu_ukernel__avx2
#define FC_BIAS_ADD_UKERNEL fc_f32_bias_add_ukernel__avx2
#define FC_SUM_UKERNEL fc_f32_sum_ukernel__avx2
#define FC_DROPOUT_FORWARD_UKERNEL fc_f32_dropout_forward_ukernel__avx2
#define FC_DROPOUT_BACKWARD_UKERNEL fc_f32_dropout_backward_ukernel__avx2
#include "kernels/f32_eltwise.inc"

/* Winograd F(2x2,3x3) and F(4x4,3x3) tile transforms on the blocked layout NCHW8c, avx512. */
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")
#include "kernels/avx512/avx512.h"
#define FC_BLOCKED_WG_INPUT_UKERNEL fc_f32_conv_blocked_wg_input_ukernel__avx512
#define FC_BLOCKED_WG_OUTPUT_UKERNEL fc_f32_conv_blocked_wg_output_ukernel__avx512
#define FC_BLOCKED_WG_FILTER_UKERNEL fc_f32_conv_blocked_wg_filter_ukernel__avx512
#define FC_BLOCKED_WG_GRAD_UKERNEL fc_f32_conv_blocked_wg_grad_ukernel__avx512
#include "kernels/f32_conv_blocked_winograd.inc"

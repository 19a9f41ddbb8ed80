/* Winograd F(2x2,3x3) and F(4x4,3x3) tile transforms on the blocked layout NCHW8c, portable. */
#include "kernels/portable/portable.h"
#define FC_BLOCKED_WG_INPUT_UKERNEL fc_f32_conv_blocked_wg_input_ukernel__portable
#define FC_BLOCKED_WG_OUTPUT_UKERNEL fc_f32_conv_blocked_wg_output_ukernel__portable
#define FC_BLOCKED_WG_FILTER_UKERNEL fc_f32_conv_blocked_wg_filter_ukernel__portable
#define FC_BLOCKED_WG_GRAD_UKERNEL fc_f32_conv_blocked_wg_grad_ukernel__portable
#include "kernels/f32_conv_blocked_winograd.inc"

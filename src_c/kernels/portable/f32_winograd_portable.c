/* Winograd F(2x2,3x3) and F(4x4,3x3) tile transforms, portable. */
#include "kernels/portable/portable.h"
#define FC_VBYTES 16
#define FC_WINOGRAD_INPUT_UKERNEL_2X2 fc_f32_winograd_input_ukernel_2x2__portable
#define FC_WINOGRAD_INPUT_UKERNEL_4X4 fc_f32_winograd_input_ukernel_4x4__portable
#define FC_WINOGRAD_OUTPUT_UKERNEL_2X2 fc_f32_winograd_output_ukernel_2x2__portable
#define FC_WINOGRAD_OUTPUT_UKERNEL_4X4 fc_f32_winograd_output_ukernel_4x4__portable
#include "kernels/f32_winograd.inc"

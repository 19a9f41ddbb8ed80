/* Winograd F(2x2,3x3) and F(4x4,3x3) tile transforms, avx2. */
#pragma GCC target("avx2,fma")
#include "kernels/avx2/avx2.h"
#define FC_VBYTES 32
#define FC_WINOGRAD_INPUT_UKERNEL_2X2 fc_f32_winograd_input_ukernel_2x2__avx2
#define FC_WINOGRAD_INPUT_UKERNEL_4X4 fc_f32_winograd_input_ukernel_4x4__avx2
#define FC_WINOGRAD_OUTPUT_UKERNEL_2X2 fc_f32_winograd_output_ukernel_2x2__avx2
#define FC_WINOGRAD_OUTPUT_UKERNEL_4X4 fc_f32_winograd_output_ukernel_4x4__avx2
#include "kernels/f32_winograd.inc"

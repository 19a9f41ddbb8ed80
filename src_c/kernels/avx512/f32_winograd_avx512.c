/* Winograd F(2x2,3x3) and F(4x4,3x3) tile transforms, avx512. */
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")
#include "kernels/avx512/avx512.h"
#define FC_VBYTES 64
#define FC_WINOGRAD_INPUT_UKERNEL_2X2 fc_f32_winograd_input_ukernel_2x2__avx512
#define FC_WINOGRAD_INPUT_UKERNEL_4X4 fc_f32_winograd_input_ukernel_4x4__avx512
#define FC_WINOGRAD_OUTPUT_UKERNEL_2X2 fc_f32_winograd_output_ukernel_2x2__avx512
#define FC_WINOGRAD_OUTPUT_UKERNEL_4X4 fc_f32_winograd_output_ukernel_4x4__avx512
#include "kernels/f32_winograd.inc"

/* 16-bit float conversion micro-kernels, avx2: float16 through F16C (the table requires
 * FC_CAP_F16C, which every AVX2 CPU has). */
#pragma GCC target("avx2,fma,f16c")
#include "kernels/avx2/avx2.h"
#define FC_VBYTES 32
#define FC_CONVERT_F16C 1
#define FC_F32_TO_BF16_UKERNEL fc_f32_to_bf16_ukernel__avx2
#define FC_BF16_TO_F32_UKERNEL fc_bf16_to_f32_ukernel__avx2
#define FC_F32_TO_F16_UKERNEL fc_f32_to_f16_ukernel__avx2
#define FC_F16_TO_F32_UKERNEL fc_f16_to_f32_ukernel__avx2
#include "kernels/f32_convert.inc"

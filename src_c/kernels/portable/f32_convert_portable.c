/* 16-bit float conversion micro-kernels, portable (integer code, bit-exact). */
#include "kernels/portable/portable.h"
#define FC_VBYTES 16
#define FC_F32_TO_BF16_UKERNEL fc_f32_to_bf16_ukernel__portable
#define FC_BF16_TO_F32_UKERNEL fc_bf16_to_f32_ukernel__portable
#define FC_F32_TO_F16_UKERNEL fc_f32_to_f16_ukernel__portable
#define FC_F16_TO_F32_UKERNEL fc_f16_to_f32_ukernel__portable
#include "kernels/f32_convert.inc"

/* SGEMM micro-kernel, portable: 4 rows x 8 columns of 16-byte GCC vectors (SSE2 on
 * x86-64, lowered to scalars elsewhere). */
#include "kernels/portable/portable.h"
#define FC_VBYTES 16
#define FC_GEMM_MR 4
#define FC_GEMM_NV 2
#define FC_GEMM_UKERNEL fc_f32_gemm_ukernel_4x8__portable
#define FC_GEMM_UKERNEL_EPI fc_f32_gemm_epi_ukernel_4x8__portable
#include "kernels/f32_gemm.inc"

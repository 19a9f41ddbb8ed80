/* SGEMM micro-kernel, AVX2+FMA: 6 rows x 16 columns (12 ymm accumulators). */
#pragma GCC target("avx2,fma")
#include <immintrin.h>

#include "kernels/avx2/avx2.h"
#define GV __m256
#define GV_LANES 8
#define GV_ZERO() _mm256_setzero_ps()
#define GV_LOAD(p) _mm256_loadu_ps(p)
#define GV_STORE(p, v) _mm256_storeu_ps((p), (v))
#define GV_BCAST(p) _mm256_broadcast_ss(p)
#define GV_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define GV_MUL(a, b) _mm256_mul_ps((a), (b))
#define GV_SET1(s) _mm256_set1_ps(s)
#define GV_ADD(a, b) _mm256_add_ps((a), (b))
/* max(0, v): maxps returns its second operand when one is NaN, so NaN stays NaN */
#define GV_RELU(v) _mm256_max_ps(_mm256_setzero_ps(), (v))
/* an empty asm on v: -ffp-contract=fast cannot fuse its product into the next add */
#define GV_NOFUSE(v) __asm__("" : "+x"(v))
#define FC_GEMM_MR 6
#define FC_GEMM_NV 2
#define FC_GEMM_UKERNEL fc_f32_gemm_ukernel_6x16__avx2
#define FC_GEMM_UKERNEL_EPI fc_f32_gemm_epi_ukernel_6x16__avx2
#include "kernels/f32_gemm.inc"

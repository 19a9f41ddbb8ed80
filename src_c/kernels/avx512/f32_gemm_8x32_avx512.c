/* SGEMM micro-kernel, AVX-512: 8 rows x 32 columns (16 zmm accumulators). */
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")
#include <immintrin.h>

#include "kernels/avx512/avx512.h"
#define GV __m512
#define GV_LANES 16
#define GV_ZERO() _mm512_setzero_ps()
#define GV_LOAD(p) _mm512_loadu_ps(p)
#define GV_STORE(p, v) _mm512_storeu_ps((p), (v))
#define GV_BCAST(p) _mm512_set1_ps(*(p))
#define GV_FMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define GV_MUL(a, b) _mm512_mul_ps((a), (b))
#define GV_SET1(s) _mm512_set1_ps(s)
#define GV_ADD(a, b) _mm512_add_ps((a), (b))
/* max(0, v): maxps returns its second operand when one is NaN, so NaN stays NaN */
#define GV_RELU(v) _mm512_max_ps(_mm512_setzero_ps(), (v))
/* an empty asm on v: -ffp-contract=fast cannot fuse its product into the next add */
#define GV_NOFUSE(v) __asm__("" : "+v"(v))
#define FC_GEMM_MR 8
#define FC_GEMM_NV 2
#define FC_GEMM_UKERNEL fc_f32_gemm_ukernel_8x32__avx512
#define FC_GEMM_UKERNEL_EPI fc_f32_gemm_epi_ukernel_8x32__avx512
#include "kernels/f32_gemm.inc"

/* Unpacked small-product (GEMV-like) kernels, avx512. */
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")
#include "kernels/avx512/avx512.h"
#define FC_VBYTES 64
#define FC_GEMV_DOT_UKERNEL fc_f32_gemv_dot_ukernel_4x2__avx512
#define FC_GEMV_AXPY_UKERNEL fc_f32_gemv_axpy_ukernel_4__avx512
#define FC_GEMV_BCAST_UKERNEL fc_f32_gemv_bcast_ukernel__avx512
#define FC_GEMV_TILE_UKERNEL fc_f32_gemv_tile_ukernel_12x2v__avx512
#define FC_GEMV_TILE_MR 12
#include "kernels/f32_gemv.inc"

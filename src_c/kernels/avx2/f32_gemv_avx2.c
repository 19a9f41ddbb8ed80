/* Unpacked small-product (GEMV-like) kernels, avx2. */
#pragma GCC target("avx2,fma")
#include "kernels/avx2/avx2.h"
#define FC_VBYTES 32
#define FC_GEMV_DOT_UKERNEL fc_f32_gemv_dot_ukernel_4x2__avx2
#define FC_GEMV_AXPY_UKERNEL fc_f32_gemv_axpy_ukernel_4__avx2
#define FC_GEMV_BCAST_UKERNEL fc_f32_gemv_bcast_ukernel__avx2
#define FC_GEMV_TILE_UKERNEL fc_f32_gemv_tile_ukernel_6x2v__avx2
#define FC_GEMV_TILE_MR 6
#include "kernels/f32_gemv.inc"

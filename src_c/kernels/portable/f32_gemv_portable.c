/* Unpacked small-product (GEMV-like) kernels, portable. */
#include "kernels/portable/portable.h"
#define FC_VBYTES 16
#define FC_GEMV_DOT_UKERNEL fc_f32_gemv_dot_ukernel_4x2__portable
#define FC_GEMV_AXPY_UKERNEL fc_f32_gemv_axpy_ukernel_4__portable
#define FC_GEMV_BCAST_UKERNEL fc_f32_gemv_bcast_ukernel__portable
#define FC_GEMV_TILE_UKERNEL fc_f32_gemv_tile_ukernel_6x2v__portable
#define FC_GEMV_TILE_MR 6
#include "kernels/f32_gemv.inc"

/* Unpacked small-product (GEMV-like) kernels, portable. */
#include "kernels/portable/portable.h"
#define FC_VBYTES 16
#define FC_GEMV_DOT_UKERNEL fc_f32_gemv_dot_ukernel_4x2__portable
#define FC_GEMV_AXPY_UKERNEL fc_f32_gemv_axpy_ukernel_4__portable
#include "kernels/f32_gemv.inc"

/* The im2col forward's in-place product (weights broadcast from their rows), portable. */
#include "kernels/portable/portable.h"
#define FC_VBYTES 16
#define FC_CONV_INPLACE_MR 6
#define FC_CONV_INPLACE_UKERNEL fc_f32_conv_inplace_ukernel_6x2v__portable
#include "kernels/f32_conv_inplace.inc"

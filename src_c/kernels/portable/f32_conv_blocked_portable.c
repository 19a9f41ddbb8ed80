/* Blocked-layout (NCHW8c) direct-convolution micro-kernel, portable: each 8-channel
 * vector is two 16-byte registers, so 2 blocks x 3 pixels of accumulators. */
#include "kernels/portable/portable.h"
#define FC_BLOCKED_NP 3
#define FC_CONV_BLOCKED_UKERNEL fc_f32_conv_blocked_ukernel_16x3__portable
#include "kernels/f32_conv_blocked.inc"

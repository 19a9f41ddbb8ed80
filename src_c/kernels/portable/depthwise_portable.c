/* Depthwise-convolution kernels for the portable path. */

#define FC_VBYTES 16
#define FC_DW_ROWS fc_depthwise_rows__portable
#define FC_DW_GRAD fc_depthwise_grad__portable
#include "conv/depthwise_kernels.inc"

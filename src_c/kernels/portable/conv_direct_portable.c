/* Direct-convolution kernels for the portable path. */

#define FC_VBYTES 16
#define FC_DIRECT_ROWS fc_conv_direct_rows__portable
#define FC_DIRECT_DW fc_conv_direct_dw__portable
#include "conv/direct_kernels.inc"

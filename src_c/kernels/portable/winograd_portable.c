/* Winograd tile transforms for the portable path. */

#define FC_VBYTES 16
#define FC_WG_F23_INPUT fc_winograd_f23_input__portable
#define FC_WG_F43_INPUT fc_winograd_f43_input__portable
#define FC_WG_F23_OUTPUT fc_winograd_f23_output__portable
#define FC_WG_F43_OUTPUT fc_winograd_f43_output__portable
#include "conv/winograd_kernels.inc"

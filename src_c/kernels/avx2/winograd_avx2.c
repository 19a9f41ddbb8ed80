/* Winograd tile transforms for the avx2 path. */
#pragma GCC target("avx2,fma")
#define FC_VBYTES 32
#define FC_WG_F23_INPUT fc_winograd_f23_input__avx2
#define FC_WG_F43_INPUT fc_winograd_f43_input__avx2
#define FC_WG_F23_OUTPUT fc_winograd_f23_output__avx2
#define FC_WG_F43_OUTPUT fc_winograd_f43_output__avx2
#include "conv/winograd_kernels.inc"

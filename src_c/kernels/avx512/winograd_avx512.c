/* Winograd tile transforms for the avx512 path. */
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")
#define FC_VBYTES 64
#define FC_WG_F23_INPUT fc_winograd_f23_input__avx512
#define FC_WG_F43_INPUT fc_winograd_f43_input__avx512
#define FC_WG_F23_OUTPUT fc_winograd_f23_output__avx512
#define FC_WG_F43_OUTPUT fc_winograd_f43_output__avx512
#include "conv/winograd_kernels.inc"

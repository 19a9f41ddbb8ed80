/* FMA-peak loop for the avx2 path (12 accumulators). */
#pragma GCC target("avx2,fma")
#define FC_VBYTES 32
#define FC_PEAK_ACC 12
#define FC_PEAK_FMA fc_peak_fma__avx2
#define FC_PEAK_LANES fc_peak_lanes__avx2
#include "core/peak_kernels.inc"

/* FMA-peak loop for the avx512 path (16 accumulators). */
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")
#define FC_VBYTES 64
#define FC_PEAK_ACC 16
#define FC_PEAK_FMA fc_peak_fma__avx512
#define FC_PEAK_LANES fc_peak_lanes__avx512
#include "core/peak_kernels.inc"

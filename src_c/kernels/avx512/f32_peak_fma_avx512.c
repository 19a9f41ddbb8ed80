/* FMA-peak loop (16 accumulators), avx512. */
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")
#include "kernels/avx512/avx512.h"
#define FC_VBYTES 64
#define FC_PEAK_ACC 16
#define FC_PEAK_FMA_UKERNEL fc_f32_peak_fma_ukernel_16x16__avx512
#define FC_PEAK_FMA_LANES fc_f32_peak_fma_lanes__avx512
#include "kernels/f32_peak_fma.inc"

/* FMA-peak loop (12 accumulators), avx2. */
#pragma GCC target("avx2,fma")
#include "kernels/avx2/avx2.h"
#define FC_VBYTES 32
#define FC_PEAK_ACC 12
#define FC_PEAK_FMA_UKERNEL fc_f32_peak_fma_ukernel_12x8__avx2
#define FC_PEAK_FMA_LANES fc_f32_peak_fma_lanes__avx2
#include "kernels/f32_peak_fma.inc"

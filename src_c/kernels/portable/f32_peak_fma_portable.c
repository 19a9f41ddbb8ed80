/* FMA-peak loop (12 accumulators), portable. */
#include "kernels/portable/portable.h"
#define FC_VBYTES 16
#define FC_PEAK_ACC 12
#define FC_PEAK_FMA_UKERNEL fc_f32_peak_fma_ukernel_12x4__portable
#define FC_PEAK_FMA_LANES fc_f32_peak_fma_lanes__portable
#include "kernels/f32_peak_fma.inc"

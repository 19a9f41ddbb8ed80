/* FMA-peak loop for the portable path (12 accumulators). */

#define FC_VBYTES 16
#define FC_PEAK_ACC 12
#define FC_PEAK_FMA fc_peak_fma__portable
#define FC_PEAK_LANES fc_peak_lanes__portable
#include "core/peak_kernels.inc"

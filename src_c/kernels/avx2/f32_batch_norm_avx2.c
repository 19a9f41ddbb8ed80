/* Batch normalization span kernels, avx2. */
#pragma GCC target("avx2,fma")
#include "kernels/avx2/avx2.h"
#define FC_VBYTES 32
#define FC_BATCH_NORM_STATS_UKERNEL fc_f32_batch_norm_stats_ukernel__avx2
#define FC_BATCH_NORM_APPLY_UKERNEL fc_f32_batch_norm_apply_ukernel__avx2
#define FC_BATCH_NORM_BWD_REDUCE_UKERNEL fc_f32_batch_norm_bwd_reduce_ukernel__avx2
#define FC_BATCH_NORM_BWD_APPLY_UKERNEL fc_f32_batch_norm_bwd_apply_ukernel__avx2
#include "kernels/f32_batch_norm.inc"

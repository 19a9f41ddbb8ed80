/* Batch normalization span kernels, avx512. */
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")
#include "kernels/avx512/avx512.h"
#define FC_VBYTES 64
#define FC_BATCH_NORM_STATS_UKERNEL fc_f32_batch_norm_stats_ukernel__avx512
#define FC_BATCH_NORM_APPLY_UKERNEL fc_f32_batch_norm_apply_ukernel__avx512
#define FC_BATCH_NORM_BWD_REDUCE_UKERNEL fc_f32_batch_norm_bwd_reduce_ukernel__avx512
#define FC_BATCH_NORM_BWD_APPLY_UKERNEL fc_f32_batch_norm_bwd_apply_ukernel__avx512
#include "kernels/f32_batch_norm.inc"

/* Batch normalization span kernels, portable. */
#include "kernels/portable/portable.h"
#define FC_VBYTES 16
#define FC_BATCH_NORM_STATS_UKERNEL fc_f32_batch_norm_stats_ukernel__portable
#define FC_BATCH_NORM_APPLY_UKERNEL fc_f32_batch_norm_apply_ukernel__portable
#define FC_BATCH_NORM_BWD_REDUCE_UKERNEL fc_f32_batch_norm_bwd_reduce_ukernel__portable
#define FC_BATCH_NORM_BWD_APPLY_UKERNEL fc_f32_batch_norm_bwd_apply_ukernel__portable
#include "kernels/f32_batch_norm.inc"

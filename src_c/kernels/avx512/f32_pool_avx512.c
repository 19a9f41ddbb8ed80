/* Pooling plane micro-kernels, avx512. */
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")
#include "kernels/avx512/avx512.h"
#define FC_VBYTES 64
#define FC_MAXPOOL_UKERNEL fc_f32_maxpool_ukernel__avx512
#define FC_ARGMAXPOOL_UKERNEL fc_f32_argmaxpool_ukernel__avx512
#define FC_AVGPOOL_UKERNEL fc_f32_avgpool_ukernel__avx512
#define FC_AVGPOOL_BWD_DATA_UKERNEL fc_f32_avgpool_bwd_data_ukernel__avx512
#define FC_GLOBAL_AVGPOOL_UKERNEL fc_f32_global_avgpool_ukernel__avx512
#define FC_GLOBAL_MAXPOOL_UKERNEL fc_f32_global_maxpool_ukernel__avx512
#define FC_REDUCE_MAX_UKERNEL fc_f32_reduce_max_ukernel__avx512
#include "kernels/f32_pool.inc"

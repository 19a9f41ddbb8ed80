/* Pooling kernels for the avx512 path. */
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")
#define FC_VBYTES 64
#define FC_POOL_KERNELS fc_pool_kernels__avx512
#include "pool/pool_kernels.inc"

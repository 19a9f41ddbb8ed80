/* Pooling kernels for the avx2 path. */
#pragma GCC target("avx2,fma")
#define FC_VBYTES 32
#define FC_POOL_KERNELS fc_pool_kernels__avx2
#include "pool/pool_kernels.inc"

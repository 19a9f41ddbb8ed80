/* Pooling kernels for the portable path. */
#define FC_VBYTES 16
#define FC_POOL_KERNELS fc_pool_kernels__portable
#include "pool/pool_kernels.inc"

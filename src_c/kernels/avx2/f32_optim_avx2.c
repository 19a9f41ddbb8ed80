/* Optimizer update micro-kernels (SGD, Adam/AdamW), avx2. */
#pragma GCC target("avx2,fma")
#include "kernels/avx2/avx2.h"
#define FC_VBYTES 32
#define FC_SGD_UKERNEL fc_f32_sgd_ukernel__avx2
#define FC_ADAM_UKERNEL fc_f32_adam_ukernel__avx2
#include "kernels/f32_optim.inc"

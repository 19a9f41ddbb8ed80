/* Optimizer update micro-kernels (SGD, Adam/AdamW), avx512. */
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")
#include "kernels/avx512/avx512.h"
#define FC_VBYTES 64
#define FC_SGD_UKERNEL fc_f32_sgd_ukernel__avx512
#define FC_ADAM_UKERNEL fc_f32_adam_ukernel__avx512
#include "kernels/f32_optim.inc"

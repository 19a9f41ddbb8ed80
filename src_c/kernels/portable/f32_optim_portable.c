/* Optimizer update micro-kernels (SGD, Adam/AdamW), portable. */
#include "kernels/portable/portable.h"
#define FC_VBYTES 16
#define FC_SGD_UKERNEL fc_f32_sgd_ukernel__portable
#define FC_ADAM_UKERNEL fc_f32_adam_ukernel__portable
#include "kernels/f32_optim.inc"

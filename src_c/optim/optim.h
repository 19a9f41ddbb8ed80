/* Optimizer updates: the multi-tensor loops (optim/optim.c) split the elements of all
 * parameters together into one contiguous range per thread; a kernel updates one
 * contiguous piece of one tensor (kernels/f32_optim.inc, one body for every ISA). */
#ifndef FC_OPTIM_H
#define FC_OPTIM_H

#include "../core/internal.h"

/* torch.optim.SGD on n elements:
 *   d = g + weight_decay * p
 *   momentum == 0: p -= lr * d (buf is not touched, may be NULL)
 *   first_step:    buf = d                       else buf = momentum * buf + damp1 * d
 *   nesterov:      p -= lr * (d + momentum * buf)  else p -= lr * buf
 * damp1 is 1 - dampening. Reads g; reads and writes p and buf. */
typedef struct fc_sgd_args {
    float *p;
    const float *g;
    float *buf;
    int64_t n;
    float lr, momentum, damp1, weight_decay;
    int nesterov, first_step;
} fc_sgd_args;

/* torch.optim.Adam / AdamW on n elements (the scalars precomputed in double by the
 * loop, then rounded to float as torch does):
 *   decoupled (AdamW): p *= decay (= 1 - lr * weight_decay); d = g
 *   else:              d = g + weight_decay * p
 *   m = lerp(m, d, 1 - beta1)            (torch's lerp: m + w * (d - m), w < 0.5)
 *   v = beta2 * v + (1 - beta2) * d * d
 *   amsgrad: vmax = max(vmax, v), and vmax replaces v below (vmax may be NULL otherwise)
 *   p += -step_size * m / (sqrt(v) / bc2_sqrt + eps)
 * Reads g; reads and writes p, m, v, vmax. */
typedef struct fc_adam_args {
    float *p;
    const float *g;
    float *m, *v, *vmax;
    int64_t n;
    float w1;           /* 1 - beta1 */
    float beta2, w2;    /* w2 = 1 - beta2 */
    float weight_decay; /* the L2 term (0 when decoupled) */
    float decay;        /* AdamW's 1 - lr * weight_decay (1 otherwise) */
    float neg_step_size, bc2_sqrt, eps;
    int decoupled, amsgrad;
} fc_adam_args;

typedef struct fc_optim_ukernels {
    void (*sgd)(const fc_sgd_args *a);
    void (*adam)(const fc_adam_args *a);
} fc_optim_ukernels;

#endif

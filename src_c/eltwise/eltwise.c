/* Elementwise entry points: argument checks, then blocks of FC_ELTWISE_BLOCK floats
 * over the call's threads, each block handed to the active table's kernel. Threads are
 * woken only when every one gets at least a minimum of work (memory-bound ops need
 * more elements per thread than transcendental ones to be worth a wake-up). */
#include <math.h>

#include "eltwise.h"
#include "core/registry.h"

/* Elements per thread below which a call does not wake another thread. */
#define MIN_PER_THREAD_MEMORY ((int64_t)1 << 15)    /* adds, ReLU, bias, dropout */
#define MIN_PER_THREAD_COMPUTE ((int64_t)1 << 12)   /* tanh, sigmoid, GELU */

typedef struct flat_call {
    const fc_eltwise_ukernels *k;
    fc_activation kind;
    float alpha, scale;
    uint32_t threshold;
    uint64_t key;
    const float *a, *b;
    float *y;
    uint8_t *mask;
    const uint8_t *cmask;
    int op;
} flat_call;

enum { OP_ACT_FWD, OP_ACT_BWD, OP_ADD, OP_ADD_RELU, OP_DROPOUT_FWD, OP_DROPOUT_BWD };

static void run_range(const flat_call *c, int64_t i0, int64_t i1) {
    int64_t n = i1 - i0;
    switch (c->op) {
    case OP_ACT_FWD: c->k->activation_forward(c->kind, c->alpha, n, c->a + i0, c->y + i0); break;
    case OP_ACT_BWD:
        c->k->activation_backward(c->kind, c->alpha, n, c->a + i0, c->b + i0, c->y + i0);
        break;
    case OP_ADD: c->k->add(n, c->a + i0, c->b + i0, c->y + i0); break;
    case OP_ADD_RELU: c->k->add_relu(n, c->a + i0, c->b + i0, c->y + i0); break;
    case OP_DROPOUT_FWD:  /* i0 is a multiple of FC_ELTWISE_BLOCK, hence of 64 */
        c->k->dropout_forward(i0, n, c->threshold, c->scale, c->key, c->a + i0, c->y + i0,
                              c->mask + i0 / 8);
        break;
    case OP_DROPOUT_BWD:
        c->k->dropout_backward(n, c->scale, c->cmask + i0 / 8, c->b + i0, c->y + i0);
        break;
    }
}

static int threads_for(int64_t work, int64_t min_per_thread) {
    int64_t nt = fc_min64(fc_threads(), work / min_per_thread);
    return nt < 1 ? 1 : (int)nt;
}

static void run_flat(const flat_call *c, int64_t n, int64_t min_per_thread) {
    int nt = threads_for(n, min_per_thread);
    int64_t nb = fc_ceil_div(n, FC_ELTWISE_BLOCK);
    if (nt == 1 || nb == 1) {
        run_range(c, 0, n);
        return;
    }
    #pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t b = 0; b < nb; b++)
        run_range(c, b * FC_ELTWISE_BLOCK, fc_min64(n, (b + 1) * FC_ELTWISE_BLOCK));
}

static int valid_kind(fc_activation kind) {
    switch (kind) {
    case FC_ACTIVATION_RELU: case FC_ACTIVATION_LEAKY_RELU: case FC_ACTIVATION_TANH:
    case FC_ACTIVATION_SIGMOID: case FC_ACTIVATION_GELU: case FC_ACTIVATION_GELU_TANH:
        return 1;
    }
    return 0;
}

static int64_t act_min(fc_activation kind) {
    return kind == FC_ACTIVATION_RELU || kind == FC_ACTIVATION_LEAKY_RELU
               ? MIN_PER_THREAD_MEMORY : MIN_PER_THREAD_COMPUTE;
}

fc_status fc_activation_forward(fc_activation kind, float alpha, int64_t n, const float *x,
                                float *y) {
    FC_CALL_SCOPE();
    if (!valid_kind(kind)) return FC_INVALID_ARGUMENT;
    if (n < 0) return FC_INVALID_SHAPE;
    if (n == 0) return FC_SUCCESS;
    if (!x || !y) return FC_INVALID_ARGUMENT;
    flat_call c = {.k = &fc_kernels_active()->eltwise, .op = OP_ACT_FWD, .kind = kind,
                   .alpha = alpha, .a = x, .y = y};
    run_flat(&c, n, act_min(kind));
    return FC_SUCCESS;
}

fc_status fc_activation_backward(fc_activation kind, float alpha, int64_t n,
                                 const float *x_or_y, const float *grad_y, float *grad_x) {
    FC_CALL_SCOPE();
    if (!valid_kind(kind)) return FC_INVALID_ARGUMENT;
    if (n < 0) return FC_INVALID_SHAPE;
    if (n == 0) return FC_SUCCESS;
    if (!x_or_y || !grad_y || !grad_x) return FC_INVALID_ARGUMENT;
    flat_call c = {.k = &fc_kernels_active()->eltwise, .op = OP_ACT_BWD, .kind = kind,
                   .alpha = alpha, .a = x_or_y, .b = grad_y, .y = grad_x};
    run_flat(&c, n, act_min(kind));
    return FC_SUCCESS;
}

static fc_status binary(int op, int64_t n, const float *a, const float *b, float *y) {
    if (n < 0) return FC_INVALID_SHAPE;
    if (n == 0) return FC_SUCCESS;
    if (!a || !b || !y) return FC_INVALID_ARGUMENT;
    flat_call c = {.k = &fc_kernels_active()->eltwise, .op = op, .a = a, .b = b, .y = y};
    run_flat(&c, n, MIN_PER_THREAD_MEMORY);
    return FC_SUCCESS;
}

fc_status fc_add(int64_t n, const float *a, const float *b, float *y) {
    FC_CALL_SCOPE();
    return binary(OP_ADD, n, a, b, y);
}

fc_status fc_add_relu(int64_t n, const float *a, const float *b, float *y) {
    FC_CALL_SCOPE();
    return binary(OP_ADD_RELU, n, a, b, y);
}

static fc_status check_nchw(int64_t N, int64_t C, int64_t HW, const void *p, const void *q) {
    if (N < 0 || C < 0 || HW < 0) return FC_INVALID_SHAPE;
    int64_t total;
    if (!fc_prod4(N, C, HW, 4, &total)) return FC_SIZE_OVERFLOW;
    if (C > 0 && (!p || (total > 0 && !q))) return FC_INVALID_ARGUMENT;
    return FC_SUCCESS;
}

fc_status fc_bias_add_nchw(int64_t N, int64_t C, int64_t HW, const float *bias, float *y) {
    FC_CALL_SCOPE();
    fc_status st = check_nchw(N, C, HW, bias, y);
    if (st != FC_SUCCESS || N * C * HW == 0) return st;
    const fc_eltwise_ukernels *k = &fc_kernels_active()->eltwise;
    int64_t planes = N * C;
    int nt = threads_for(planes * HW, MIN_PER_THREAD_MEMORY);
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t p = 0; p < planes; p++) k->bias_add(HW, bias[p % C], y + p * HW);
    return FC_SUCCESS;
}

fc_status fc_bias_grad_nchw(int64_t N, int64_t C, int64_t HW, const float *grad_y,
                            float *grad_bias) {
    FC_CALL_SCOPE();
    fc_status st = check_nchw(N, C, HW, grad_bias, grad_y);
    if (st != FC_SUCCESS || C == 0) return st;
    const fc_eltwise_ukernels *k = &fc_kernels_active()->eltwise;
    /* Channels over threads, each channel's N planes summed in order: the same bits
     * for every thread count. */
    int nt = (int)fc_min64(threads_for(N * C * HW, MIN_PER_THREAD_MEMORY), C);
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t c = 0; c < C; c++) {
        double s = 0.0;
        for (int64_t n = 0; n < N; n++) s += k->sum(HW, grad_y + (n * C + c) * HW);
        grad_bias[c] = (float)s;
    }
    return FC_SUCCESS;
}

/* The keep threshold (drop when the 24-bit hash is below it) and the kept scale. */
static fc_status dropout_params(double p, uint32_t *threshold, float *scale) {
    if (!(p >= 0.0 && p <= 1.0)) return FC_INVALID_ARGUMENT;  /* NaN included */
    *threshold = (uint32_t)llround(p * 16777216.0);
    *scale = p == 1.0 ? 0.0f : 1.0f / (float)(1.0 - p);
    return FC_SUCCESS;
}

fc_status fc_dropout_forward(int64_t n, double p, uint64_t seed, const float *x, float *y,
                             uint8_t *mask_bits) {
    FC_CALL_SCOPE();
    flat_call c = {.k = &fc_kernels_active()->eltwise, .op = OP_DROPOUT_FWD,
                   .key = fc_dropout_key(seed), .a = x, .y = y, .mask = mask_bits};
    fc_status st = dropout_params(p, &c.threshold, &c.scale);
    if (st != FC_SUCCESS) return st;
    if (n < 0) return FC_INVALID_SHAPE;
    if (n == 0) return FC_SUCCESS;
    if (!x || !y || !mask_bits) return FC_INVALID_ARGUMENT;
    run_flat(&c, n, MIN_PER_THREAD_MEMORY);
    return FC_SUCCESS;
}

fc_status fc_dropout_backward(int64_t n, double p, const uint8_t *mask_bits,
                              const float *grad_y, float *grad_x) {
    FC_CALL_SCOPE();
    flat_call c = {.k = &fc_kernels_active()->eltwise, .op = OP_DROPOUT_BWD,
                   .cmask = mask_bits, .b = grad_y, .y = grad_x};
    fc_status st = dropout_params(p, &c.threshold, &c.scale);
    if (st != FC_SUCCESS) return st;
    if (n < 0) return FC_INVALID_SHAPE;
    if (n == 0) return FC_SUCCESS;
    if (!mask_bits || !grad_y || !grad_x) return FC_INVALID_ARGUMENT;
    run_flat(&c, n, MIN_PER_THREAD_MEMORY);
    return FC_SUCCESS;
}

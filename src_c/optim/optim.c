/* Multi-tensor optimizer updates: one call updates every parameter. Parameters are
 * many small arrays (a ResNet-18 has 62, most under 1000 floats), so threads do not
 * take tensors: the elements of all tensors, end to end, are cut into one contiguous
 * range per thread, and each thread walks the tensors its range spans, handing each
 * piece to the active table's kernel (kernels/f32_optim.inc). */
#include <math.h>

#include "optim.h"
#include "core/registry.h"

/* Elements per thread below which a second thread costs more than it saves. */
#define FC_OPTIM_GRAIN 16384

/* Checks the tensor lists: every size >= 0, the total within int64, each pointer
 * of a non-empty tensor non-NULL (lists marked 0 in `need` may be NULL). */
static fc_status check_lists(int64_t count, const int64_t *sizes, const void *const *lists[],
                             const int *need, int nlists, int64_t *total) {
    if (count < 0) return FC_INVALID_SHAPE;
    *total = 0;
    if (count == 0) return FC_SUCCESS;
    if (!sizes) return FC_INVALID_ARGUMENT;
    for (int l = 0; l < nlists; l++)
        if (need[l] && !lists[l]) return FC_INVALID_ARGUMENT;
    for (int64_t i = 0; i < count; i++) {
        if (sizes[i] < 0) return FC_INVALID_SHAPE;
        if (__builtin_add_overflow(*total, sizes[i], total) || *total > INT64_MAX / 8)
            return FC_SIZE_OVERFLOW;
        if (sizes[i] == 0) continue;
        for (int l = 0; l < nlists; l++)
            if (need[l] && !lists[l][i]) return FC_INVALID_ARGUMENT;
    }
    return FC_SUCCESS;
}

/* Threads for `total` elements. */
static int threads_for(int64_t total) {
    int64_t t = fc_min64(fc_threads(), fc_ceil_div(total, FC_OPTIM_GRAIN));
    return t < 1 ? 1 : (int)t;
}

/* The calling OpenMP thread's share [lo, hi) of `total` elements, in multiples of 16
 * floats (a 64-byte line) so that threads never share a vector. */
static void my_range(int64_t total, int64_t *lo, int64_t *hi) {
    int t, nth;
    fc_team(&t, &nth);
    int64_t per = fc_ceil_div(fc_ceil_div(total, nth), 16) * 16;
    *lo = fc_min64(total, per * t);
    *hi = fc_min64(total, *lo + per);
}

/* Runs BODY (with i, off, n in scope) for each piece [off, off + n) of tensor i
 * inside the global range [lo, hi). */
#define FOR_PIECES(count, sizes, lo, hi, BODY)                                     \
    do {                                                                           \
        int64_t base_ = 0;                                                         \
        for (int64_t i = 0; i < (count) && base_ < (hi); base_ += (sizes)[i], i++) { \
            int64_t a_ = fc_max64(lo, base_), b_ = fc_min64(hi, base_ + (sizes)[i]); \
            if (b_ <= a_) continue;                                                \
            int64_t off = a_ - base_, n = b_ - a_;                                 \
            BODY                                                                   \
        }                                                                          \
    } while (0)

fc_status fc_sgd_update(int64_t count, float *const *params, const float *const *grads,
                        float *const *momentum_bufs, const int64_t *sizes, float lr,
                        float momentum, float dampening, float weight_decay, int nesterov,
                        int first_step) {
    FC_CALL_SCOPE();
    if (!isfinite(lr) || !isfinite(momentum) || !isfinite(dampening) ||
        !isfinite(weight_decay) || momentum < 0.0f)
        return FC_INVALID_ARGUMENT;
    if (nesterov && (momentum <= 0.0f || dampening != 0.0f)) return FC_INVALID_ARGUMENT;
    int mom = momentum != 0.0f;
    const void *const *lists[3] = {(const void *const *)params, (const void *const *)grads,
                                   (const void *const *)momentum_bufs};
    int need[3] = {1, 1, mom};
    int64_t total;
    fc_status st = check_lists(count, sizes, lists, need, 3, &total);
    if (st != FC_SUCCESS || total == 0) return st;
    fc_sgd_args proto = {.lr = lr, .momentum = momentum, .damp1 = 1.0f - dampening,
                         .weight_decay = weight_decay, .nesterov = nesterov != 0,
                         .first_step = first_step != 0};
    void (*kernel)(const fc_sgd_args *) = fc_kernels_active()->optim.sgd;
    int nt = threads_for(total);
    #pragma omp parallel num_threads(nt)
    {
        int64_t lo, hi;
        my_range(total, &lo, &hi);
        FOR_PIECES(count, sizes, lo, hi, {
            fc_sgd_args a = proto;
            a.p = params[i] + off;
            a.g = grads[i] + off;
            a.buf = mom ? momentum_bufs[i] + off : NULL;
            a.n = n;
            kernel(&a);
        });
    }
    return FC_SUCCESS;
}

fc_status fc_adam_update(int64_t count, float *const *params, const float *const *grads,
                         float *const *exp_avgs, float *const *exp_avg_sqs,
                         float *const *max_exp_avg_sqs, const int64_t *sizes, int64_t step,
                         float lr, float beta1, float beta2, float eps, float weight_decay,
                         int decoupled, int amsgrad) {
    FC_CALL_SCOPE();
    if (step < 1 || !isfinite(lr) || !isfinite(eps) || !isfinite(weight_decay) ||
        !(beta1 >= 0.0f && beta1 < 1.0f) || !(beta2 >= 0.0f && beta2 < 1.0f))
        return FC_INVALID_ARGUMENT;
    const void *const *lists[5] = {
        (const void *const *)params, (const void *const *)grads,
        (const void *const *)exp_avgs, (const void *const *)exp_avg_sqs,
        (const void *const *)max_exp_avg_sqs};
    int need[5] = {1, 1, 1, 1, amsgrad != 0};
    int64_t total;
    fc_status st = check_lists(count, sizes, lists, need, 5, &total);
    if (st != FC_SUCCESS || total == 0) return st;
    /* The scalars as torch's _single_tensor_adam forms them: in double (Python floats),
     * rounded to float where they meet a float32 tensor. */
    double b1 = beta1, b2 = beta2, lrd = lr;
    double bc1 = 1.0 - pow(b1, (double)step), bc2 = 1.0 - pow(b2, (double)step);
    fc_adam_args proto = {
        .w1 = (float)(1.0 - b1), .beta2 = beta2, .w2 = (float)(1.0 - b2),
        .weight_decay = decoupled ? 0.0f : weight_decay,
        .decay = decoupled ? (float)(1.0 - lrd * (double)weight_decay) : 1.0f,
        .neg_step_size = (float)(-(lrd / bc1)), .bc2_sqrt = (float)sqrt(bc2), .eps = eps,
        .decoupled = decoupled != 0, .amsgrad = amsgrad != 0};
    void (*kernel)(const fc_adam_args *) = fc_kernels_active()->optim.adam;
    int nt = threads_for(total);
    #pragma omp parallel num_threads(nt)
    {
        int64_t lo, hi;
        my_range(total, &lo, &hi);
        FOR_PIECES(count, sizes, lo, hi, {
            fc_adam_args a = proto;
            a.p = params[i] + off;
            a.g = grads[i] + off;
            a.m = exp_avgs[i] + off;
            a.v = exp_avg_sqs[i] + off;
            a.vmax = amsgrad ? max_exp_avg_sqs[i] + off : NULL;
            a.n = n;
            kernel(&a);
        });
    }
    return FC_SUCCESS;
}

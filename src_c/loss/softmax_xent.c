/* Fused softmax cross-entropy over logits z[N][K] and int64 labels, forward and
 * backward. Rows are independent and short (K classes): one row per iteration, rows
 * split across threads: per row the max and the sum of exp(z - max) (the ISA's vector
 * kernels through the registry), and loss = log(sum) - (z[label] - max) in double. Labels
 * are checked, all of them, before anything is written. */
#include <math.h>

#include "core/registry.h"

/* Rows per thread below which a second thread costs more than it saves (rows * K). */
#define FC_XENT_GRAIN 32768

static fc_status check(int64_t N, int64_t K, const void *z, const int64_t *labels,
                       fc_reduction reduction) {
    if (reduction != FC_REDUCTION_NONE && reduction != FC_REDUCTION_MEAN &&
        reduction != FC_REDUCTION_SUM)
        return FC_INVALID_ARGUMENT;
    int64_t nk;
    if (N < 0 || K < 1) return FC_INVALID_SHAPE;
    if (!fc_mul_ok(N, K, &nk) || !fc_mul_ok(nk, 8, &nk)) return FC_SIZE_OVERFLOW;
    if (N > 0 && (!z || !labels)) return FC_INVALID_ARGUMENT;
    for (int64_t i = 0; i < N; i++)
        if (labels[i] < 0 || labels[i] >= K) return FC_INVALID_ARGUMENT;
    return FC_SUCCESS;
}

static inline int threads_for(int64_t N, int64_t K) { /* used by the omp pragmas only */
    int64_t t = fc_min64(fc_threads(), fc_ceil_div(N * K, FC_XENT_GRAIN));
    return (int)fc_max64(1, fc_min64(t, N));
}

/* The row's max; NaN if any element is NaN. */
static float row_max(const float *z, int64_t K) { return fc_kernels_active()->pool.max(z, K); }

/* Sum of exp(z - mx) in double; e (unless NULL) gets each float term (the ISA's
 * vector exp: kernels/f32_softmax_xent.inc). */
static double sum_exp(const float *z, int64_t K, float mx, float *e) {
    return fc_kernels_active()->xent.exp_sum(K, z, mx, e);
}

/* Row i: returns -log softmax(z)[label] in double; p (unless NULL) gets softmax(z). */
static double row(const float *z, int64_t K, int64_t label, float *p) {
    float mx = row_max(z, K);
    double s = sum_exp(z, K, mx, p);
    if (p) {
        float inv = (float)(1.0 / s);
        for (int64_t k = 0; k < K; k++) p[k] *= inv;
    }
    return log(s) - ((double)z[label] - mx);
}

fc_status fc_softmax_cross_entropy_forward(int64_t N, int64_t K, const float *logits,
                                           const int64_t *labels, fc_reduction reduction,
                                           float *loss, float *probs) {
    FC_CALL_SCOPE();
    fc_status st = check(N, K, logits, labels, reduction);
    if (st != FC_SUCCESS) return st;
    if (!loss) return FC_INVALID_ARGUMENT;
    if (reduction == FC_REDUCTION_NONE) {
        #pragma omp parallel for num_threads(threads_for(N, K)) schedule(static)
        for (int64_t i = 0; i < N; i++)
            loss[i] = (float)row(logits + i * K, K, labels[i], probs ? probs + i * K : NULL);
        return FC_SUCCESS;
    }
    double total = 0.0;
    #pragma omp parallel for num_threads(threads_for(N, K)) schedule(static) reduction(+ : total)
    for (int64_t i = 0; i < N; i++)
        total += row(logits + i * K, K, labels[i], probs ? probs + i * K : NULL);
    if (reduction == FC_REDUCTION_MEAN) total = N > 0 ? total / (double)N : NAN;
    *loss = (float)total;
    return FC_SUCCESS;
}

fc_status fc_softmax_cross_entropy_backward(int64_t N, int64_t K, const float *logits,
                                            const float *probs, const int64_t *labels,
                                            fc_reduction reduction, const float *grad_loss,
                                            float *grad_logits) {
    FC_CALL_SCOPE();
    fc_status st = check(N, K, probs ? (const void *)probs : (const void *)logits, labels,
                         reduction);
    if (st != FC_SUCCESS) return st;
    if (N == 0) return FC_SUCCESS;
    if (!grad_loss || !grad_logits) return FC_INVALID_ARGUMENT;
    double scale = reduction == FC_REDUCTION_MEAN ? (double)grad_loss[0] / (double)N
                                                  : (double)grad_loss[0];
    #pragma omp parallel for num_threads(threads_for(N, K)) schedule(static)
    for (int64_t i = 0; i < N; i++) {
        float g = (float)(reduction == FC_REDUCTION_NONE ? (double)grad_loss[i] : scale);
        float *o = grad_logits + i * K;
        int64_t t = labels[i];
        if (probs) {               /* (p - onehot) * g; o may be p (in place) */
            const float *p = probs + i * K;
            float pt = p[t];
            for (int64_t k = 0; k < K; k++) o[k] = p[k] * g;
            o[t] = (pt - 1.0f) * g;
        } else {
            const float *z = logits + i * K;
            float mx = row_max(z, K);
            float inv = (float)(1.0 / sum_exp(z, K, mx, o));
            float pt = o[t] * inv;
            for (int64_t k = 0; k < K; k++) o[k] = o[k] * inv * g;
            o[t] = (pt - 1.0f) * g;
        }
    }
    return FC_SUCCESS;
}

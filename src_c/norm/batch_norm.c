/* Batch normalization entry points: argument checks, the per-channel arithmetic (in
 * double: C values), and OpenMP over spans of the N*C planes, each span handed to the
 * active ISA's kernels (norm/batch_norm.h).
 *
 * Work is cut into spans that depend on the shape only (a plane, or pieces of at most
 * FC_BN_SPAN floats of a large one), their partial sums kept per span and added per
 * channel in a fixed order: results do not depend on the thread count. Statistics take
 * one pass over x (shifted sums, the shift a sample of the channel), the output a
 * second; backward one pass of reductions and one of grad_x. */
#include <math.h>
#include <string.h>

#include "batch_norm.h"
#include "core/registry.h"

/* Planes longer than this are split so that few large planes still fill the threads. */
#define FC_BN_SPAN 8192

/* A call's geometry: N*C planes of HW floats, each cut into J spans of L floats (the
 * last shorter). */
typedef struct bn_plan {
    int64_t N, C, HW, J, L, m;
} bn_plan;

static fc_status plan(const fc_batch_norm2d_desc *d, bn_plan *p) {
    if (!d) return FC_INVALID_ARGUMENT;
    if (d->N < 1 || d->C < 1 || d->H < 1 || d->W < 1) return FC_INVALID_SHAPE;
    if (!(d->eps >= 0.0) || !isfinite(d->eps) || !isfinite(d->momentum))
        return FC_INVALID_ARGUMENT;
    int64_t t;
    if (!fc_prod4(d->N, d->C, d->H, d->W, &t) || !fc_mul_ok(t, 8, &t)) return FC_SIZE_OVERFLOW;
    p->N = d->N;
    p->C = d->C;
    p->HW = d->H * d->W;
    p->m = d->N * p->HW;
    p->J = fc_ceil_div(p->HW, FC_BN_SPAN);
    p->L = fc_ceil_div(fc_ceil_div(p->HW, p->J), 16) * 16;
    return FC_SUCCESS;
}

/* Span s (plane-major: s = plane * J + j) as plane offset, length and channel. */
static inline int64_t span(const bn_plan *p, int64_t s, int64_t *len, int64_t *c) {
    int64_t plane = s / p->J, j = s % p->J;
    int64_t at = j * p->L;
    *len = fc_min64(p->HW - at, p->L);
    *c = plane % p->C;
    return plane * p->HW + at;
}

/* Where span s keeps its partial sums: channel-major, so a channel's are contiguous
 * and added in (n, j) order. */
static inline double *slot(const bn_plan *p, double *part, int64_t s) {
    int64_t plane = s / p->J, n = plane / p->C, c = plane % p->C;
    return part + 2 * ((c * p->N + n) * p->J + s % p->J);
}

/* Opens the call's workspace: 2 doubles per span and `floats` per channel. */
static fc_status open_ws(const bn_plan *p, int64_t floats, fc_arena *ws, double **part,
                         float **chan) {
    int64_t spans;
    size_t need = 0;
    if (!fc_prod4(p->N, p->C, p->J, 2, &spans) || !fc_ws_add(&need, spans, sizeof(double)) ||
        !fc_ws_add(&need, floats * p->C, sizeof(float)))
        return FC_SIZE_OVERFLOW;
    fc_status st = fc_workspace_open(NULL, 0, need, ws);
    if (st != FC_SUCCESS) return st;
    *part = fc_arena_alloc(ws, (size_t)spans * sizeof(double));
    *chan = fc_arena_alloc(ws, (size_t)(floats * p->C) * sizeof(float));
    return *part && *chan ? FC_SUCCESS : FC_INVALID_WORKSPACE;
}

static void sum_channel(const bn_plan *p, const double *part, int64_t c, double *s0, double *s1) {
    const double *q = part + 2 * c * p->N * p->J;
    double a = 0.0, b = 0.0;
    for (int64_t i = 0; i < p->N * p->J; i++) {
        a += q[2 * i];
        b += q[2 * i + 1];
    }
    *s0 = a;
    *s1 = b;
}

fc_status fc_batch_norm2d_forward_training(const fc_batch_norm2d_desc *d, const float *x,
                                           const float *gamma, const float *beta,
                                           float *running_mean, float *running_var, float *y,
                                           float *save_mean, float *save_invstd) {
    FC_CALL_SCOPE();
    if (!x || !y || (!running_mean != !running_var)) return FC_INVALID_ARGUMENT;
    bn_plan p;
    fc_status st = plan(d, &p);
    if (st != FC_SUCCESS) return st;
    if (p.m < 2) return FC_INVALID_SHAPE;   /* torch: more than one value per channel */
    FC_ARENA(ws);
    double *part;
    float *chan;
    st = open_ws(&p, 4, &ws, &part, &chan);
    if (st != FC_SUCCESS) return st;
    float *scale = chan, *shift = chan + p.C, *mhi = chan + 2 * p.C, *mlo = chan + 3 * p.C;
    const fc_batch_norm_ukernels *k = &fc_kernels_active()->batch_norm;
    int64_t spans = p.N * p.C * p.J, C = p.C, HW = p.HW;
    double m = (double)p.m, mom = d->momentum, eps = d->eps;
    int relu = d->relu != 0;
    #pragma omp parallel num_threads(fc_threads())
    {
        #pragma omp for schedule(static)
        for (int64_t s = 0; s < spans; s++) {
            int64_t len, c;
            int64_t at = span(&p, s, &len, &c);
            k->stats(x + at, len, x[c * HW], slot(&p, part, s));
        }
        #pragma omp for schedule(static)
        for (int64_t c = 0; c < C; c++) {
            double s0, s1;
            sum_channel(&p, part, c, &s0, &s1);
            double ms = s0 / m, var = s1 / m - ms * ms;
            if (var < 0.0) var = 0.0;
            double mean = (double)x[c * HW] + ms, invstd = 1.0 / sqrt(var + eps);
            double g = gamma ? gamma[c] : 1.0, b = beta ? beta[c] : 0.0;
            scale[c] = (float)(g * invstd);
            shift[c] = (float)b;
            mhi[c] = (float)mean;
            mlo[c] = (float)(mean - (double)mhi[c]);
            if (save_mean) save_mean[c] = (float)mean;
            if (save_invstd) save_invstd[c] = (float)invstd;
            if (running_mean) {
                running_mean[c] = (float)((1.0 - mom) * running_mean[c] + mom * mean);
                running_var[c] = (float)((1.0 - mom) * running_var[c] + mom * var * m / (m - 1.0));
            }
        }
        #pragma omp for schedule(static)
        for (int64_t s = 0; s < spans; s++) {
            int64_t len, c;
            int64_t at = span(&p, s, &len, &c);
            k->apply(x + at, len, mhi[c], mlo[c], scale[c], shift[c], relu, y + at);
        }
    }
    return FC_SUCCESS;
}

fc_status fc_batch_norm2d_forward_inference(const fc_batch_norm2d_desc *d, const float *x,
                                            const float *gamma, const float *beta,
                                            const float *running_mean,
                                            const float *running_var, float *y) {
    FC_CALL_SCOPE();
    if (!x || !y || !running_mean || !running_var) return FC_INVALID_ARGUMENT;
    bn_plan p;
    fc_status st = plan(d, &p);
    if (st != FC_SUCCESS) return st;
    FC_ARENA(ws);
    double *part;
    float *chan;
    st = open_ws(&p, 2, &ws, &part, &chan);
    if (st != FC_SUCCESS) return st;
    float *scale = chan, *shift = chan + p.C;
    for (int64_t c = 0; c < p.C; c++) {
        double g = gamma ? gamma[c] : 1.0;
        scale[c] = (float)(g / sqrt((double)running_var[c] + d->eps));
        shift[c] = beta ? beta[c] : 0.0f;
    }
    const fc_batch_norm_ukernels *k = &fc_kernels_active()->batch_norm;
    int64_t spans = p.N * p.C * p.J;
    int relu = d->relu != 0;
    #pragma omp parallel for num_threads(fc_threads()) schedule(static)
    for (int64_t s = 0; s < spans; s++) {
        int64_t len, c;
        int64_t at = span(&p, s, &len, &c);
        k->apply(x + at, len, running_mean[c], 0.0f, scale[c], shift[c], relu, y + at);
    }
    return FC_SUCCESS;
}

fc_status fc_batch_norm2d_backward(const fc_batch_norm2d_desc *d, const float *grad_y,
                                   const float *x, const float *y, const float *gamma,
                                   const float *save_mean, const float *save_invstd,
                                   float *grad_x, float *grad_gamma, float *grad_beta) {
    FC_CALL_SCOPE();
    if (!grad_y || !x || !save_mean || !save_invstd || !grad_x) return FC_INVALID_ARGUMENT;
    bn_plan p;
    fc_status st = plan(d, &p);
    if (st != FC_SUCCESS) return st;
    if (d->relu && !y) return FC_INVALID_ARGUMENT;
    const float *mask = d->relu ? y : NULL;
    FC_ARENA(ws);
    double *part;
    float *chan;
    st = open_ws(&p, 3, &ws, &part, &chan);
    if (st != FC_SUCCESS) return st;
    float *kc = chan, *cxc = chan + p.C, *dc = chan + 2 * p.C;
    const fc_batch_norm_ukernels *k = &fc_kernels_active()->batch_norm;
    int64_t spans = p.N * p.C * p.J, C = p.C;
    double m = (double)p.m;
    #pragma omp parallel num_threads(fc_threads())
    {
        #pragma omp for schedule(static)
        for (int64_t s = 0; s < spans; s++) {
            int64_t len, c;
            int64_t at = span(&p, s, &len, &c);
            k->bwd_reduce(grad_y + at, x + at, mask ? mask + at : NULL, len, save_mean[c],
                          slot(&p, part, s));
        }
        #pragma omp for schedule(static)
        for (int64_t c = 0; c < C; c++) {
            double sum_g, dot;
            sum_channel(&p, part, c, &sum_g, &dot);
            double invstd = save_invstd[c], g = gamma ? gamma[c] : 1.0;
            if (grad_gamma) grad_gamma[c] = (float)(dot * invstd);
            if (grad_beta) grad_beta[c] = (float)sum_g;
            /* grad_x = g * invstd * (gy - sum_g / m - (x - mean) * invstd^2 * dot / m) */
            double kk = g * invstd;
            kc[c] = (float)kk;
            cxc[c] = (float)(-kk * invstd * invstd * dot / m);
            dc[c] = (float)(-kk * sum_g / m);
        }
        #pragma omp for schedule(static)
        for (int64_t s = 0; s < spans; s++) {
            int64_t len, c;
            int64_t at = span(&p, s, &len, &c);
            k->bwd_apply(grad_y + at, x + at, mask ? mask + at : NULL, len, save_mean[c],
                         kc[c], cxc[c], dc[c], grad_x + at);
        }
    }
    return FC_SUCCESS;
}

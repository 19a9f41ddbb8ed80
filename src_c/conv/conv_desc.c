/* Descriptor checks and shape math shared by every convolution algorithm. */
#include "conv_desc.h"

int64_t fc_conv_out_size(int64_t in, int64_t pad0, int64_t pad1, int64_t k, int64_t dil,
                         int64_t stride) {
    int64_t padded, eff;
    if (__builtin_add_overflow(in, pad0, &padded) || __builtin_add_overflow(padded, pad1, &padded))
        return -1;
    if (__builtin_mul_overflow(dil, k - 1, &eff) || eff >= INT64_MAX - 1) return -1;
    eff += 1;
    if (eff > padded) return -1;
    return (padded - eff) / stride + 1;
}

fc_status fc_conv2d_check(const fc_conv2d_desc *d, int64_t *OH, int64_t *OW) {
    if (!d) return FC_INVALID_ARGUMENT;
    if (d->N < 1 || d->C < 1 || d->H < 1 || d->W < 1 || d->K < 1 || d->R < 1 || d->S < 1)
        return FC_INVALID_SHAPE;
    if (d->stride_h < 1 || d->stride_w < 1) return FC_INVALID_STRIDE;
    if (d->dilation_h < 1 || d->dilation_w < 1) return FC_INVALID_DILATION;
    if (d->pad_top < 0 || d->pad_bottom < 0 || d->pad_left < 0 || d->pad_right < 0)
        return FC_INVALID_PADDING;
    if (d->groups < 1 || d->C % d->groups || d->K % d->groups) return FC_INVALID_GROUPS;
    int64_t oh = fc_conv_out_size(d->H, d->pad_top, d->pad_bottom, d->R, d->dilation_h, d->stride_h);
    int64_t ow = fc_conv_out_size(d->W, d->pad_left, d->pad_right, d->S, d->dilation_w, d->stride_w);
    if (oh < 0 || ow < 0) return FC_INVALID_SHAPE;
    /* Every tensor's element count, and its byte size, must fit in 64 bits. */
    int64_t t;
    int64_t lim = INT64_MAX / 8;
    if (!fc_prod4(d->N, d->C, d->H, d->W, &t) || t > lim) return FC_SIZE_OVERFLOW;
    if (!fc_prod4(d->K, d->C / d->groups, d->R, d->S, &t) || t > lim) return FC_SIZE_OVERFLOW;
    if (!fc_prod4(d->N, d->K, oh, ow, &t) || t > lim) return FC_SIZE_OVERFLOW;
    /* Padded planes (the direct and im2col workspaces). */
    int64_t hp, wp;
    if (__builtin_add_overflow(d->H, d->pad_top, &hp) || __builtin_add_overflow(hp, d->pad_bottom, &hp) ||
        __builtin_add_overflow(d->W, d->pad_left, &wp) || __builtin_add_overflow(wp, d->pad_right, &wp) ||
        __builtin_add_overflow(wp, d->stride_w, &wp) || !fc_prod4(d->N, d->C, hp, wp, &t) || t > lim)
        return FC_SIZE_OVERFLOW;
    if (OH) *OH = oh;
    if (OW) *OW = ow;
    return FC_SUCCESS;
}

void fc_conv2d_out_shape(const fc_conv2d_desc *d, int64_t *OH, int64_t *OW) {
    *OH = (d->H + d->pad_top + d->pad_bottom - d->dilation_h * (d->R - 1) - 1) / d->stride_h + 1;
    *OW = (d->W + d->pad_left + d->pad_right - d->dilation_w * (d->S - 1) - 1) / d->stride_w + 1;
}

/* The sum of a plane in FC_BIAS_LANES independent partial sums: one float chain ran a
 * dependent add per element (ResNet's conv1 at batch 1, 112x112 planes: 9.5% of its
 * backward-weights); these vectorize without reassociating anything. */
#define FC_BIAS_LANES 64

static double plane_sum(const float *p, int64_t n) {
    float acc[FC_BIAS_LANES] = {0};
    int64_t i = 0;
    for (; i + FC_BIAS_LANES <= n; i += FC_BIAS_LANES)
        for (int j = 0; j < FC_BIAS_LANES; j++) acc[j] += p[i + j];
    double s = 0.0;
    for (int j = 0; j < FC_BIAS_LANES; j++) s += acc[j];
    for (; i < n; i++) s += p[i];
    return s;
}

void fc_conv2d_bias_grad_add(const float *gy, int64_t rows, int64_t cols, int64_t ld,
                             double *acc) {
    for (int64_t k = 0; k < rows; k++) acc[k] += plane_sum(gy + k * ld, cols);
}

void fc_conv2d_bias_grad(int64_t N, int64_t K, int64_t plane, const float *gy, float *gb) {
    #pragma omp parallel for num_threads(fc_threads()) schedule(static)
    for (int64_t k = 0; k < K; k++) {
        double s = 0.0;
        for (int64_t n = 0; n < N; n++) s += plane_sum(gy + (n * K + k) * plane, plane);
        gb[k] = (float)s;
    }
}

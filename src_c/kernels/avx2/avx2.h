/* The avx2 micro-kernels: AVX2 + FMA. Every file of this folder
 * compiles with its own `#pragma GCC target`; core/registry.c puts these in the
 * avx2 table. Names: fc_<type>_<op>_ukernel_<tile>__<isa> (see fastconv.h). */
#ifndef FC_KERNELS_AVX2_H
#define FC_KERNELS_AVX2_H

#include "core/registry.h"

void fc_f32_gemm_ukernel_6x16__avx2(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
     float alpha, float beta);
void fc_f32_gemm_epi_ukernel_6x16__avx2(int64_t kc, const float *a, const float *b, float *c,
     int64_t ldc, float alpha, float beta, const fc_gemm_epi *e, int64_t i0, int64_t j0);
void fc_f32_gemm_pack_transposed_ukernel_8x8__avx2(const float *src, int64_t ld, int64_t kc,
                                                   int64_t w, float *dst);

void fc_f32_conv_direct_ukernel_8x16__avx2(const fc_direct_rows *a, int64_t oh0, int64_t oh1);
void fc_f32_conv_direct_bwd_weights_ukernel_4x3__avx2(const fc_direct_bwd_weights *a);
void fc_f32_conv_smallc_ukernel_4x24__avx2(const fc_smallc_rows *a, int64_t oh0, int64_t oh1);
void fc_f32_conv_inplace_ukernel_6x2v__avx2(int64_t kc, int64_t m, int64_t nv, const float *a,
     int64_t lda, const float *b, int64_t ldb, float *c, int64_t ldc, int accumulate);

void fc_f32_depthwise_ukernel_2x16__avx2(const fc_depthwise_rows *a);
void fc_f32_depthwise_bwd_weights_ukernel_16x8__avx2(const fc_depthwise_bwd_weights *a);
void fc_f32_depthwise_lanes_ukernel_8__avx2(const fc_depthwise_lanes *a);
void fc_f32_depthwise_lanes_bww_ukernel_8__avx2(const fc_depthwise_lanes_bww *a);

void fc_f32_winograd_input_ukernel_2x2__avx2(const fc_winograd_input *a);
void fc_f32_winograd_input_ukernel_4x4__avx2(const fc_winograd_input *a);
int fc_f32_winograd_output_ukernel_2x2__avx2(const fc_winograd_output *a);
int fc_f32_winograd_output_ukernel_4x4__avx2(const fc_winograd_output *a);

void fc_f32_maxpool_ukernel__avx2(const fc_pool_geom *g, const float *x, float *y, float *buf);
void fc_f32_argmaxpool_ukernel__avx2(const fc_pool_geom *g, const float *x, float *y, int64_t *idx,
     const float *gy, float *gx, float *buf);
void fc_f32_avgpool_ukernel__avx2(const fc_pool_geom *g, const float *x, float *y, float *buf);
void fc_f32_avgpool_bwd_data_ukernel__avx2(const fc_pool_geom *g, const float *gy, float *gx, float *buf);
void fc_f32_global_avgpool_ukernel__avx2(const float *x, int64_t n, int64_t np, float div, float *y);
void fc_f32_global_maxpool_ukernel__avx2(const float *x, int64_t n, int64_t np, float *y);
float fc_f32_reduce_max_ukernel__avx2(const float *x, int64_t n);

double fc_f32_peak_fma_ukernel_12x8__avx2(int64_t iters, float seed);
extern const int fc_f32_peak_fma_lanes__avx2;


void fc_f32_batch_norm_stats_ukernel__avx2(const float *x, int64_t n, float shift, double out[2]);
void fc_f32_batch_norm_apply_ukernel__avx2(const float *x, int64_t n, float mean, float mean_lo,
     float scale, float shift, int relu, float *y);
void fc_f32_batch_norm_bwd_reduce_ukernel__avx2(const float *gy, const float *x, const float *y,
     int64_t n, float mean, double out[2]);
void fc_f32_batch_norm_bwd_apply_ukernel__avx2(const float *gy, const float *x, const float *y,
     int64_t n, float mean, float k, float cx, float d, float *gx);
void fc_f32_sgd_ukernel__avx2(const fc_sgd_args *a);
void fc_f32_adam_ukernel__avx2(const fc_adam_args *a);
void fc_f32_activation_forward_ukernel__avx2(fc_activation kind, float alpha, int64_t n,
     const float *x, float *y);
void fc_f32_activation_backward_ukernel__avx2(fc_activation kind, float alpha, int64_t n,
     const float *x_or_y, const float *gy, float *gx);
void fc_f32_add_ukernel__avx2(int64_t n, const float *a, const float *b, float *y);
void fc_f32_add_relu_ukernel__avx2(int64_t n, const float *a, const float *b, float *y);
void fc_f32_bias_add_ukernel__avx2(int64_t n, float b, float *y);
double fc_f32_sum_ukernel__avx2(int64_t n, const float *x);
void fc_f32_dropout_forward_ukernel__avx2(int64_t i0, int64_t n, uint32_t threshold, float scale,
     uint64_t key, const float *x, float *y, uint8_t *mask);
void fc_f32_dropout_backward_ukernel__avx2(int64_t n, float scale, const uint8_t *mask,
     const float *gy, float *gx);

void fc_f32_gemv_dot_ukernel_4x2__avx2(int64_t K, int64_t m, int64_t n, const float *a, int64_t lda,
     const float *b, int64_t ldb, float *c, int64_t ldc, float alpha, float beta);
void fc_f32_gemv_axpy_ukernel_4__avx2(int64_t n, int64_t k, float alpha, const float *a, int64_t as,
     const float *b, int64_t ldb, float *c, int accumulate);
void fc_f32_gemv_bcast_ukernel__avx2(int64_t kc, int64_t m, int64_t n, const float *ap, int64_t mp,
     const float *b, int64_t ldb, float *c, int64_t ldc, float alpha, float beta);
void fc_f32_gemv_tile_ukernel_6x2v__avx2(int64_t k, int64_t m, int64_t n, const float *a, int64_t ai,
     int64_t ap, const float *b, int64_t ldb, float *c, int64_t ldc, float alpha, float beta);

double fc_f32_xent_exp_sum_ukernel__avx2(int64_t n, const float *z, float shift, float *e);
void fc_f32_to_bf16_ukernel__avx2(int64_t n, const float *x, uint16_t *y);
void fc_bf16_to_f32_ukernel__avx2(int64_t n, const uint16_t *x, float *y);
void fc_f32_to_f16_ukernel__avx2(int64_t n, const float *x, uint16_t *y);
void fc_f16_to_f32_ukernel__avx2(int64_t n, const uint16_t *x, float *y);

void fc_f32_conv_blocked_ukernel_16x6__avx2(const fc_blocked_args *a, int64_t kb, int64_t nkb, int64_t q0,
        int64_t np);
void fc_f32_conv_blocked_wg_input_ukernel__avx2(const fc_blocked_wg_in *a);
void fc_f32_conv_blocked_wg_output_ukernel__avx2(const fc_blocked_wg_out *a);
void fc_f32_conv_blocked_wg_filter_ukernel__avx2(const fc_blocked_wg_filt *a);
void fc_f32_conv_blocked_wg_grad_ukernel__avx2(const fc_blocked_wg_in *a);

#endif

/* Depthwise convolution: the loops (conv/depthwise.c) and the per-ISA kernels they
 * call (kernels/<isa>/depthwise_<isa>.c, one body in conv/depthwise_kernels.inc). */
#ifndef FC_CONV_DEPTHWISE_H
#define FC_CONV_DEPTHWISE_H

#include "../core/internal.h"

/* Floats a kernel may read past the end of a packed plane (whole-vector loads). */
#define FC_DW_SLACK 256

/* One output plane from nq packed input planes (summed), each plane in "phase
 * layout": a padded row of `row` floats holds `sw` phases of `phase` floats, so
 * that output column ow, tap s reads phase (s*dw) % sw at index ow + (s*dw) / sw.
 * Output (oh, ow), tap (r, s) reads packed row oh*sh + r*dh. */
typedef struct fc_dw_rows {
    const float *xq;          /* first packed plane */
    int64_t nq, q_plane;      /* planes summed and their distance in floats */
    int64_t row, phase;
    const float *w;           /* w[q][R][S] */
    int64_t R, S, sh, sw, dh, dw;
    const int64_t *soff;      /* soff[s]: tap s's column offset within a packed row */
    int64_t OH, OW;
    float bias;
    float *y;                 /* y[OH][OW] */
} fc_dw_rows;

/* Weight (and bias) gradient of one output plane against one packed input plane:
 * gw[r][s] += sum gy[oh][ow] * xq(oh, ow, r, s); *gb += sum gy. */
typedef struct fc_dw_grad {
    const float *xq;
    int64_t row, phase;
    const float *gy;          /* gy[OH][OW] */
    int64_t R, S, sh, sw, dh, dw;
    int64_t OH, OW;
    float *gw;                /* [R][S], accumulated into */
    float *gb;                /* accumulated into */
} fc_dw_grad;

/* The three passes on a checked descriptor with its output size (the public entry
 * points check, convolution's plan hands its own checked descriptor over). */
fc_status fc_depthwise_run_forward(const fc_depthwise_conv2d_desc *d, int64_t OH, int64_t OW,
                                   const float *x, const float *w, const float *bias, float *y,
                                   void *workspace, size_t workspace_size);
fc_status fc_depthwise_run_backward_data(const fc_depthwise_conv2d_desc *d, int64_t OH,
                                         int64_t OW, const float *gy, const float *w, float *gx,
                                         void *workspace, size_t workspace_size);
fc_status fc_depthwise_run_backward_weights(const fc_depthwise_conv2d_desc *d, int64_t OH,
                                            int64_t OW, const float *gy, const float *x,
                                            float *gw, float *gb, void *workspace,
                                            size_t workspace_size);

/* Bytes of workspace a depthwise pass takes (SIZE_MAX: too large or an invalid
 * descriptor); the descriptor is checked. */
size_t fc_depthwise_workspace(const fc_depthwise_conv2d_desc *d, fc_conv_pass pass);

typedef void (*fc_dw_rows_fn)(const fc_dw_rows *a);
typedef void (*fc_dw_grad_fn)(const fc_dw_grad *a);

void fc_depthwise_rows__portable(const fc_dw_rows *a);
void fc_depthwise_rows__avx2(const fc_dw_rows *a);
void fc_depthwise_rows__avx512(const fc_dw_rows *a);
void fc_depthwise_grad__portable(const fc_dw_grad *a);
void fc_depthwise_grad__avx2(const fc_dw_grad *a);
void fc_depthwise_grad__avx512(const fc_dw_grad *a);

#endif

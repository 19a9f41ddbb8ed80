/* Depthwise convolution: the loops (conv/depthwise.c) and the contract of the per-ISA
 * kernels they call through the registry (kernels/<isa>/f32_depthwise_<isa>.c, one
 * body in kernels/f32_depthwise.inc). */
#ifndef FC_CONV_DEPTHWISE_H
#define FC_CONV_DEPTHWISE_H

#include "../core/internal.h"

/* Floats a kernel may read past the end of a packed plane (whole-vector loads). */
#define FC_DEPTHWISE_SLACK 256

/* One output plane from nq packed input planes (summed), each plane in "phase
 * layout": a padded row of `row` floats holds `sw` phases of `phase` floats, so
 * that output column ow, tap s reads phase (s*dil_w) % sw at index ow + (s*dil_w) / sw.
 * Output (oh, ow), tap (r, s) reads packed row oh*sh + r*dil_h. */
typedef struct fc_depthwise_rows {
    const float *xq;          /* first packed plane */
    int64_t nq, q_plane;      /* planes summed and their distance in floats */
    int64_t row, phase;
    const float *w;           /* w[q][R][S] */
    int64_t R, S, sh, sw, dil_h, dil_w;
    const int64_t *soff;      /* soff[s]: tap s's column offset within a packed row */
    int64_t OH, OW;
    float bias;
    float *y;                 /* y[OH][OW] */
} fc_depthwise_rows;

/* Weight (and bias) gradient of one output plane against one packed input plane:
 * gw[r][s] += sum gy[oh][ow] * xq(oh, ow, r, s); *gb += sum gy. */
typedef struct fc_depthwise_bwd_weights {
    const float *xq;
    int64_t row, phase;
    const float *gy;          /* gy[OH][OW] */
    int64_t R, S, sh, sw, dil_h, dil_w;
    int64_t OH, OW;
    float *gw;                /* [R][S], accumulated into */
    float *gb;                /* accumulated into */
} fc_depthwise_bwd_weights;

/* The forward of up to `lanes` channels at once, one per vector lane, for maps too
 * narrow for vectors along the width (conv/depthwise.c, run_forward_lanes): xt the
 * channels' input rows the outputs read, transposed and padded, xt[hp][wp][lanes] (Wp
 * columns a row, zeros over the padding); wt[R*S][lanes] the channels' taps;
 * ot[OH*OW][lanes] the sums. Output (oh, ow), tap (r, s) reads xt row oh*sh + r*dil_h,
 * column ow*sw + s*dil_w. */
typedef struct fc_depthwise_lanes {
    const float *xt;
    int64_t Wp;
    const float *wt;
    int64_t R, S, sh, sw, dil_h, dil_w, OH, OW;
    float *ot;
} fc_depthwise_lanes;

/* Backward-weights with channels in the lanes: xt as fc_depthwise_lanes's, gyt the
 * channels' grad_y transposed, gyt[OH*OW][lanes]; gw[R*S][lanes] += the sum over the
 * outputs of gyt times the input each tap reads there, gb[lanes] += the sum of gyt. */
typedef struct fc_depthwise_lanes_bww {
    const float *xt;
    int64_t Wp;
    const float *gyt;
    int64_t R, S, sh, sw, dil_h, dil_w, OH, OW;
    float *gw, *gb;
} fc_depthwise_lanes_bww;

/* The three passes on a checked descriptor with its output size (the public entry
 * points check, convolution's plan hands its own checked descriptor over). */
/* forward: y = the epilogue (conv/epilogue.h; never NULL) of the convolution. */
fc_status fc_depthwise_run_forward(const fc_depthwise_conv2d_desc *d, int64_t OH, int64_t OW,
                                   const float *x, const float *w, const fc_epilogue *ep, float *y,
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

typedef void (*fc_depthwise_rows_fn)(const fc_depthwise_rows *a);
typedef void (*fc_depthwise_bwd_weights_fn)(const fc_depthwise_bwd_weights *a);
typedef void (*fc_depthwise_lanes_fn)(const fc_depthwise_lanes *a);
typedef void (*fc_depthwise_lanes_bww_fn)(const fc_depthwise_lanes_bww *a);

#endif

/* Direct convolution: the loops (conv/direct.c) and the per-ISA kernels they call
 * (kernels/<isa>/conv_direct_<isa>.c, one body in conv/direct_kernels.inc). */
#ifndef FC_CONV_DIRECT_H
#define FC_CONV_DIRECT_H

#include "../core/internal.h"

/* Output channels one kernel call computes at once; weights are packed in blocks of it. */
#define FC_DIRECT_KB 8
/* Floats a kernel may read past the last element of a packed input (whole-vector loads). */
#define FC_DIRECT_SLACK 64

/* Input in "phase layout": each padded row of Wp columns is split into `sw` phases
 * (columns j with j % sw == p, in order), each `phase` floats long, so that a
 * strided output row reads its inputs contiguously. */
typedef struct fc_direct_rows {
    const float *xq;          /* cin planes of one image and group */
    int64_t cin, plane, row, phase;
    int64_t R, S, sh, sw, dh, dw;
    int64_t OH, OW;
    const int64_t *soff;      /* S offsets of tap s within a row: (s*dw % sw)*phase + s*dw/sw */
    const float *wp;          /* packed weights [cin][R][S][FC_DIRECT_KB] */
    int64_t kb;               /* valid output channels in this block (<= FC_DIRECT_KB) */
    const float *bias;        /* kb values, or NULL */
    float *y;                 /* first output plane of the block */
    int64_t y_plane;
} fc_direct_rows;

/* y rows [oh0, oh1) for the block's channels. */
typedef void (*fc_direct_rows_fn)(const fc_direct_rows *a, int64_t oh0, int64_t oh1);

/* grad_w[k][c][r][s] for kn (<= 4) channels k of one input channel c, summed over
 * `n_img` images: gy[i] = grad_y plane of image i for channel k0, channel stride gy_k,
 * image stride gy_n; xq the image-0 plane of c in phase layout, image stride xq_n. */
typedef struct fc_direct_dw {
    const float *xq;
    int64_t xq_n, row, phase;
    const float *gy;
    int64_t gy_k, gy_n;
    int64_t n_img, kn;
    int64_t R, S, sh, sw, dh, dw;
    int64_t OH, OW;
    float *gw;                /* gw for (k0, c, 0, 0) */
    int64_t gw_k;             /* stride between output channels in gw */
} fc_direct_dw;

typedef void (*fc_direct_dw_fn)(const fc_direct_dw *a);

void fc_conv_direct_rows__portable(const fc_direct_rows *a, int64_t oh0, int64_t oh1);
void fc_conv_direct_rows__avx2(const fc_direct_rows *a, int64_t oh0, int64_t oh1);
void fc_conv_direct_rows__avx512(const fc_direct_rows *a, int64_t oh0, int64_t oh1);
void fc_conv_direct_dw__portable(const fc_direct_dw *a);
void fc_conv_direct_dw__avx2(const fc_direct_dw *a);
void fc_conv_direct_dw__avx512(const fc_direct_dw *a);

size_t fc_conv_direct_workspace(const fc_conv2d_desc *d, fc_conv_pass pass);
fc_status fc_conv_direct_forward(const fc_conv2d_desc *d, const float *x, const float *w,
                                 const float *bias, float *y, fc_arena *ws);
fc_status fc_conv_direct_backward_data(const fc_conv2d_desc *d, const float *gy,
                                       const float *w, float *gx, fc_arena *ws);
fc_status fc_conv_direct_backward_weights(const fc_conv2d_desc *d, const float *gy,
                                          const float *x, float *gw, fc_arena *ws);

#endif

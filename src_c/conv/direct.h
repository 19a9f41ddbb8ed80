/* Direct convolution: the loops (conv/direct.c) and the contract of the per-ISA
 * kernels they call through the registry (kernels/<isa>/f32_conv_direct_<isa>.c, one
 * body in kernels/f32_conv_direct.inc). */
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
    int64_t R, S, sh, sw, dil_h, dil_w;
    int64_t OH, OW;
    const int64_t *soff;      /* S offsets of tap s within a row: (s*dil_w % sw)*phase + s*dil_w/sw */
    const float *wp;          /* packed weights [cin][R][S][FC_DIRECT_KB] */
    int64_t kb;               /* valid output channels in this block (<= FC_DIRECT_KB) */
    const float *bias;        /* kb values, or NULL */
    float *y;                 /* first output plane of the block */
    int64_t y_plane;
    /* The forward epilogue (conv/epilogue.h), applied in registers before each store:
     * y = act(scale * conv + bias + res); scale (kb values) and res (laid out as y,
     * may be y itself) NULL when absent. */
    const float *scale;
    const float *res;
    int relu;
} fc_direct_rows;

/* y rows [oh0, oh1) for the block's channels. */
typedef void (*fc_direct_rows_fn)(const fc_direct_rows *a, int64_t oh0, int64_t oh1);

/* grad_w[k][c][r][s] for kn (<= FC_DIRECT_KB) channels k of one input channel c,
 * summed over `n_img` images. grad_y is repacked so that its rows line up with the
 * packed input: per (image, channel) a plane of nseg segments of seglen floats
 * (a multiple of 16, zero past the valid columns); segment j reads the input at
 * j * xs + toff[r*S + s] from the image's plane of c. Zero grad_y entries meet
 * finite input past a row's end, so whole vectors are read without masks. */
typedef struct fc_direct_bwd_weights {
    const float *xq;          /* image-0 plane of c in phase layout */
    int64_t xq_n;             /* image stride of xq */
    const float *gy;          /* packed grad_y of image 0, channel k0 */
    int64_t gy_k, gy_n;       /* channel and image strides of the packed grad_y */
    int64_t n_img, img_group; /* images, and how many one register pass covers */
    int64_t kn;
    int64_t nseg, seglen, xs;
    int64_t ntaps;            /* R*S */
    const int64_t *toff;      /* ntaps input offsets of the taps */
    float *gw;                /* gw for (k0, c, 0, 0) */
    int64_t gw_k;             /* stride between output channels in gw */
    /* NULL, or FC_DIRECT_KB x ntaps slots of FC_BWD_VACC floats: the kernel adds its
     * vector partial sums there (lanes past its vector width untouched) instead of
     * writing gw, so that chunks of one item sum without a horizontal sum each. */
    float *vacc;
} fc_direct_bwd_weights;
#define FC_BWD_VACC 16

typedef void (*fc_direct_bwd_weights_fn)(const fc_direct_bwd_weights *a);

size_t fc_conv_direct_workspace(const fc_conv2d_desc *d, fc_conv_pass pass);
/* y = the epilogue (conv/epilogue.h; never NULL) of conv(x, w). */
fc_status fc_conv_direct_forward(const fc_conv2d_desc *d, const float *x, const float *w,
                                 const fc_epilogue *ep, float *y, fc_arena *ws);
fc_status fc_conv_direct_backward_data(const fc_conv2d_desc *d, const float *gy,
                                       const float *w, float *gx, fc_arena *ws);
fc_status fc_conv_direct_backward_weights(const fc_conv2d_desc *d, const float *gy,
                                          const float *x, float *gw, fc_arena *ws);

#endif

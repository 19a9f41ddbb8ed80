/* Descriptor checks and shape math shared by every convolution algorithm. */
#ifndef FC_CONV_DESC_H
#define FC_CONV_DESC_H

#include "../core/internal.h"

/* Checks every field (and that no size overflows); on success sets OH, OW. */
fc_status fc_conv2d_check(const fc_conv2d_desc *d, int64_t *OH, int64_t *OW);

/* OH and OW of a descriptor that passed fc_conv2d_check (no checks: internal paths
 * get checked descriptors only). */
void fc_conv2d_out_shape(const fc_conv2d_desc *d, int64_t *OH, int64_t *OW);

/* A convolution pass, checked and planned once: what every public entry point builds
 * and every internal path (transposed convolution, the algorithms) takes. */
typedef struct fc_conv_plan {
    const fc_conv2d_desc *d;   /* checked */
    fc_conv_pass pass;
    fc_conv_algorithm algo;    /* resolved (never FC_CONV_AUTO) */
    int64_t OH, OW;
    size_t workspace;          /* bytes taken from the caller's workspace */
    int im2col_inplace;        /* forward im2col reading the weights in place (AUTO's
                                  choice on small maps, conv2d.c) */
    int blocked_nchw;          /* forward through the blocked kernel with reorders
                                  (conv/blocked_nchw.c; AUTO's choice for 5x5, conv2d.c;
                                  algo stays the im2col it replaces) */
    fc_conv_algorithm blocked_wg;  /* FC_CONV_WINOGRAD_F23 / _F43 on the blocked layout
                                  (conv2d.c's blocked_winograd): with blocked_nchw instead
                                  of the direct kernel, or AUTO's backward-weights
                                  (conv/blocked_winograd_bwd_weights.c); else FC_CONV_AUTO */
    int bwd_phases;            /* strided backward-data as a blocked forward per phase of
                                  grad_x (conv/bwd_data_phases.c; AUTO's choice, conv2d.c) */
} fc_conv_plan;

/* Checks d once, resolves FC_CONV_AUTO, sizes the workspace. */
fc_status fc_conv_plan_make(const fc_conv2d_desc *d, fc_conv_algorithm algo, fc_conv_pass pass,
                            fc_conv_plan *p);
/* Runs a plan. forward: (in, wt) = (x, w), out = y, bias optional; backward-data:
 * (grad_y, w) -> grad_x; backward-weights: (grad_y, x) -> grad_w, bias = grad_bias
 * (written when not NULL). workspace NULL: the thread's cache. */
fc_status fc_conv_plan_run(const fc_conv_plan *p, const float *in, const float *wt,
                           float *bias, float *out, void *workspace, size_t workspace_size);

/* Runs a forward plan with an epilogue (conv/epilogue.h; never NULL, checked). */
fc_status fc_conv_plan_forward(const fc_conv_plan *p, const float *x, const float *w,
                               const fc_epilogue *ep, float *y, void *workspace,
                               size_t workspace_size);

/* grad_bias[k] = sum of grad_y over images and positions. */
void fc_conv2d_bias_grad(int64_t N, int64_t K, int64_t plane, const float *gy, float *gb);
/* acc[k] += the sum of row k of gy (cols floats, rows ld apart), k < rows: a block's
 * share of the bias gradient, in double as fc_conv2d_bias_grad sums. */
void fc_conv2d_bias_grad_add(const float *gy, int64_t rows, int64_t cols, int64_t ld,
                             double *acc);

/* Output size along one axis, or -1 when the effective kernel exceeds the padded
 * input (or on overflow). */
int64_t fc_conv_out_size(int64_t in, int64_t pad0, int64_t pad1, int64_t k, int64_t dil,
                         int64_t stride);

#endif

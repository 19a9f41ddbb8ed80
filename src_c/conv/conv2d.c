/* Public convolution entry points: check, size the workspace, dispatch. */
#include "conv_desc.h"
#include "direct.h"
#include "im2col.h"
#include "winograd.h"

/* Each algorithm's workspace for a pass, or SIZE_MAX when it cannot serve. */
static size_t algo_workspace(const fc_conv2d_desc *d, fc_conv_algorithm algo, fc_conv_pass pass) {
    switch (algo) {
    case FC_CONV_DIRECT: return fc_conv_direct_workspace(d, pass);
    case FC_CONV_IM2COL: return fc_conv_im2col_workspace(d, pass);
    case FC_CONV_WINOGRAD_F23:
    case FC_CONV_WINOGRAD_F43: return fc_winograd_workspace(d, algo, pass);
    default: return SIZE_MAX;
    }
}

static int algo_known(fc_conv_algorithm a) {
    return a == FC_CONV_AUTO || a == FC_CONV_DIRECT || a == FC_CONV_IM2COL ||
           a == FC_CONV_WINOGRAD_F23 || a == FC_CONV_WINOGRAD_F43;
}

/* Whether `algo` can run this descriptor (before any sizing). */
static int algo_serves(const fc_conv2d_desc *d, fc_conv_algorithm algo) {
    switch (algo) {
    case FC_CONV_DIRECT: return 1;
    case FC_CONV_IM2COL: return 1;
    case FC_CONV_WINOGRAD_F23:
    case FC_CONV_WINOGRAD_F43: return fc_winograd_serves(d);
    default: (void)d; return 0;
    }
}

/* The Winograd variant AUTO should run, or FC_CONV_AUTO for none. Winograd pays off on
 * 3x3 stride-1 layers with enough channels and enough tiles (batched across images) for
 * its per-position GEMMs; F(4x4) needs an output at least 8 wide. Backward-weights
 * delegates to direct, so Winograd is never preferred there. Thresholds measured with
 * a temporary SGEMM on a loaded machine: to be re-tuned with the real one. */
static fc_conv_algorithm winograd_preferred(const fc_conv2d_desc *d, fc_conv_pass pass) {
    if (pass == FC_PASS_BACKWARD_WEIGHTS || !fc_winograd_serves(d)) return FC_CONV_AUTO;
    int64_t Cg = d->C / d->groups, Kg = d->K / d->groups;
    if (Cg < 16 || Kg < 16) return FC_CONV_AUTO;
    int64_t OH = d->H + d->pad_top + d->pad_bottom - 2, OW = d->W + d->pad_left + d->pad_right - 2;
    int64_t t4 = d->N * fc_ceil_div(OH, 4) * fc_ceil_div(OW, 4);
    int64_t t2 = d->N * fc_ceil_div(OH, 2) * fc_ceil_div(OW, 2);
    if (OH >= 8 && OW >= 8 && t4 >= 64) return FC_CONV_WINOGRAD_F43;
    return t2 >= 64 ? FC_CONV_WINOGRAD_F23 : FC_CONV_AUTO;
}

fc_status fc_conv2d_select_algorithm(const fc_conv2d_desc *d, fc_conv_pass pass,
                                     fc_conv_algorithm *algo) {
    if (!algo) return FC_INVALID_ARGUMENT;
    fc_status st = fc_conv2d_check(d, NULL, NULL);
    if (st != FC_SUCCESS) return st;
    fc_conv_algorithm wg = winograd_preferred(d, pass);
    *algo = wg != FC_CONV_AUTO ? wg : FC_CONV_IM2COL;
    return FC_SUCCESS;
}

fc_status fc_conv2d_output_shape(const fc_conv2d_desc *d, int64_t *OH, int64_t *OW) {
    if (!OH || !OW) return FC_INVALID_ARGUMENT;
    return fc_conv2d_check(d, OH, OW);
}

/* Checks, resolves AUTO and sizes the workspace: the preamble of every pass. */
static fc_status prepare(const fc_conv2d_desc *d, fc_conv_algorithm *algo, fc_conv_pass pass,
                         size_t *need) {
    fc_status st = fc_conv2d_check(d, NULL, NULL);
    if (st != FC_SUCCESS) return st;
    if (!algo_known(*algo)) return FC_INVALID_ARGUMENT;
    if (*algo == FC_CONV_AUTO) {
        st = fc_conv2d_select_algorithm(d, pass, algo);
        if (st != FC_SUCCESS) return st;
    }
    if (!algo_serves(d, *algo)) return FC_UNSUPPORTED_ALGORITHM;
    *need = algo_workspace(d, *algo, pass);
    return *need == SIZE_MAX ? FC_SIZE_OVERFLOW : FC_SUCCESS;
}

fc_status fc_conv2d_workspace_size(const fc_conv2d_desc *d, fc_conv_algorithm algo,
                                   fc_conv_pass pass, size_t *bytes) {
    if (!bytes) return FC_INVALID_ARGUMENT;
    if (pass != FC_PASS_FORWARD && pass != FC_PASS_BACKWARD_DATA && pass != FC_PASS_BACKWARD_WEIGHTS)
        return FC_INVALID_ARGUMENT;
    return prepare(d, &algo, pass, bytes);
}

fc_status fc_conv2d_forward(const fc_conv2d_desc *d, fc_conv_algorithm algo, const float *x,
                            const float *w, const float *bias, float *y, void *workspace,
                            size_t workspace_size) {
    if (!x || !w || !y) return FC_INVALID_ARGUMENT;
    size_t need;
    fc_status st = prepare(d, &algo, FC_PASS_FORWARD, &need);
    if (st != FC_SUCCESS) return st;
    fc_arena ws;
    st = fc_workspace_open(workspace, workspace_size, need, &ws);
    if (st != FC_SUCCESS) return st;
    switch (algo) {
    case FC_CONV_DIRECT: return fc_conv_direct_forward(d, x, w, bias, y, &ws);
    case FC_CONV_IM2COL: return fc_conv_im2col_forward(d, x, w, bias, y, &ws);
    case FC_CONV_WINOGRAD_F23:
    case FC_CONV_WINOGRAD_F43: return fc_winograd_forward(d, algo, x, w, bias, y, &ws);
    default: return FC_UNSUPPORTED_ALGORITHM;
    }
}

fc_status fc_conv2d_backward_data(const fc_conv2d_desc *d, fc_conv_algorithm algo,
                                  const float *grad_y, const float *w, float *grad_x,
                                  void *workspace, size_t workspace_size) {
    if (!grad_y || !w || !grad_x) return FC_INVALID_ARGUMENT;
    size_t need;
    fc_status st = prepare(d, &algo, FC_PASS_BACKWARD_DATA, &need);
    if (st != FC_SUCCESS) return st;
    fc_arena ws;
    st = fc_workspace_open(workspace, workspace_size, need, &ws);
    if (st != FC_SUCCESS) return st;
    switch (algo) {
    case FC_CONV_DIRECT: return fc_conv_direct_backward_data(d, grad_y, w, grad_x, &ws);
    case FC_CONV_IM2COL: return fc_conv_im2col_backward_data(d, grad_y, w, grad_x, &ws);
    case FC_CONV_WINOGRAD_F23:
    case FC_CONV_WINOGRAD_F43: return fc_winograd_backward_data(d, algo, grad_y, w, grad_x, &ws);
    default: return FC_UNSUPPORTED_ALGORITHM;
    }
}

fc_status fc_conv2d_backward_weights(const fc_conv2d_desc *d, fc_conv_algorithm algo,
                                     const float *grad_y, const float *x, float *grad_w,
                                     float *grad_bias, void *workspace, size_t workspace_size) {
    if (!grad_y || !x || !grad_w) return FC_INVALID_ARGUMENT;
    size_t need;
    int64_t OH, OW;
    fc_status st = prepare(d, &algo, FC_PASS_BACKWARD_WEIGHTS, &need);
    if (st != FC_SUCCESS) return st;
    fc_conv2d_check(d, &OH, &OW);
    fc_arena ws;
    st = fc_workspace_open(workspace, workspace_size, need, &ws);
    if (st != FC_SUCCESS) return st;
    switch (algo) {
    case FC_CONV_DIRECT: st = fc_conv_direct_backward_weights(d, grad_y, x, grad_w, &ws); break;
    case FC_CONV_IM2COL: st = fc_conv_im2col_backward_weights(d, grad_y, x, grad_w, &ws); break;
    case FC_CONV_WINOGRAD_F23:
    case FC_CONV_WINOGRAD_F43: st = fc_winograd_backward_weights(d, grad_y, x, grad_w, &ws); break;
    default: return FC_UNSUPPORTED_ALGORITHM;
    }
    if (st == FC_SUCCESS && grad_bias) fc_conv2d_bias_grad(d->N, d->K, OH * OW, grad_y, grad_bias);
    return st;
}

/* Transposed convolution by duality with the convolution that maps the transposed
 * conv's output back to its input ("the dual conv": input K channels of OH x OW,
 * output C channels of H x W, weight w[C][K/groups][R][S] in conv layout as is):
 *   forward          = dual conv backward-data   (grad_y := x)
 *   backward-data    = dual conv forward          (x := grad_y)
 *   backward-weights = dual conv backward-weights (grad_y := x, x := grad_y)
 * Every call plans the dual conv once (fc_conv_plan_make with FC_CONV_AUTO, which
 * checks its descriptor) and runs that plan, so the fastest convolution algorithm
 * serves the transposed one too; no public entry point calls another.
 *
 * output_padding adds rows/columns at the bottom/right that the dual conv must
 * reproduce: its bottom pad is pad_bottom - output_padding. When that is negative
 * the last e = output_padding - pad_bottom rows receive no input at all. If e is
 * below the stride the dual conv still yields exactly H rows over the full OH (the
 * floor in its size formula drops them) and we run it as is with bottom pad 0;
 * otherwise (only possible with dilation > stride) it runs on the top OH - e rows,
 * through a cropped copy in the workspace. */
#include <string.h>

#include "conv_desc.h"

typedef struct tc_plan {
    fc_conv2d_desc cd;      /* the dual conv */
    fc_conv_plan conv;      /* its plan for the pass at hand (unless empty) */
    int64_t OH, OW;         /* transposed conv output (= dual conv input) */
    int crop;               /* dual conv runs on a cropped [OHc][OWc] copy */
    int64_t OHc, OWc;
    int empty;              /* no input pixel reaches the output (OHc or OWc < 1): y is
                               the bias alone, and grad_x and grad_w are zero */
} tc_plan;

static fc_conv_pass dual_pass(fc_conv_pass pass) {
    switch (pass) {
    case FC_PASS_FORWARD: return FC_PASS_BACKWARD_DATA;
    case FC_PASS_BACKWARD_DATA: return FC_PASS_FORWARD;
    default: return FC_PASS_BACKWARD_WEIGHTS;
    }
}

/* Checks d and plans the dual conv for `pass` (pass < 0: shape only). */
static fc_status plan(const fc_conv_transpose2d_desc *d, int pass, tc_plan *p) {
    if (!d) return FC_INVALID_ARGUMENT;
    if (d->N < 1 || d->C < 1 || d->H < 1 || d->W < 1 || d->K < 1 || d->R < 1 || d->S < 1)
        return FC_INVALID_SHAPE;
    if (d->stride_h < 1 || d->stride_w < 1) return FC_INVALID_STRIDE;
    if (d->dilation_h < 1 || d->dilation_w < 1) return FC_INVALID_DILATION;
    if (d->pad_top < 0 || d->pad_bottom < 0 || d->pad_left < 0 || d->pad_right < 0 ||
        d->output_padding_h < 0 || d->output_padding_w < 0 ||
        d->output_padding_h >= fc_max64(d->stride_h, d->dilation_h) ||
        d->output_padding_w >= fc_max64(d->stride_w, d->dilation_w))
        return FC_INVALID_PADDING;
    if (d->groups < 1 || d->C % d->groups || d->K % d->groups) return FC_INVALID_GROUPS;
    /* Pads below 2^61 (and the checked products below) keep the size arithmetic exact. */
    if (d->pad_top > ((int64_t)1 << 61) || d->pad_bottom > ((int64_t)1 << 61) ||
        d->pad_left > ((int64_t)1 << 61) || d->pad_right > ((int64_t)1 << 61))
        return FC_SIZE_OVERFLOW;
    int64_t OH, OW, rh, sw;
    const int64_t lim = (int64_t)1 << 61;
    if (!fc_mul_ok(d->H - 1, d->stride_h, &OH) || !fc_mul_ok(d->W - 1, d->stride_w, &OW) ||
        !fc_mul_ok(d->R - 1, d->dilation_h, &rh) || !fc_mul_ok(d->S - 1, d->dilation_w, &sw) ||
        OH > lim || OW > lim || rh > lim || sw > lim)
        return FC_SIZE_OVERFLOW;
    OH += rh + d->output_padding_h + 1 - d->pad_top - d->pad_bottom;
    OW += sw + d->output_padding_w + 1 - d->pad_left - d->pad_right;
    if (OH < 1 || OW < 1) return FC_INVALID_SHAPE;
    int64_t eh = fc_max64(0, d->output_padding_h - d->pad_bottom);
    int64_t ew = fc_max64(0, d->output_padding_w - d->pad_right);
    p->OH = OH;
    p->OW = OW;
    p->crop = eh >= d->stride_h || ew >= d->stride_w;
    p->OHc = p->crop ? OH - eh : OH;
    p->OWc = p->crop ? OW - ew : OW;
    p->empty = p->OHc < 1 || p->OWc < 1;
    fc_conv2d_desc cd = {d->N, d->K, p->OHc, p->OWc, d->C, d->R, d->S, d->stride_h, d->stride_w,
                         d->pad_top, fc_max64(0, d->pad_bottom - d->output_padding_h),
                         d->pad_left, fc_max64(0, d->pad_right - d->output_padding_w),
                         d->dilation_h, d->dilation_w, d->groups};
    p->cd = cd;
    if (p->empty) return FC_SUCCESS; /* the output lies wholly in the padding */
    fc_status st;
    if (pass < 0) { /* shape only: the dual conv must still be a valid one */
        int64_t ch, cw;
        st = fc_conv2d_check(&p->cd, &ch, &cw);
        if (st == FC_SUCCESS && (ch != d->H || cw != d->W)) st = FC_INVALID_SHAPE;
        return st;
    }
    st = fc_conv_plan_make(&p->cd, FC_CONV_AUTO, dual_pass((fc_conv_pass)pass), &p->conv);
    if (st != FC_SUCCESS) return st;
    /* unreachable by the algebra above */
    if (p->conv.OH != d->H || p->conv.OW != d->W) return FC_INVALID_SHAPE;
    return FC_SUCCESS;
}

static int64_t crop_floats(const tc_plan *p) { return p->cd.N * p->cd.C * p->OHc * p->OWc; }

/* The dual conv's own workspace (0 when no conv runs). */
static size_t conv_bytes(const tc_plan *p) { return p->empty ? 0 : p->conv.workspace; }

/* Total workspace: the cropped copy (when needed) and the dual conv's own. */
static fc_status sizes(const tc_plan *p, size_t *total) {
    *total = 0;
    if (p->empty) return FC_SUCCESS;
    if (p->crop && !fc_ws_add(total, crop_floats(p), sizeof(float))) return FC_SIZE_OVERFLOW;
    if (__builtin_add_overflow(*total, conv_bytes(p), total)) return FC_SIZE_OVERFLOW;
    return FC_SUCCESS;
}

fc_status fc_conv_transpose2d_output_shape(const fc_conv_transpose2d_desc *d, int64_t *OH,
                                           int64_t *OW) {
    if (!OH || !OW) return FC_INVALID_ARGUMENT;
    tc_plan p;
    fc_status st = plan(d, -1, &p);
    if (st != FC_SUCCESS) return st;
    *OH = p.OH;
    *OW = p.OW;
    return FC_SUCCESS;
}

fc_status fc_conv_transpose2d_workspace_size(const fc_conv_transpose2d_desc *d,
                                             fc_conv_pass pass, size_t *bytes) {
    FC_CALL_SCOPE();
    if (!bytes) return FC_INVALID_ARGUMENT;
    if (pass != FC_PASS_FORWARD && pass != FC_PASS_BACKWARD_DATA && pass != FC_PASS_BACKWARD_WEIGHTS)
        return FC_INVALID_ARGUMENT;
    tc_plan p;
    fc_status st = plan(d, (int)pass, &p);
    if (st != FC_SUCCESS) return st;
    return sizes(&p, bytes);
}

/* Plans, opens the workspace, and carves the crop buffer; the rest goes to the conv. */
typedef struct tc_run {
    tc_plan p;
    fc_arena arena;
    float *crop;
    void *conv_ws;
    size_t conv_size;
} tc_run;

static void tc_run_close(tc_run *r) { fc_workspace_close(&r->arena); }
#define TC_RUN(name) tc_run name __attribute__((cleanup(tc_run_close))) = {0}

static fc_status start(const fc_conv_transpose2d_desc *d, fc_conv_pass pass, void *workspace,
                       size_t workspace_size, tc_run *r) {
    fc_status st = plan(d, (int)pass, &r->p);
    if (st != FC_SUCCESS) return st;
    size_t total;
    st = sizes(&r->p, &total);
    if (st != FC_SUCCESS) return st;
    st = fc_workspace_open(workspace, workspace_size, total, &r->arena);
    if (st != FC_SUCCESS) return st;
    r->crop = NULL;
    if (r->p.crop && !r->p.empty) {
        r->crop = fc_arena_alloc(&r->arena, (size_t)crop_floats(&r->p) * sizeof(float));
        if (!r->crop) return FC_INVALID_WORKSPACE;
    }
    /* The conv gets the remainder of the arena as its caller-provided workspace
     * (NULL if it needs none: it then never touches it). */
    int conv_ws = conv_bytes(&r->p) != 0;
    r->conv_size = conv_ws ? r->arena.size - r->arena.used : 0;
    r->conv_ws = conv_ws ? (void *)(r->arena.base + r->arena.used) : NULL;
    return FC_SUCCESS;
}

/* Copies the top-left [OHc][OWc] of each [OH][OW] plane into dst (crop), or back
 * with zeros in the rest (uncrop). */
static void crop_planes(const tc_plan *p, const float *src, float *dst) {
    int64_t planes = p->cd.N * p->cd.C;
    #pragma omp parallel for num_threads(fc_threads()) schedule(static)
    for (int64_t i = 0; i < planes; i++)
        for (int64_t r = 0; r < p->OHc; r++)
            memcpy(dst + (i * p->OHc + r) * p->OWc, src + (i * p->OH + r) * p->OW,
                   (size_t)p->OWc * sizeof(float));
}

static void uncrop_planes(const tc_plan *p, const float *src, float *dst) {
    int64_t planes = p->cd.N * p->cd.C;
    #pragma omp parallel for num_threads(fc_threads()) schedule(static)
    for (int64_t i = 0; i < planes; i++) {
        float *d = dst + i * p->OH * p->OW;
        for (int64_t r = 0; r < p->OHc; r++) {
            memcpy(d + r * p->OW, src + (i * p->OHc + r) * p->OWc, (size_t)p->OWc * sizeof(float));
            memset(d + r * p->OW + p->OWc, 0, (size_t)(p->OW - p->OWc) * sizeof(float));
        }
        memset(d + p->OHc * p->OW, 0, (size_t)((p->OH - p->OHc) * p->OW) * sizeof(float));
    }
}

static void add_bias(int64_t N, int64_t K, int64_t plane, const float *bias, float *y) {
    #pragma omp parallel for num_threads(fc_threads()) schedule(static)
    for (int64_t i = 0; i < N * K; i++) {
        float b = bias[i % K];
        float *p = y + i * plane;
        for (int64_t j = 0; j < plane; j++) p[j] += b;
    }
}

fc_status fc_conv_transpose2d_forward(const fc_conv_transpose2d_desc *d, const float *x,
                                      const float *w, const float *bias, float *y,
                                      void *workspace, size_t workspace_size) {
    FC_CALL_SCOPE();
    if (!x || !w || !y) return FC_INVALID_ARGUMENT;
    TC_RUN(r);
    fc_status st = start(d, FC_PASS_FORWARD, workspace, workspace_size, &r);
    if (st != FC_SUCCESS) return st;
    float *out = r.p.crop ? r.crop : y;
    if (r.p.empty) memset(y, 0, (size_t)(d->N * d->K * r.p.OH * r.p.OW) * sizeof(float));
    else st = fc_conv_plan_run(&r.p.conv, x, w, NULL, out, r.conv_ws, r.conv_size);
    if (st != FC_SUCCESS) return st;
    if (r.p.crop) uncrop_planes(&r.p, r.crop, y);
    if (bias) add_bias(d->N, d->K, r.p.OH * r.p.OW, bias, y);
    return FC_SUCCESS;
}

fc_status fc_conv_transpose2d_backward_data(const fc_conv_transpose2d_desc *d,
                                            const float *grad_y, const float *w, float *grad_x,
                                            void *workspace, size_t workspace_size) {
    FC_CALL_SCOPE();
    if (!grad_y || !w || !grad_x) return FC_INVALID_ARGUMENT;
    TC_RUN(r);
    fc_status st = start(d, FC_PASS_BACKWARD_DATA, workspace, workspace_size, &r);
    if (st != FC_SUCCESS) return st;
    if (r.p.empty) {
        memset(grad_x, 0, (size_t)(d->N * d->C * d->H * d->W) * sizeof(float));
        return FC_SUCCESS;
    }
    const float *in = grad_y;
    if (r.p.crop) {
        crop_planes(&r.p, grad_y, r.crop);
        in = r.crop;
    }
    return fc_conv_plan_run(&r.p.conv, in, w, NULL, grad_x, r.conv_ws, r.conv_size);
}

fc_status fc_conv_transpose2d_backward_weights(const fc_conv_transpose2d_desc *d,
                                               const float *grad_y, const float *x,
                                               float *grad_w, float *grad_bias,
                                               void *workspace, size_t workspace_size) {
    FC_CALL_SCOPE();
    if (!grad_y || !x || !grad_w) return FC_INVALID_ARGUMENT;
    TC_RUN(r);
    fc_status st = start(d, FC_PASS_BACKWARD_WEIGHTS, workspace, workspace_size, &r);
    if (st != FC_SUCCESS) return st;
    const float *in = grad_y;
    if (r.p.crop && !r.p.empty) {
        crop_planes(&r.p, grad_y, r.crop);
        in = r.crop;
    }
    if (r.p.empty)
        memset(grad_w, 0, (size_t)(d->C * (d->K / d->groups) * d->R * d->S) * sizeof(float));
    else
        st = fc_conv_plan_run(&r.p.conv, x, in, NULL, grad_w, r.conv_ws, r.conv_size);
    if (st == FC_SUCCESS && grad_bias)
        fc_conv2d_bias_grad(d->N, d->K, r.p.OH * r.p.OW, grad_y, grad_bias);
    return st;
}

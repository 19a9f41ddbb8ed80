/* Pooling entry points: argument checks, output shape, the shared per-call tables,
 * and OpenMP over the N*C planes, each plane handed to the active ISA's kernel. */
#include <math.h>
#include <string.h>

#include "pool.h"
#include "core/registry.h"

/* Output size along one axis (PyTorch's rule; in ceil mode the last window must start
 * inside the input or the leading padding). */
static int64_t out_size(int64_t in, int64_t p0, int64_t p1, int64_t k, int64_t d, int64_t s,
                        int ceil_mode) {
    int64_t span = in + p0 + p1 - (d * (k - 1) + 1);
    /* span + s - 1 >= 0 here (check_axis), so the division truncates as floor would */
    int64_t o = (span + (ceil_mode ? s - 1 : 0)) / s + 1;
    if (ceil_mode && (o - 1) * s >= in + p0) o--;
    return o;
}

/* Does every window along this axis hold an input element? Only dilation can make one
 * miss: a window starting at a < 0 has its first inside tap at a mod d (pads are below
 * the effective kernel), missing when that is >= in; later windows hold their first tap. */
static int windows_hit(int64_t in, int64_t p0, int64_t k, int64_t d, int64_t s, int64_t o) {
    (void)k;
    if (d <= in) return 1;
    for (int64_t i = 0; i < o && i * s < p0; i++)
        if (((i * s - p0) % d + d) % d >= in) return 0;
    return 1;
}

static fc_status check_axis(int64_t in, int64_t k, int64_t s, int64_t p0, int64_t p1,
                            int64_t d, int ceil_mode) {
    if (in < 1 || k < 1) return FC_INVALID_SHAPE;
    if (s < 1) return FC_INVALID_STRIDE;
    if (d < 1) return FC_INVALID_DILATION;
    if (k > INT32_MAX || d > INT32_MAX || s > INT32_MAX || in > FC_POOL_MAX_PADDED)
        return FC_SIZE_OVERFLOW;
    int64_t eff = d * (k - 1) + 1;
    if (p0 < 0 || p1 < 0 || p0 >= eff || p1 >= eff) return FC_INVALID_PADDING;
    if (in + p0 + p1 > FC_POOL_MAX_PADDED) return FC_SIZE_OVERFLOW;
    /* A kernel larger than the padded input leaves no window, except in ceil mode, where
     * torch keeps one that starts inside and is cut at the padded edge. */
    if (eff > in + p0 + p1 && (!ceil_mode || in + p0 + p1 - eff + s - 1 < 0))
        return FC_INVALID_SHAPE;
    return FC_SUCCESS;
}

fc_status fc_pool_check(const fc_pool2d_desc *d, int is_avg, int64_t *OH, int64_t *OW) {
    if (!d) return FC_INVALID_ARGUMENT;
    if (d->N < 1 || d->C < 1) return FC_INVALID_SHAPE;
    if (is_avg && (d->dilation_h != 1 || d->dilation_w != 1)) return FC_INVALID_DILATION;
    fc_status st = check_axis(d->H, d->kernel_h, d->stride_h, d->pad_top, d->pad_bottom,
                              d->dilation_h, d->ceil_mode);
    if (st == FC_SUCCESS)
        st = check_axis(d->W, d->kernel_w, d->stride_w, d->pad_left, d->pad_right,
                        d->dilation_w, d->ceil_mode);
    if (st != FC_SUCCESS) return st;
    int64_t oh = out_size(d->H, d->pad_top, d->pad_bottom, d->kernel_h, d->dilation_h,
                          d->stride_h, d->ceil_mode);
    int64_t ow = out_size(d->W, d->pad_left, d->pad_right, d->kernel_w, d->dilation_w,
                          d->stride_w, d->ceil_mode);
    if (!windows_hit(d->H, d->pad_top, d->kernel_h, d->dilation_h, d->stride_h, oh) ||
        !windows_hit(d->W, d->pad_left, d->kernel_w, d->dilation_w, d->stride_w, ow))
        return FC_INVALID_PADDING;
    int64_t t;
    if (!fc_prod4(d->N, d->C, d->H, d->W, &t) || !fc_prod4(d->N, d->C, oh, ow, &t) ||
        !fc_mul_ok(t, 8, &t))
        return FC_SIZE_OVERFLOW;
    *OH = oh;
    *OW = ow;
    return FC_SUCCESS;
}

fc_status fc_pool2d_output_shape(const fc_pool2d_desc *d, int64_t *OH, int64_t *OW) {
    if (!OH || !OW) return FC_INVALID_ARGUMENT;
    return fc_pool_check(d, 0, OH, OW);
}

/* A call's geometry, its shared tables and every thread's scratch, in one workspace. */
typedef struct pool_call {
    fc_pool_geom g;
    fc_arena ws;
    float *scratch;
    int64_t per_thread;
    int nt;
} pool_call;

static void pool_call_close(pool_call *c) { fc_workspace_close(&c->ws); }
#define POOL_CALL(name) pool_call name __attribute__((cleanup(pool_call_close))) = {0}

static int64_t round_up(int64_t a, int64_t b) { return (a + b - 1) / b * b; }

/* Checks d and sizes the call's geometry and workspace (*need bytes). */
static fc_status plan_call(const fc_pool2d_desc *d, int is_avg, pool_call *c, size_t *need) {
    int64_t OH, OW;
    fc_status st = fc_pool_check(d, is_avg, &OH, &OW);
    if (st != FC_SUCCESS) return st;
    fc_pool_geom *g = &c->g;
    *g = (fc_pool_geom){0};
    g->H = d->H; g->W = d->W; g->OH = OH; g->OW = OW;
    g->kh = d->kernel_h; g->kw = d->kernel_w;
    g->sh = d->stride_h; g->sw = d->stride_w;
    g->dil_h = d->dilation_h; g->dil_w = d->dilation_w;
    g->pt = d->pad_top; g->pb = d->pad_bottom; g->pl = d->pad_left;
    g->count_include_pad = d->count_include_pad != 0;
    /* Every column any window reads, and the row itself, plus one vector of slack. */
    int64_t reach = (OW - 1) * g->sw + (g->kw - 1) * g->dil_w + 1;
    int64_t unit = g->sw * FC_POOL_VMAX;
    g->L = round_up(fc_max64(reach, g->pl + g->W), unit) + unit;
    g->P = g->L / g->sw;
    g->OWp = round_up(OW, FC_POOL_VMAX) + FC_POOL_VMAX;
    int64_t maxslot = (g->kw - 1) * g->dil_w / g->sw;
    g->F = round_up(maxslot, FC_POOL_VMAX) + FC_POOL_VMAX;
    g->A = 2 * g->F + g->OWp;
    g->Q = round_up(OW + maxslot, FC_POOL_VMAX);
    c->nt = fc_threads();
    c->per_thread = round_up(fc_pool_scratch(g), FC_ALIGN / 4);
    *need = 0;
    if (!fc_ws_add(need, g->OWp, sizeof(float)) || !fc_ws_add(need, g->OWp, sizeof(int32_t)) ||
        !fc_ws_add(need, g->kw, sizeof(int64_t)) || !fc_ws_add(need, g->kw, sizeof(int64_t)) ||
        !fc_ws_add(need, c->per_thread * c->nt, sizeof(float)))
        return FC_SIZE_OVERFLOW;
    return FC_SUCCESS;
}

/* plan_call, then the workspace (the caller's or the cache) and its tables. */
static fc_status open_call(const fc_pool2d_desc *d, int is_avg, void *workspace,
                           size_t workspace_size, pool_call *c) {
    size_t need;
    fc_status st = plan_call(d, is_avg, c, &need);
    if (st != FC_SUCCESS) return st;
    fc_pool_geom *g = &c->g;
    int64_t OW = g->OW;
    st = fc_workspace_open(workspace, workspace_size, need, &c->ws);
    if (st != FC_SUCCESS) return st;
    float *coldiv = fc_arena_alloc(&c->ws, (size_t)g->OWp * sizeof(float));
    int32_t *tapfirst = fc_arena_alloc(&c->ws, (size_t)g->OWp * sizeof(int32_t));
    int64_t *tapoff = fc_arena_alloc(&c->ws, (size_t)g->kw * sizeof(int64_t));
    int64_t *tapslot = fc_arena_alloc(&c->ws, (size_t)g->kw * sizeof(int64_t));
    c->scratch = fc_arena_alloc(&c->ws, (size_t)(c->per_thread * c->nt) * sizeof(float));
    if (!coldiv || !tapfirst || !tapoff || !tapslot || !c->scratch) return FC_INVALID_WORKSPACE;
    for (int64_t j = 0; j < g->kw; j++) {
        tapslot[j] = j * g->dil_w / g->sw;
        tapoff[j] = (j * g->dil_w % g->sw) * g->P + tapslot[j];
    }
    g->tapoff = tapoff;
    g->tapslot = tapslot;
    for (int64_t ow = 0; ow < g->OWp; ow++) {
        coldiv[ow] = 1.0f;
        tapfirst[ow] = 0;
        if (ow >= OW) continue;
        int64_t a = ow * g->sw - g->pl;
        int64_t e = fc_min64(a + g->kw, g->W + d->pad_right);   /* avg: dilation 1 */
        int64_t inside = fc_min64(a + g->kw, g->W) - fc_max64(a, 0);
        coldiv[ow] = (float)(g->count_include_pad ? e - a : inside);
        tapfirst[ow] = (int32_t)(a < 0 ? (-a + g->dil_w - 1) / g->dil_w : 0);
    }
    g->coldiv = coldiv;
    g->tapfirst = tapfirst;
    return FC_SUCCESS;
}

static float *thread_scratch(const pool_call *c) {
#ifdef _OPENMP
    return c->scratch + (int64_t)omp_get_thread_num() * c->per_thread;
#else
    return c->scratch;
#endif
}

static fc_status workspace_size(const fc_pool2d_desc *d, int is_avg, fc_conv_pass pass,
                                size_t *bytes) {
    if (!d || !bytes) return FC_INVALID_ARGUMENT;
    if (pass != FC_PASS_FORWARD && pass != FC_PASS_BACKWARD_DATA) return FC_INVALID_ARGUMENT;
    pool_call c;
    return plan_call(d, is_avg, &c, bytes);
}

fc_status fc_max_pool2d_workspace_size(const fc_pool2d_desc *d, fc_conv_pass pass,
                                       size_t *bytes) {
    FC_CALL_SCOPE();
    return workspace_size(d, 0, pass, bytes);
}

fc_status fc_avg_pool2d_workspace_size(const fc_pool2d_desc *d, fc_conv_pass pass,
                                       size_t *bytes) {
    FC_CALL_SCOPE();
    return workspace_size(d, 1, pass, bytes);
}

fc_status fc_max_pool2d_forward_ws(const fc_pool2d_desc *d, const float *x, float *y,
                                   int64_t *indices, void *workspace, size_t workspace_size) {
    FC_CALL_SCOPE();
    if (!d || !x || !y) return FC_INVALID_ARGUMENT;
    POOL_CALL(c);
    fc_status st = open_call(d, 0, workspace, workspace_size, &c);
    if (st != FC_SUCCESS) return st;
    const fc_pool_ukernels *k = &fc_kernels_active()->pool;
    const fc_pool_geom *g = &c.g;
    int64_t in = g->H * g->W, out = g->OH * g->OW;
    #pragma omp parallel for num_threads(c.nt) schedule(static)
    for (int64_t p = 0; p < d->N * d->C; p++) {
        if (indices) k->argmax(g, x + p * in, y + p * out, indices + p * out, NULL, NULL,
                               thread_scratch(&c));
        else k->max_fwd(g, x + p * in, y + p * out, thread_scratch(&c));
    }
    return FC_SUCCESS;
}

fc_status fc_max_pool2d_backward_ws(const fc_pool2d_desc *d, const float *grad_y,
                                    const float *x, const int64_t *indices, float *grad_x,
                                    void *workspace, size_t workspace_size) {
    FC_CALL_SCOPE();
    if (!d || !grad_y || !grad_x || (!x && !indices)) return FC_INVALID_ARGUMENT;
    POOL_CALL(c);
    fc_status st = open_call(d, 0, workspace, workspace_size, &c);
    if (st != FC_SUCCESS) return st;
    const fc_pool_ukernels *k = &fc_kernels_active()->pool;
    const fc_pool_geom *g = &c.g;
    int64_t in = g->H * g->W, out = g->OH * g->OW;
    int bad = 0;
    #pragma omp parallel for num_threads(c.nt) schedule(static) reduction(| : bad)
    for (int64_t p = 0; p < d->N * d->C; p++) {
        float *gx = grad_x + p * in;
        const float *gy = grad_y + p * out;
        if (!indices) {
            k->argmax(g, x + p * in, NULL, NULL, gy, gx, thread_scratch(&c));
            continue;
        }
        /* Caller indices: checked before any write to this plane. */
        const int64_t *ix = indices + p * out;
        int ok = 1;
        for (int64_t o = 0; o < out; o++) ok &= (uint64_t)ix[o] < (uint64_t)in;
        memset(gx, 0, (size_t)in * sizeof(float));
        if (!ok) {
            bad = 1;
            continue;
        }
        for (int64_t o = 0; o < out; o++) gx[ix[o]] += gy[o];
    }
    return bad ? FC_INVALID_ARGUMENT : FC_SUCCESS;
}

fc_status fc_avg_pool2d_forward_ws(const fc_pool2d_desc *d, const float *x, float *y,
                                   void *workspace, size_t workspace_size) {
    FC_CALL_SCOPE();
    if (!d || !x || !y) return FC_INVALID_ARGUMENT;
    POOL_CALL(c);
    fc_status st = open_call(d, 1, workspace, workspace_size, &c);
    if (st != FC_SUCCESS) return st;
    const fc_pool_ukernels *k = &fc_kernels_active()->pool;
    const fc_pool_geom *g = &c.g;
    int64_t in = g->H * g->W, out = g->OH * g->OW;
    #pragma omp parallel for num_threads(c.nt) schedule(static)
    for (int64_t p = 0; p < d->N * d->C; p++)
        k->avg_fwd(g, x + p * in, y + p * out, thread_scratch(&c));
    return FC_SUCCESS;
}

fc_status fc_avg_pool2d_backward_ws(const fc_pool2d_desc *d, const float *grad_y,
                                    float *grad_x, void *workspace, size_t workspace_size) {
    FC_CALL_SCOPE();
    if (!d || !grad_y || !grad_x) return FC_INVALID_ARGUMENT;
    POOL_CALL(c);
    fc_status st = open_call(d, 1, workspace, workspace_size, &c);
    if (st != FC_SUCCESS) return st;
    const fc_pool_ukernels *k = &fc_kernels_active()->pool;
    const fc_pool_geom *g = &c.g;
    int64_t in = g->H * g->W, out = g->OH * g->OW;
    #pragma omp parallel for num_threads(c.nt) schedule(static)
    for (int64_t p = 0; p < d->N * d->C; p++)
        k->avg_bwd(g, grad_y + p * out, grad_x + p * in, thread_scratch(&c));
    return FC_SUCCESS;
}

/* ------------------------------------------------------------ global pooling */

/* The calling OpenMP thread's share [p0, p1) of n items. */
static void thread_range(int64_t n, int64_t *p0, int64_t *p1) {
    int t, nt;
    fc_team(&t, &nt);
    *p0 = n * t / nt;
    *p1 = n * (t + 1) / nt;
}

static fc_status check_global(int64_t N, int64_t C, int64_t H, int64_t W) {
    if (N < 1 || C < 1 || H < 1 || W < 1) return FC_INVALID_SHAPE;
    /* (no workspace: one pass over each plane) */
    int64_t t;
    if (!fc_prod4(N, C, H, W, &t) || !fc_mul_ok(t, 8, &t)) return FC_SIZE_OVERFLOW;
    return FC_SUCCESS;
}

fc_status fc_global_avg_pool2d_forward(int64_t N, int64_t C, int64_t H, int64_t W,
                                       const float *x, float *y) {
    FC_CALL_SCOPE();
    if (!x || !y) return FC_INVALID_ARGUMENT;
    fc_status st = check_global(N, C, H, W);
    if (st != FC_SUCCESS) return st;
    const fc_pool_ukernels *k = &fc_kernels_active()->pool;
    int64_t hw = H * W;
    float div = (float)hw;
    int64_t np = N * C;
    /* One contiguous range of planes per thread: planes are often tiny (7x7). */
    #pragma omp parallel num_threads(fc_threads())
    {
        int64_t p0, p1;
        thread_range(np, &p0, &p1);
        if (p1 > p0) k->means(x + p0 * hw, hw, p1 - p0, div, y + p0);
    }
    return FC_SUCCESS;
}

fc_status fc_global_avg_pool2d_backward(int64_t N, int64_t C, int64_t H, int64_t W,
                                        const float *grad_y, float *grad_x) {
    FC_CALL_SCOPE();
    if (!grad_y || !grad_x) return FC_INVALID_ARGUMENT;
    fc_status st = check_global(N, C, H, W);
    if (st != FC_SUCCESS) return st;
    int64_t hw = H * W;
    float div = (float)hw;
    #pragma omp parallel for num_threads(fc_threads()) schedule(static)
    for (int64_t p = 0; p < N * C; p++) {
        float v = grad_y[p] / div;
        float *o = grad_x + p * hw;
        for (int64_t i = 0; i < hw; i++) o[i] = v;
    }
    return FC_SUCCESS;
}

fc_status fc_global_max_pool2d_forward(int64_t N, int64_t C, int64_t H, int64_t W,
                                       const float *x, float *y) {
    FC_CALL_SCOPE();
    if (!x || !y) return FC_INVALID_ARGUMENT;
    fc_status st = check_global(N, C, H, W);
    if (st != FC_SUCCESS) return st;
    const fc_pool_ukernels *k = &fc_kernels_active()->pool;
    int64_t hw = H * W;
    int64_t np = N * C;
    #pragma omp parallel num_threads(fc_threads())
    {
        int64_t p0, p1;
        thread_range(np, &p0, &p1);
        if (p1 > p0) k->maxes(x + p0 * hw, hw, p1 - p0, y + p0);
    }
    return FC_SUCCESS;
}

fc_status fc_global_max_pool2d_backward(int64_t N, int64_t C, int64_t H, int64_t W,
                                        const float *grad_y, const float *x,
                                        float *grad_x) {
    FC_CALL_SCOPE();
    if (!grad_y || !x || !grad_x) return FC_INVALID_ARGUMENT;
    fc_status st = check_global(N, C, H, W);
    if (st != FC_SUCCESS) return st;
    const fc_pool_ukernels *k = &fc_kernels_active()->pool;
    int64_t hw = H * W;
    #pragma omp parallel for num_threads(fc_threads()) schedule(static)
    for (int64_t p = 0; p < N * C; p++) {
        const float *xp = x + p * hw;
        float *o = grad_x + p * hw;
        float m = k->max(xp, hw);
        /* The scan rule of max_pool2d: the last NaN, else the first maximum. */
        int64_t at = 0;
        if (m != m) {
            for (at = hw - 1; at > 0 && xp[at] == xp[at]; at--) {}
        } else {
            while (at < hw - 1 && !(xp[at] == m)) at++;
        }
        memset(o, 0, (size_t)hw * sizeof(float));
        o[at] = grad_y[p];
    }
    return FC_SUCCESS;
}

/* ---------------------------------------------- the shorter forms: NULL workspace */

fc_status fc_max_pool2d_forward(const fc_pool2d_desc *d, const float *x, float *y,
                                int64_t *indices) {
    return fc_max_pool2d_forward_ws(d, x, y, indices, NULL, 0);
}

fc_status fc_max_pool2d_backward(const fc_pool2d_desc *d, const float *grad_y,
                                 const float *x, const int64_t *indices, float *grad_x) {
    return fc_max_pool2d_backward_ws(d, grad_y, x, indices, grad_x, NULL, 0);
}

fc_status fc_avg_pool2d_forward(const fc_pool2d_desc *d, const float *x, float *y) {
    return fc_avg_pool2d_forward_ws(d, x, y, NULL, 0);
}

fc_status fc_avg_pool2d_backward(const fc_pool2d_desc *d, const float *grad_y,
                                 float *grad_x) {
    return fc_avg_pool2d_backward_ws(d, grad_y, grad_x, NULL, 0);
}

/* Global pooling in the descriptor shape of the other op families. It needs no
 * workspace (its size query says 0); the workspace arguments are accepted for the
 * same calling shape. */
fc_status fc_global_pool2d_output_shape(const fc_global_pool2d_desc *d, int64_t *OH,
                                        int64_t *OW) {
    if (!d || !OH || !OW) return FC_INVALID_ARGUMENT;
    fc_status st = check_global(d->N, d->C, d->H, d->W);
    if (st == FC_SUCCESS) *OH = *OW = 1;
    return st;
}

fc_status fc_global_pool2d_workspace_size(const fc_global_pool2d_desc *d, fc_conv_pass pass,
                                          size_t *bytes) {
    if (!d || !bytes) return FC_INVALID_ARGUMENT;
    if (pass != FC_PASS_FORWARD && pass != FC_PASS_BACKWARD_DATA) return FC_INVALID_ARGUMENT;
    fc_status st = check_global(d->N, d->C, d->H, d->W);
    if (st == FC_SUCCESS) *bytes = 0;
    return st;
}

fc_status fc_global_avg_pool2d_forward_ws(const fc_global_pool2d_desc *d, const float *x,
                                          float *y, void *workspace, size_t workspace_size) {
    (void)workspace, (void)workspace_size;
    if (!d) return FC_INVALID_ARGUMENT;
    return fc_global_avg_pool2d_forward(d->N, d->C, d->H, d->W, x, y);
}

fc_status fc_global_avg_pool2d_backward_ws(const fc_global_pool2d_desc *d, const float *grad_y,
                                           float *grad_x, void *workspace,
                                           size_t workspace_size) {
    (void)workspace, (void)workspace_size;
    if (!d) return FC_INVALID_ARGUMENT;
    return fc_global_avg_pool2d_backward(d->N, d->C, d->H, d->W, grad_y, grad_x);
}

fc_status fc_global_max_pool2d_forward_ws(const fc_global_pool2d_desc *d, const float *x,
                                          float *y, void *workspace, size_t workspace_size) {
    (void)workspace, (void)workspace_size;
    if (!d) return FC_INVALID_ARGUMENT;
    return fc_global_max_pool2d_forward(d->N, d->C, d->H, d->W, x, y);
}

fc_status fc_global_max_pool2d_backward_ws(const fc_global_pool2d_desc *d, const float *grad_y,
                                           const float *x, float *grad_x, void *workspace,
                                           size_t workspace_size) {
    (void)workspace, (void)workspace_size;
    if (!d) return FC_INVALID_ARGUMENT;
    return fc_global_max_pool2d_backward(d->N, d->C, d->H, d->W, grad_y, x, grad_x);
}

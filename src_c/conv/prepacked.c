/* Convolution forward from weights packed once (public fc_conv2d_pack_weights and
 * fc_conv2d_forward_prepacked_ex): inference runs the same weights many times, and
 * packing them into the GEMM's panels on every call costs a pass over them (the whole
 * weight, 47 MB for ResNet-18, more than the L3) plus a quarter of a batch-1 deep
 * layer's instructions. The panels follow conv/im2col.c's forward; a header in front
 * of them records what they were packed for, checked on every run: a buffer packed
 * for another weight shape or another ISA's blocking is refused, never misread. */
#include <string.h>

#include "conv_desc.h"
#include "epilogue.h"
#include "im2col.h"
#include "core/registry.h"

#define PACKED_MAGIC 0x57504346u /* "FCPW" */
#define PACKED_VERSION 1u
/* 128 bytes: the panels after it keep the buffer's alignment to 64 bytes. */
#define HEADER_FLOATS 32

typedef struct header {
    uint32_t magic, version;
    int32_t isa, layout;      /* FC_IM2COL_WEIGHTS_AS_A or _AS_B (conv/im2col.h) */
    int64_t mr, nr, kc;       /* the GEMM blocking the panels follow */
    int64_t K, Cg, R, S, groups;
    int64_t panel_floats;     /* floats after the header */
} header;
_Static_assert(sizeof(header) <= HEADER_FLOATS * sizeof(float), "header too large");

/* The header of d's weights packed in `layout` under the call's kernel table; 0 on
 * overflow. */
static int make_header(const fc_conv2d_desc *d, int layout, header *h) {
    const fc_kernels *k = fc_kernels_active();
    memset(h, 0, sizeof *h);
    h->magic = PACKED_MAGIC;
    h->version = PACKED_VERSION;
    h->isa = (int32_t)k->isa;
    h->layout = layout;
    h->mr = k->gemm.mr;
    h->nr = k->gemm.nr;
    h->kc = k->gemm.kc;
    h->K = d->K;
    h->Cg = d->C / d->groups;
    h->R = d->R;
    h->S = d->S;
    h->groups = d->groups;
    h->panel_floats = fc_conv_im2col_packed_weights_floats(d, layout);
    return h->panel_floats >= 0 && h->panel_floats <= INT64_MAX - HEADER_FLOATS;
}

/* d checked; the total floats of its weights packed in `layout`. */
static fc_status packed_floats(const fc_conv2d_desc *d, int layout, header *h,
                               size_t *floats) {
    if (!make_header(d, layout, h)) return FC_SIZE_OVERFLOW;
    int64_t n = h->panel_floats + HEADER_FLOATS, bytes;
    if (!fc_mul_ok(n, (int64_t)sizeof(float), &bytes) || (uint64_t)bytes > SIZE_MAX)
        return FC_SIZE_OVERFLOW;
    *floats = (size_t)n;
    return FC_SUCCESS;
}

/* d checked: whether `packed` holds d's weights packed for the call's ISA. */
static fc_status check_packed(const fc_conv2d_desc *d, const float *packed, size_t floats) {
    header want, got;
    size_t need;
    if (floats < HEADER_FLOATS) return FC_INVALID_ARGUMENT;
    memcpy(&got, packed, sizeof got);
    if (got.magic != PACKED_MAGIC || got.version != PACKED_VERSION ||
        (got.layout != FC_IM2COL_WEIGHTS_AS_A && got.layout != FC_IM2COL_WEIGHTS_AS_B))
        return FC_INVALID_ARGUMENT;
    /* the layout is the packer's choice (from its descriptor): any serves any input */
    fc_status st = packed_floats(d, got.layout, &want, &need);
    if (st != FC_SUCCESS) return st;
    if (got.K != want.K || got.Cg != want.Cg || got.R != want.R || got.S != want.S ||
        got.groups != want.groups)
        return FC_INVALID_SHAPE; /* another convolution's weights */
    if (got.isa != want.isa || got.layout != want.layout || got.mr != want.mr ||
        got.nr != want.nr || got.kc != want.kc)
        return FC_INVALID_ARGUMENT; /* packed under another ISA (fc_set_isa since) */
    if (got.panel_floats != want.panel_floats || floats < need) return FC_INVALID_SHAPE;
    return FC_SUCCESS;
}

fc_status fc_conv2d_packed_weights_size(const fc_conv2d_desc *d, size_t *floats) {
    FC_CALL_SCOPE();
    if (!floats) return FC_INVALID_ARGUMENT;
    fc_status st = fc_conv2d_check(d, NULL, NULL);
    if (st != FC_SUCCESS) return st;
    header h;
    return packed_floats(d, fc_conv_im2col_weights_layout(d), &h, floats);
}

fc_status fc_conv2d_pack_weights(const fc_conv2d_desc *d, const float *w, float *packed,
                                 size_t packed_floats_given) {
    FC_CALL_SCOPE();
    if (!w || !packed) return FC_INVALID_ARGUMENT;
    fc_status st = fc_conv2d_check(d, NULL, NULL);
    if (st != FC_SUCCESS) return st;
    header h;
    size_t need;
    int layout = fc_conv_im2col_weights_layout(d);
    st = packed_floats(d, layout, &h, &need);
    if (st != FC_SUCCESS) return st;
    if (packed_floats_given < need) return FC_INVALID_WORKSPACE;
    memset(packed, 0, HEADER_FLOATS * sizeof(float));
    memcpy(packed, &h, sizeof h);
    fc_conv_im2col_pack_weights(d, layout, w, packed + HEADER_FLOATS);
    return FC_SUCCESS;
}

fc_status fc_conv2d_packed_weights_check(const fc_conv2d_desc *d, const float *packed,
                                         size_t packed_floats_given) {
    FC_CALL_SCOPE();
    if (!packed) return FC_INVALID_ARGUMENT;
    fc_status st = fc_conv2d_check(d, NULL, NULL);
    if (st != FC_SUCCESS) return st;
    return check_packed(d, packed, packed_floats_given);
}

fc_status fc_conv2d_prepacked_workspace_size(const fc_conv2d_desc *d, size_t *bytes) {
    FC_CALL_SCOPE();
    if (!bytes) return FC_INVALID_ARGUMENT;
    fc_status st = fc_conv2d_check(d, NULL, NULL);
    if (st != FC_SUCCESS) return st;
    *bytes = fc_conv_im2col_prepacked_workspace(d);
    return *bytes == SIZE_MAX ? FC_SIZE_OVERFLOW : FC_SUCCESS;
}

fc_status fc_conv2d_forward_prepacked_ex(const fc_conv2d_desc *d, const float *x,
                                         const float *packed, size_t packed_floats_given,
                                         const fc_epilogue *ep, float *y, void *workspace,
                                         size_t workspace_size) {
    FC_CALL_SCOPE();
    if (!x || !packed || !y) return FC_INVALID_ARGUMENT;
    int64_t OH, OW;
    fc_status st = fc_conv2d_check(d, &OH, &OW);
    if (st != FC_SUCCESS) return st;
    st = check_packed(d, packed, packed_floats_given);
    if (st != FC_SUCCESS) return st;
    const fc_epilogue none = {NULL, NULL, NULL, 0};
    if (!ep) ep = &none;
    st = fc_epilogue_check(ep, y, d->N * d->K * OH * OW);
    if (st != FC_SUCCESS) return st;
    size_t need = fc_conv_im2col_prepacked_workspace(d);
    if (need == SIZE_MAX) return FC_SIZE_OVERFLOW;
    FC_ARENA(ws);
    st = fc_workspace_open(workspace, workspace_size, need, &ws);
    if (st != FC_SUCCESS) return st;
    header h;
    memcpy(&h, packed, sizeof h);
    return fc_conv_im2col_forward_prepacked(d, h.layout, x, packed + HEADER_FLOATS, ep, y, &ws);
}

/* The convolution forward epilogue applied to one row of output (see epilogue.h).
 * Memory-bound (two loads and a store per element): baseline 16-byte vectors (SSE2,
 * NEON) reach the bandwidth, so it is written once for every ISA path, with explicit
 * vectors so that it does not depend on the compiler's alias checks. */
#include <string.h>

#include "epilogue.h"

typedef float ep_vf __attribute__((vector_size(16)));
typedef int32_t ep_vi __attribute__((vector_size(16)));
#define EP_VL 4

static inline ep_vf ep_load(const float *p) {
    ep_vf v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* max(v, 0) keeping NaN: the lanes that compare below zero are cleared */
static inline ep_vf ep_relu(ep_vf v) {
    ep_vf zero = {0};
    return (ep_vf)((ep_vi)v & ~(ep_vi)(v < zero));
}

static inline float ep_relu1(float v) { return v < 0.0f ? 0.0f : v; /* NaN stays NaN */ }

void fc_epilogue_row(const fc_epilogue *ep, int64_t k, const float *src, float *y, int64_t at,
                     int64_t len) {
    const float s = ep->scale ? ep->scale[k] : 1.0f, b = ep->bias ? ep->bias[k] : 0.0f;
    const ep_vf vs = (ep_vf){0} + s, vb = (ep_vf){0} + b;
    float *dst = y + at;
    /* res may be dst (in place), src may be dst: each vector is loaded before its store */
    const float *res = ep->residual ? ep->residual + at : NULL;
    const int relu = ep->relu;
    int64_t i = 0;
    if (res) {
        for (; i + EP_VL <= len; i += EP_VL) {
            ep_vf v = vs * ep_load(src + i) + vb + ep_load(res + i);
            if (relu) v = ep_relu(v);
            memcpy(dst + i, &v, sizeof v);
        }
        for (; i < len; i++) {
            float v = s * src[i] + b + res[i];
            dst[i] = relu ? ep_relu1(v) : v;
        }
    } else {
        for (; i + EP_VL <= len; i += EP_VL) {
            ep_vf v = vs * ep_load(src + i) + vb;
            if (relu) v = ep_relu(v);
            memcpy(dst + i, &v, sizeof v);
        }
        for (; i < len; i++) {
            float v = s * src[i] + b;
            dst[i] = relu ? ep_relu1(v) : v;
        }
    }
}

fc_status fc_epilogue_check(const fc_epilogue *ep, const float *y, int64_t n) {
    if (!ep->residual || ep->residual == y) return FC_SUCCESS;
    uintptr_t r0 = (uintptr_t)ep->residual, y0 = (uintptr_t)y;
    uintptr_t bytes = (uintptr_t)n * sizeof(float);
    return r0 < y0 + bytes && y0 < r0 + bytes ? FC_INVALID_ARGUMENT : FC_SUCCESS;
}

/* The convolution forward epilogue applied to one row of output (see epilogue.h). One
 * loop per case, so that each vectorizes without per-element branches. */
#include "epilogue.h"

void fc_epilogue_row(const fc_epilogue *ep, int64_t k, const float *src, float *y, int64_t at,
                     int64_t len) {
    const float s = ep->scale ? ep->scale[k] : 1.0f, b = ep->bias ? ep->bias[k] : 0.0f;
    float *dst = y + at;
    const float *res = ep->residual ? ep->residual + at : NULL;
    /* res may be dst (in place): element i is read before it is written */
    if (res && ep->relu) {
        for (int64_t i = 0; i < len; i++) {
            float v = s * src[i] + b + res[i];
            dst[i] = v < 0.0f ? 0.0f : v;
        }
    } else if (res) {
        for (int64_t i = 0; i < len; i++) dst[i] = s * src[i] + b + res[i];
    } else if (ep->relu) {
        for (int64_t i = 0; i < len; i++) {
            float v = s * src[i] + b;
            dst[i] = v < 0.0f ? 0.0f : v; /* NaN stays NaN */
        }
    } else {
        for (int64_t i = 0; i < len; i++) dst[i] = s * src[i] + b;
    }
}

fc_status fc_epilogue_check(const fc_epilogue *ep, const float *y, int64_t n) {
    if (!ep->residual || ep->residual == y) return FC_SUCCESS;
    uintptr_t r0 = (uintptr_t)ep->residual, y0 = (uintptr_t)y;
    uintptr_t bytes = (uintptr_t)n * sizeof(float);
    return r0 < y0 + bytes && y0 < r0 + bytes ? FC_INVALID_ARGUMENT : FC_SUCCESS;
}

/* 16-bit float conversion entry points: argument checks, then blocks of FC_CONVERT_BLOCK
 * elements over the call's threads, each block handed to the active table's kernel. A
 * conversion is memory-bound: a thread is woken only for a large share of work. */
#include "convert.h"
#include "core/registry.h"

/* Elements per thread below which a call does not wake another thread. */
#define MIN_PER_THREAD ((int64_t)1 << 16)

enum { TO_BF16, FROM_BF16, TO_F16, FROM_F16 };

static void run_range(const fc_convert_ukernels *k, int op, const void *x, void *y,
                      int64_t i0, int64_t i1) {
    int64_t n = i1 - i0;
    switch (op) {
    case TO_BF16: k->f32_to_bf16(n, (const float *)x + i0, (uint16_t *)y + i0); break;
    case FROM_BF16: k->bf16_to_f32(n, (const uint16_t *)x + i0, (float *)y + i0); break;
    case TO_F16: k->f32_to_f16(n, (const float *)x + i0, (uint16_t *)y + i0); break;
    case FROM_F16: k->f16_to_f32(n, (const uint16_t *)x + i0, (float *)y + i0); break;
    }
}

static fc_status convert(int op, int64_t n, const void *x, void *y) {
    if (n < 0) return FC_INVALID_SHAPE;
    if (n == 0) return FC_SUCCESS;
    if (!x || !y) return FC_INVALID_ARGUMENT;
    /* no overlap: the float32 side is twice as long */
    const char *xa = (const char *)x, *ya = (const char *)y;
    size_t xb = (size_t)n * (op == TO_BF16 || op == TO_F16 ? 4 : 2);
    size_t yb = (size_t)n * (op == TO_BF16 || op == TO_F16 ? 2 : 4);
    if (xa < ya + yb && ya < xa + xb) return FC_INVALID_ARGUMENT;
    const fc_convert_ukernels *k = &fc_kernels_active()->convert;
    int64_t nt = fc_min64(fc_threads(), n / MIN_PER_THREAD);
    int64_t nb = fc_ceil_div(n, FC_CONVERT_BLOCK);
    if (nt <= 1 || nb == 1) {
        run_range(k, op, x, y, 0, n);
        return FC_SUCCESS;
    }
    #pragma omp parallel for num_threads((int)nt) schedule(static)
    for (int64_t b = 0; b < nb; b++)
        run_range(k, op, x, y, b * FC_CONVERT_BLOCK, fc_min64(n, (b + 1) * FC_CONVERT_BLOCK));
    return FC_SUCCESS;
}

fc_status fc_convert_f32_to_bf16(int64_t n, const float *x, uint16_t *y) {
    FC_CALL_SCOPE();
    return convert(TO_BF16, n, x, y);
}

fc_status fc_convert_bf16_to_f32(int64_t n, const uint16_t *x, float *y) {
    FC_CALL_SCOPE();
    return convert(FROM_BF16, n, x, y);
}

fc_status fc_convert_f32_to_f16(int64_t n, const float *x, uint16_t *y) {
    FC_CALL_SCOPE();
    return convert(TO_F16, n, x, y);
}

fc_status fc_convert_f16_to_f32(int64_t n, const uint16_t *x, float *y) {
    FC_CALL_SCOPE();
    return convert(FROM_F16, n, x, y);
}

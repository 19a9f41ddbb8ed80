/* SGEMM packing with transposition, AVX2 (used by the AVX2 and AVX-512 tables):
 * dst[p][j] = src[j * ld + p] for j < w (w % 8 == 0), p < kc, in 8 x 8 blocks. The
 * scalar loop it replaces writes one float per store with a stride of w floats. */
#pragma GCC target("avx2,fma")
#include <immintrin.h>

#include "kernels/avx2/avx2.h"

static inline void transpose8(__m256 r[8]) {
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
    __m256 u1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 u2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
    __m256 u3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 u4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
    __m256 u5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 u6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
    __m256 u7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
    r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
    r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

void fc_f32_gemm_pack_transposed_ukernel_8x8__avx2(const float *src, int64_t ld, int64_t kc,
                                                   int64_t w, float *dst) {
    int64_t p0 = 0;
    for (; p0 + 8 <= kc; p0 += 8)
        for (int64_t j0 = 0; j0 < w; j0 += 8) {
            __m256 r[8];
            for (int q = 0; q < 8; q++) r[q] = _mm256_loadu_ps(src + (j0 + q) * ld + p0);
            transpose8(r);
            for (int q = 0; q < 8; q++) _mm256_storeu_ps(dst + (p0 + q) * w + j0, r[q]);
        }
    for (; p0 < kc; p0++)
        for (int64_t j = 0; j < w; j++) dst[p0 * w + j] = src[j * ld + p0];
}

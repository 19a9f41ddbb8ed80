/* SGEMM packing with transposition, AVX-512: dst[p][j] = src[j * ld + p] for j < w
 * (w % 8 == 0), p < kc, in 16 x 16 blocks (64 shuffles per 256 floats against the
 * AVX2 8 x 8 blocks' 96), and 8 x 8 ones for the columns past a multiple of 16 (an
 * MR = 8 panel of A). A last k block shorter than the block is read with masked loads
 * and only its rows stored. */
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")
#include <immintrin.h>

#include "kernels/avx512/avx512.h"

#define PD(v) _mm512_castps_pd(v)
#define PS(v) _mm512_castpd_ps(v)

static inline void transpose16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) { /* 2 x 2 blocks of pairs of rows */
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) { /* 4 x 4 blocks in every 128-bit lane */
        r[i] = PS(_mm512_unpacklo_pd(PD(t[i]), PD(t[i + 2])));
        r[i + 1] = PS(_mm512_unpackhi_pd(PD(t[i]), PD(t[i + 2])));
        r[i + 2] = PS(_mm512_unpacklo_pd(PD(t[i + 1]), PD(t[i + 3])));
        r[i + 3] = PS(_mm512_unpackhi_pd(PD(t[i + 1]), PD(t[i + 3])));
    }
    for (int h = 0; h < 16; h += 8) /* 128-bit lanes: even and odd ones of 2 rows */
        for (int i = 0; i < 4; i++) {
            t[h + i] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0x88);
            t[h + i + 4] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0xdd);
        }
    for (int i = 0; i < 8; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
        r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
    }
}

static inline void transpose8(__m256 r[8]) {
    __m256 t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
        r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
    }
}

void fc_f32_gemm_pack_transposed_ukernel_16x16__avx512(const float *src, int64_t ld, int64_t kc,
                                                       int64_t w, float *dst) {
    int64_t w16 = w / 16 * 16;
    for (int64_t p0 = 0; p0 < kc; p0 += 16) {
        int64_t m = kc - p0 < 16 ? kc - p0 : 16;
        __mmask16 k = (__mmask16)((1u << m) - 1);
        for (int64_t j0 = 0; j0 < w16; j0 += 16) {
            __m512 r[16];
            for (int q = 0; q < 16; q++) r[q] = _mm512_maskz_loadu_ps(k, src + (j0 + q) * ld + p0);
            transpose16(r);
            for (int q = 0; q < m; q++) _mm512_storeu_ps(dst + (p0 + q) * w + j0, r[q]);
        }
        for (int64_t h = 0; h < m && w16 < w; h += 8) { /* columns [w16, w16 + 8) */
            int64_t mh = m - h < 8 ? m - h : 8;
            __mmask8 kh = (__mmask8)((1u << mh) - 1);
            __m256 r[8];
            for (int q = 0; q < 8; q++) r[q] = _mm256_maskz_loadu_ps(kh, src + (w16 + q) * ld + p0 + h);
            transpose8(r);
            for (int q = 0; q < mh; q++) _mm256_storeu_ps(dst + (p0 + h + q) * w + w16, r[q]);
        }
    }
}

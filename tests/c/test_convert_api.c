/* The 16-bit float conversions: every table against an independent reference (rounding
 * done in double with nearbyint, not the kernels' bit tricks) over all 65536 16-bit
 * patterns, their neighbours and rounding ties, random float32 bits (subnormals, NaN,
 * inf included), odd lengths (vector tails), two thread counts; argument checks. An
 * optional argument shrinks the random part (valgrind runs pass 8). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastconv.h"

#define CHECK(c) do { if (!(c)) { printf("FAIL %s:%d %s\n", __FILE__, __LINE__, #c); return 1; } } while (0)

static uint32_t bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float from_bits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

/* Value of a 16-bit pattern with `mant` mantissa bits and exponent bias `bias`. */
static double value16(uint16_t h, int mant, int bias) {
    int ebits = 15 - mant;
    int e = (h >> mant) & ((1 << ebits) - 1), m = h & ((1 << mant) - 1);
    double v = e ? ldexp(1.0 + ldexp(m, -mant), e - bias) : ldexp(m, 1 - bias - mant);
    return (h & 0x8000) ? -v : v;
}

/* Reference float32 -> 16-bit: scale to integer units of the result's ulp, round half to
 * even with nearbyint (the default rounding mode), rebuild. */
static uint16_t ref_to16(float f, int mant, int bias) {
    uint32_t u = bits(f), sign = (u >> 16) & 0x8000u;
    int ebits = 15 - mant, emax = (1 << ebits) - 1;
    if (isnan(f)) return (uint16_t)(sign | (emax << mant) | (1u << (mant - 1)) |
                                    ((u & 0x7fffffu) >> (23 - mant)));
    double a = fabs((double)f);
    if (isinf(f)) return (uint16_t)(sign | (emax << mant));
    int e;
    frexp(a, &e);                       /* a = f * 2^e, f in [0.5, 1) */
    int ue = e - 1 < 1 - bias ? 1 - bias : e - 1;  /* exponent of a's binade, min normal */
    double q = nearbyint(ldexp(a, mant - ue));       /* units of 2^(ue - mant) */
    double r = ldexp(q, ue - mant);
    if (r == 0) return (uint16_t)sign;
    /* r is rounded at an unbounded exponent: beyond the largest finite value, IEEE
     * overflows to inf */
    if (r > ldexp(2.0 - ldexp(1.0, -mant), emax - 1 - bias))
        return (uint16_t)(sign | (emax << mant));
    int re;
    frexp(r, &re);
    re -= 1;
    if (re < 1 - bias) return (uint16_t)(sign | (uint32_t)ldexp(r, bias - 1 + mant));
    uint32_t m = (uint32_t)(ldexp(r, mant - re) - ldexp(1.0, mant));
    return (uint16_t)(sign | ((uint32_t)(re + bias) << mant) | m);
}

static uint32_t ref_from16(uint16_t h, int mant, int bias) {
    int ebits = 15 - mant, emax = (1 << ebits) - 1;
    if (((h >> mant) & emax) == emax && (h & ((1 << mant) - 1)))
        return ((uint32_t)(h & 0x8000) << 16) | 0x7fc00000u |
               ((uint32_t)(h & ((1 << mant) - 1)) << (23 - mant));
    if (((h >> mant) & emax) == emax) return (h & 0x8000) ? bits(-INFINITY) : bits(INFINITY);
    float f = (float)value16(h, mant, bias);
    return bits(f);
}

typedef fc_status (*to16_fn)(int64_t, const float *, uint16_t *);
typedef fc_status (*from16_fn)(int64_t, const uint16_t *, float *);

int main(int argc, char **argv) {
    int64_t nrand = argc > 1 ? 4099 : 300001;   /* above the threading threshold */
    int64_t n = 65536 * 7 + nrand;
    float *x = calloc(n, 4), *back = malloc(n * 4);
    uint16_t *h = malloc(n * 2), *all = malloc(65536 * 2);
    uint32_t s = 12345;
    struct { to16_fn to; from16_fn from; int mant, bias; } kinds[2] = {
        {fc_convert_f32_to_bf16, fc_convert_bf16_to_f32, 7, 127},
        {fc_convert_f32_to_f16, fc_convert_f16_to_f32, 10, 15}};

    CHECK(fc_convert_f32_to_bf16(-1, x, h) == FC_INVALID_SHAPE);
    CHECK(fc_convert_f32_to_f16(5, NULL, h) == FC_INVALID_ARGUMENT);
    CHECK(fc_convert_f16_to_f32(5, h, NULL) == FC_INVALID_ARGUMENT);
    CHECK(fc_convert_bf16_to_f32(0, NULL, NULL) == FC_SUCCESS);
    CHECK(fc_convert_f32_to_bf16(8, x, (uint16_t *)(x + 2)) == FC_INVALID_ARGUMENT);

    for (int i = 0; i < 65536; i++) all[i] = (uint16_t)i;
    fc_isa isas[3] = {FC_ISA_PORTABLE, FC_ISA_AVX2, FC_ISA_AVX512};
    for (int kk = 0; kk < 2; kk++) {
        int mant = kinds[kk].mant, bias = kinds[kk].bias;
        /* inputs: each 16-bit value exactly, one float32 ulp either side, the ties
         * halfway to the next pattern and one ulp either side of them, random bits */
        int64_t j = 0;
        for (int i = 0; i < 65536; i++) {
            uint32_t v = ref_from16((uint16_t)i, mant, bias);
            uint32_t half = 1u << (22 - mant);           /* half a 16-bit ulp, normals */
            x[j++] = from_bits(v);
            x[j++] = from_bits(v + 1);
            x[j++] = from_bits(v - 1);
            float nxt = (float)value16((uint16_t)(i + 1), mant, bias);
            float tie = (float)(((double)from_bits(v) + (double)nxt) / 2);  /* exact */
            x[j++] = i % 2 ? from_bits(v + half) : tie;
            x[j++] = from_bits(bits(tie) + 1);
            x[j++] = from_bits(bits(tie) - 1);
            x[j++] = from_bits(v | 0x7fu);
        }
        for (; j < n; j++) {
            s = s * 1664525u + 1013904223u;
            uint32_t r = s ^ (s >> 7) * 2654435761u;
            if (j % 5 == 0) r &= 0x807fffffu;            /* float32 subnormals */
            if (j % 7 == 0) r |= 0x7f800000u;            /* inf and NaN */
            x[j] = from_bits(r);
        }
        for (int ii = 0; ii < 3; ii++) {
            if (fc_set_isa(isas[ii]) != FC_SUCCESS) continue;
            for (int t = 1; t <= 2; t++) {
                CHECK(fc_set_num_threads(t) == FC_SUCCESS);
                for (int64_t len = n; len >= n - 9; len -= 9) {   /* odd tails */
                    memset(h, 0xab, n * 2);
                    CHECK(kinds[kk].to(len, x, h) == FC_SUCCESS);
                    for (int64_t i = 0; i < len; i++) {
                        uint16_t want = ref_to16(x[i], mant, bias);
                        if (h[i] != want) {
                            printf("kind %d isa %d: x=%08x got %04x want %04x\n", kk,
                                   (int)isas[ii], bits(x[i]), h[i], want);
                            return 1;
                        }
                    }
                    CHECK(len == n || h[len] == 0xabab);
                }
                CHECK(kinds[kk].from(65536, all, back) == FC_SUCCESS);
                for (int i = 0; i < 65536; i++)
                    CHECK(bits(back[i]) == ref_from16((uint16_t)i, mant, bias));
            }
        }
    }
    fc_set_num_threads(0);
    free(x); free(back); free(h); free(all);
    printf("ok\n");
    return 0;
}

/* 16-bit float conversions: float32 <-> bfloat16 and float32 <-> IEEE float16 (binary16).
 * The loops (convert/convert.c) check arguments and split flat arrays into blocks over
 * threads; the per-ISA kernels (kernels/<isa>/f32_convert_<isa>.c, one body in
 * kernels/f32_convert.inc) convert one contiguous range and know nothing of threads. */
#ifndef FC_CONVERT_H
#define FC_CONVERT_H

#include "../core/internal.h"

/* Elements per block of a flat conversion. */
#define FC_CONVERT_BLOCK ((int64_t)32768)

/* Kernel contract. Every kernel reads x[0, n) and writes y[0, n) (n >= 0); x and y never
 * overlap. The result is the same bits on every ISA:
 * - float32 -> 16-bit: round to nearest, ties to even; values beyond the 16-bit range
 *   round to +-inf as IEEE 754 says (float16: |x| >= 65520; bfloat16: the carry out of
 *   the top finite value); float32 subnormals round like any value (float16 may produce
 *   its own subnormals; bfloat16 keeps float32's exponent range, subnormals included).
 * - NaN -> NaN with the sign kept, the payload's top bits kept and the quiet bit set
 *   (what F16C's vcvtps2ph and AVX512_BF16's vcvtneps2bf16 do).
 * - 16-bit -> float32 is exact; a NaN comes out quiet (bit 22 set), sign and payload
 *   kept (what vcvtph2ps does). */
typedef struct fc_convert_ukernels {
    void (*f32_to_bf16)(int64_t n, const float *x, uint16_t *y);
    void (*bf16_to_f32)(int64_t n, const uint16_t *x, float *y);
    void (*f32_to_f16)(int64_t n, const float *x, uint16_t *y);
    void (*f16_to_f32)(int64_t n, const uint16_t *x, float *y);
} fc_convert_ukernels;

#endif

/* Elementwise ops: activations, adds, per-channel bias, dropout. The loops
 * (eltwise/eltwise.c) check arguments and split flat arrays into blocks over threads;
 * the per-ISA kernels (kernels/<isa>/f32_eltwise_<isa>.c, one body in
 * kernels/f32_eltwise.inc) compute one contiguous range and know nothing of threads. */
#ifndef FC_ELTWISE_H
#define FC_ELTWISE_H

#include "../core/internal.h"

/* Floats per block of a flat op: a multiple of 64, so that every block but the last
 * starts and ends on a whole uint64 of dropout mask bits. */
#define FC_ELTWISE_BLOCK ((int64_t)16384)

/* Kernel contract. Every kernel reads and writes exactly [0, n) of its arrays (n >= 0)
 * and is elementwise, so an output may be the same pointer as an input (never a
 * partial overlap).
 * activation_forward / activation_backward: kind is a valid fc_activation; the
 *   backward reads x_or_y as fastconv.h states per kind.
 * bias_add: y[i] += b.  sum: the sum of x[0, n), accumulated in double per chunk.
 * dropout_forward: elements [i0, i0 + n) of the whole array (i0 % 64 == 0, for the
 *   index-keyed random stream); mask receives ceil(n / 8) bytes, bit i % 8 of byte i / 8
 *   set when element i0 + i is kept (unused bits of the last byte zero). An element is
 *   kept when the 24-bit hash of (key, index) is >= threshold (threshold in [0, 2^24]);
 *   y = x * (kept ? scale : 0).
 * dropout_backward: gx = gy * (bit ? scale : 0), mask as dropout_forward wrote it. */
typedef struct fc_eltwise_ukernels {
    void (*activation_forward)(fc_activation kind, float alpha, int64_t n, const float *x,
                               float *y);
    void (*activation_backward)(fc_activation kind, float alpha, int64_t n,
                                const float *x_or_y, const float *gy, float *gx);
    void (*add)(int64_t n, const float *a, const float *b, float *y);
    void (*add_relu)(int64_t n, const float *a, const float *b, float *y);
    void (*bias_add)(int64_t n, float b, float *y);
    double (*sum)(int64_t n, const float *x);
    void (*dropout_forward)(int64_t i0, int64_t n, uint32_t threshold, float scale,
                            uint64_t key, const float *x, float *y, uint8_t *mask);
    void (*dropout_backward)(int64_t n, float scale, const uint8_t *mask, const float *gy,
                             float *gx);
} fc_eltwise_ukernels;

/* The dropout stream's key for a seed (splitmix64 of the seed): shared by the loops and
 * the kernel tests. */
static inline uint64_t fc_dropout_key(uint64_t seed) {
    uint64_t z = seed + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

#endif

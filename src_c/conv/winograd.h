/* Winograd convolution F(2x2,3x3) and F(4x4,3x3): the loops (conv/winograd_common.c)
 * and the contract of the per-ISA tile transforms they call through the registry
 * (kernels/<isa>/f32_winograd_<isa>.c, one body in kernels/f32_winograd.inc).
 *
 * Data flow of one pass (stride 1, 3x3, any padding, negative padding = cropping):
 *   x  --pack-->  xq: each padded input plane in "phase layout" (column j of the
 *                 padded row stored at [j % m][j / m]) so that the same column of
 *                 consecutive tiles is contiguous;
 *   xq --input transform-->  V[xi][C][TB]  (xi = transform position, TB tiles of a
 *                 block of whole tile rows, batched across images);
 *   V  --GEMM per xi and group-->  M[xi][K][TB] = U[g][xi][Kg][Cg] x V[xi][Cg][TB];
 *   M  --output transform-->  y.
 */
#ifndef FC_CONV_WINOGRAD_H
#define FC_CONV_WINOGRAD_H

#include "../core/internal.h"

/* One tile row of the input transform: tiles tw = 0..TW-1 of tile row th of one
 * packed plane; writes V[xi][tile] at v + xi * v_xi + tw. */
typedef struct fc_winograd_input {
    const float *xq;          /* packed plane */
    int64_t qrow, phase;      /* floats per packed row; floats per phase (TW + 1) */
    int64_t th, TW;
    float *v;
    int64_t v_xi;
} fc_winograd_input;

/* One tile row of the output transform: reads M[xi][tile] at mrow + xi * m_xi + tw,
 * writes output rows th*m .. of plane y (OH x OW), adding bias. The kernel returns
 * nonzero when a value it computed is NaN or infinite (it may also flag a row for
 * values it computed but did not store: the caller re-scans the stored ones). */
typedef struct fc_winograd_output {
    const float *mrow;
    int64_t m_xi;
    int64_t th, TW, OH, OW;
    float bias;
    float *y;
} fc_winograd_output;

typedef void (*fc_winograd_input_fn)(const fc_winograd_input *a);
typedef int (*fc_winograd_output_fn)(const fc_winograd_output *a);

/* 1 when Winograd serves the descriptor (3x3, stride 1, dilation 1). */
int fc_winograd_serves(const fc_conv2d_desc *d);
/* Output tile size m (2 or 4) of a Winograd algorithm, 0 for any other. */
int fc_winograd_tile(fc_conv_algorithm algo);
size_t fc_winograd_workspace(const fc_conv2d_desc *d, fc_conv_algorithm algo, fc_conv_pass pass);
/* y = the epilogue (conv/epilogue.h; never NULL) of conv(x, w). */
fc_status fc_winograd_forward(const fc_conv2d_desc *d, fc_conv_algorithm algo, const float *x,
                              const float *w, const fc_epilogue *ep, float *y, fc_arena *ws);
fc_status fc_winograd_backward_data(const fc_conv2d_desc *d, fc_conv_algorithm algo,
                                    const float *gy, const float *w, float *gx, fc_arena *ws);
fc_status fc_winograd_backward_weights(const fc_conv2d_desc *d, const float *gy,
                                       const float *x, float *gw, float *gb, fc_arena *ws);


#endif

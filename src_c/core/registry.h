/* The kernel registry: every micro-kernel of every op family, with its blocking
 * parameters, in one constant table per ISA (core/registry.c), BLIS-style.
 *
 * - The portable table is complete; each ISA's table starts as a copy of the table
 *   it extends and overrides what it has, so an entry an ISA does not provide
 *   inherits a working kernel.
 * - A table states the CPU capabilities (FC_CAP_* bits) its kernels need. The
 *   default is the first table, best first, whose needs the CPU meets; fc_set_isa and
 *   FASTCONV_ISA choose another by its public fc_isa value or its name.
 * - Each call's scope (core/call.c) takes the table once; loops reach kernels only
 *   through fc_kernels_active(), never by testing the ISA.
 *
 * Kernel contracts live beside the loops that call them (gemm/gemm.h, conv/direct.h,
 * conv/depthwise.h, conv/winograd.h, pool/pool.h); the per-ISA prototypes in
 * kernels/<isa>/<isa>.h. See docs/adding_kernels.md. */
#ifndef FC_REGISTRY_H
#define FC_REGISTRY_H

#include <stdint.h>

#include "core/internal.h"
#include "conv/depthwise.h"
#include "conv/direct.h"
#include "conv/smallc.h"
#include "conv/winograd.h"
#include "gemm/gemm.h"
#include "pool/pool.h"
#include "norm/batch_norm.h"
#include "optim/optim.h"
#include "eltwise/eltwise.h"
#include "loss/softmax_xent.h"
#include "convert/convert.h"
#include "conv/blocked.h"
#include "conv/im2col_inplace.h"

/* CPU capabilities, detected once (core/cpu.c). Independent bits, not a ladder: a
 * table names exactly the ones its kernels are compiled for. */
enum {
    FC_CAP_AVX2 = 1u << 0,
    FC_CAP_FMA = 1u << 1,
    FC_CAP_AVX512F = 1u << 2,
    FC_CAP_AVX512BW = 1u << 3,
    FC_CAP_AVX512DQ = 1u << 4,
    FC_CAP_AVX512VL = 1u << 5,
    FC_CAP_AVX512_BF16 = 1u << 6,
    FC_CAP_NEON = 1u << 7,
    FC_CAP_F16C = 1u << 8,
};
/* The capabilities of this CPU (and OS: wide registers saved). Exported for the
 * kernel tests (tests/kernels/), not part of fastconv.h. */
FC_API uint32_t fc_cpu_caps(void);

/* FMA-throughput loop (kernels/f32_peak_fma.inc): `iters` rounds of `lanes` FMAs;
 * returns a value that depends on all of them. */
typedef double (*fc_peak_fma_fn)(int64_t iters, float seed);

typedef struct fc_kernels {
    const char *name;   /* "avx2": FASTCONV_ISA's spelling */
    fc_isa isa;         /* the public value fc_get_isa reports */
    uint32_t requires;  /* FC_CAP_* bits the CPU must have */

    /* Packed SGEMM (gemm/sgemm.c): mr x nr register tile, cache blocks
     * mc % mr == 0, nc % nr == 0, mr * nr <= FC_GEMM_TILE_MAX. */
    struct fc_gemm_config {
        fc_gemm_ukernel_fn ukernel;
        fc_gemm_epi_ukernel_fn ukernel_epi;  /* the same tile with fc_gemm_epi at its store */
        int64_t mr, nr, mc, kc, nc;
        int a_in_l1;                  /* loop order: ir outside jr */
        fc_gemm_pack_fn pack_transposed; /* transposing pack (8x8 or 16x16 blocks), or NULL */
    } gemm;

    struct {
        fc_direct_rows_fn forward;               /* also backward-data */
        fc_direct_bwd_weights_fn bwd_weights;
    } conv_direct;

    struct {
        fc_depthwise_rows_fn forward;            /* also backward-data */
        fc_depthwise_bwd_weights_fn bwd_weights;
        fc_depthwise_lanes_fn lanes;             /* forward, channels in the lanes */
        fc_depthwise_lanes_bww_fn lanes_bww;     /* ... backward-weights */
        int lanes_vl;                            /* ... lanes of its vectors */
    } depthwise;

    struct {  /* F(2x2,3x3) and F(4x4,3x3) tile transforms */
        fc_winograd_input_fn input_2x2, input_4x4;
        fc_winograd_output_fn output_2x2, output_4x4;
    } winograd;

    fc_pool_ukernels pool;

    fc_optim_ukernels optim;                     /* SGD, Adam/AdamW updates */

    struct {
        fc_peak_fma_fn fma;
        int lanes;                               /* FMAs per round */
    } peak;

    fc_batch_norm_ukernels batch_norm;           /* norm/batch_norm.h */
    fc_eltwise_ukernels eltwise;
    fc_gemv_ukernels gemv;                       /* unpacked small products (gemm/gemm.h) */
    fc_xent_ukernels xent;                       /* softmax cross-entropy (loss/softmax_xent.h) */
    fc_convert_ukernels convert;                 /* convert/convert.h: 16-bit floats */

    struct {  /* conv/blocked.h: NCHW8c direct convolution */
        fc_blocked_fn forward;
        fc_blocked_wg_in_fn wg_input;            /* Winograd F(2x2,3x3)'s transforms */
        fc_blocked_wg_out_fn wg_output;
        fc_blocked_wg_filt_fn wg_filter;
        fc_blocked_wg_grad_fn wg_grad;
        int64_t np;                              /* output pixels per tile, at most */
        int64_t group_bytes;                     /* weights a work item reads, at most */
        /* 1: AUTO runs every 3x3 layer of 64+ channels on it, whatever the batch, map
         * and AUTO's own choice (conv/conv2d.c, blocked_3x3_pays) */
        int all_3x3;
        /* 1: a caller keeping activations in NCHW8c (an inference plan) runs every
         * convolution of 16+ input channels on it at any batch (fc_conv2d_plan_blocked) */
        int plan_any_batch;
        /* the fewest channels in and out of a 3x3 stride-2 layer whose backward-data
         * AUTO runs as one blocked forward per phase (conv/bwd_data_phases.c); 0: never */
        int64_t phases_min_channels;
    } conv_blocked;
    struct {  /* flat-tap direct convolution for few input channels (conv/smallc.h) */
        fc_smallc_rows_fn forward;
    } conv_smallc;
    struct {  /* im2col forward with the weights read in place (conv/im2col_inplace.h) */
        fc_conv_inplace_fn forward;
        int vl;                                  /* floats per vector */
        int mr;                                  /* rows of its register tile */
    } conv_inplace;
} fc_kernels;

typedef struct fc_gemm_config fc_gemm_config;

/* Registered tables, best first; NULL past the last. Exported for the kernel tests. */
FC_API const fc_kernels *fc_kernels_table(int i);
/* 1 when this CPU has every capability the table requires. */
FC_API int fc_kernels_runnable(const fc_kernels *k);
/* The best runnable table (the default). */
const fc_kernels *fc_kernels_best(void);
/* The table of a public fc_isa value or of a name; NULL when none is registered. */
const fc_kernels *fc_kernels_for_isa(fc_isa isa);
const fc_kernels *fc_kernels_named(const char *name);

/* The call's table (core/call.c): taken once when the outermost scope opens. */
const fc_kernels *fc_kernels_active(void);
/* The setting itself (fc_set_isa / FASTCONV_ISA), read when a scope opens. */
const fc_kernels *fc_kernels_setting(void);

#endif

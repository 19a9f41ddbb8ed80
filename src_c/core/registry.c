/* The kernel tables, one per ISA, built once (see registry.h).
 *
 * BLIS-style (config/haswell/bli_cntx_init_haswell.c): the portable table names a
 * kernel for every entry; each other table starts as a copy of the table it extends
 * and overrides what its ISA does better, with the blocking sizes beside the kernels
 * they belong to. Adding an ISA: a folder of kernels (kernels/<isa>/), one init
 * function here, one line in g_tables, one detection branch in core/cpu.c. */
#include <pthread.h>
#include <string.h>

#include "core/registry.h"
#include "kernels/avx2/avx2.h"
#include "kernels/avx512/avx512.h"
#include "kernels/portable/portable.h"

static fc_kernels t_portable, t_avx2, t_avx512;

/* Plain C: GCC vectors of 16 bytes (SSE2 on x86-64, scalars elsewhere). */
static void init_portable(fc_kernels *t) {
    *t = (fc_kernels){
        .name = "portable",
        .isa = FC_ISA_PORTABLE,
        .requires = 0,
        .gemm = {.ukernel = fc_f32_gemm_ukernel_4x8__portable,
                 .ukernel_epi = fc_f32_gemm_epi_ukernel_4x8__portable,
                 .mr = 4, .nr = 8, .mc = 128, .kc = 256, .nc = 2048,
                 .a_in_l1 = 0, .pack_transposed = NULL},
        .conv_direct = {.forward = fc_f32_conv_direct_ukernel_8x8__portable,
                        .bwd_weights = fc_f32_conv_direct_bwd_weights_ukernel_4x3__portable},
        .depthwise = {.forward = fc_f32_depthwise_ukernel_2x8__portable,
                      .bwd_weights = fc_f32_depthwise_bwd_weights_ukernel_16x4__portable,
                      .lanes = fc_f32_depthwise_lanes_ukernel_4__portable,
                      .lanes_bww = fc_f32_depthwise_lanes_bww_ukernel_4__portable, .lanes_vl = 4},
        .winograd = {.input_2x2 = fc_f32_winograd_input_ukernel_2x2__portable,
                     .input_4x4 = fc_f32_winograd_input_ukernel_4x4__portable,
                     .output_2x2 = fc_f32_winograd_output_ukernel_2x2__portable,
                     .output_4x4 = fc_f32_winograd_output_ukernel_4x4__portable},
        .pool = {.max_fwd = fc_f32_maxpool_ukernel__portable,
                 .argmax = fc_f32_argmaxpool_ukernel__portable,
                 .avg_fwd = fc_f32_avgpool_ukernel__portable,
                 .avg_bwd = fc_f32_avgpool_bwd_data_ukernel__portable,
                 .means = fc_f32_global_avgpool_ukernel__portable,
                 .maxes = fc_f32_global_maxpool_ukernel__portable,
                 .max = fc_f32_reduce_max_ukernel__portable},
        .optim = {.sgd = fc_f32_sgd_ukernel__portable,
                  .adam = fc_f32_adam_ukernel__portable},
        .peak = {.fma = fc_f32_peak_fma_ukernel_12x4__portable,
                 .lanes = fc_f32_peak_fma_lanes__portable},
        .batch_norm = {.stats = fc_f32_batch_norm_stats_ukernel__portable,
                       .apply = fc_f32_batch_norm_apply_ukernel__portable,
                       .bwd_reduce = fc_f32_batch_norm_bwd_reduce_ukernel__portable,
                       .bwd_apply = fc_f32_batch_norm_bwd_apply_ukernel__portable},
    };
    t->eltwise = (fc_eltwise_ukernels){
        .activation_forward = fc_f32_activation_forward_ukernel__portable,
        .activation_backward = fc_f32_activation_backward_ukernel__portable,
        .add = fc_f32_add_ukernel__portable,
        .add_relu = fc_f32_add_relu_ukernel__portable,
        .bias_add = fc_f32_bias_add_ukernel__portable,
        .sum = fc_f32_sum_ukernel__portable,
        .dropout_forward = fc_f32_dropout_forward_ukernel__portable,
        .dropout_backward = fc_f32_dropout_backward_ukernel__portable};
    t->gemv = (fc_gemv_ukernels){.dot = fc_f32_gemv_dot_ukernel_4x2__portable,
                                 .axpy = fc_f32_gemv_axpy_ukernel_4__portable};
    t->gemv.bcast = fc_f32_gemv_bcast_ukernel__portable;
    t->gemv.tile = fc_f32_gemv_tile_ukernel_6x2v__portable;
    t->gemv.tile_mr = 6;
    t->gemv.vl = 4;
    t->xent.exp_sum = fc_f32_xent_exp_sum_ukernel__portable;
    t->convert = (fc_convert_ukernels){.f32_to_bf16 = fc_f32_to_bf16_ukernel__portable,
                                       .bf16_to_f32 = fc_bf16_to_f32_ukernel__portable,
                                       .f32_to_f16 = fc_f32_to_f16_ukernel__portable,
                                       .f16_to_f32 = fc_f16_to_f32_ukernel__portable};
    t->conv_blocked.forward = fc_f32_conv_blocked_ukernel_16x3__portable;
    t->conv_blocked.wg_input = fc_f32_conv_blocked_wg_input_ukernel__portable;
    t->conv_blocked.wg_output = fc_f32_conv_blocked_wg_output_ukernel__portable;
    t->conv_blocked.wg_filter = fc_f32_conv_blocked_wg_filter_ukernel__portable;
    t->conv_blocked.wg_grad = fc_f32_conv_blocked_wg_grad_ukernel__portable;
    t->conv_blocked.np = 3;
    /* half of a 512 KB L2, the rest for the input and output streams */
    t->conv_blocked.group_bytes = 256 * 1024;
    t->conv_smallc.forward = fc_f32_conv_smallc_ukernel_4x12__portable;
    t->conv_inplace.forward = fc_f32_conv_inplace_ukernel_6x2v__portable;
    t->conv_inplace.vl = 4;
    t->conv_inplace.mr = 6;
}

/* AVX2 + FMA: extends portable. */
static void init_avx2(fc_kernels *t) {
    *t = t_portable;
    t->name = "avx2";
    t->isa = FC_ISA_AVX2;
    t->requires = FC_CAP_AVX2 | FC_CAP_FMA;
    t->gemm = (fc_gemm_config){.ukernel = fc_f32_gemm_ukernel_6x16__avx2,
                               .ukernel_epi = fc_f32_gemm_epi_ukernel_6x16__avx2,
                               .mr = 6, .nr = 16, .mc = 144, .kc = 256, .nc = 3072,
                               .a_in_l1 = 0,
                               .pack_transposed = fc_f32_gemm_pack_transposed_ukernel_8x8__avx2};
    t->conv_direct.forward = fc_f32_conv_direct_ukernel_8x16__avx2;
    t->conv_direct.bwd_weights = fc_f32_conv_direct_bwd_weights_ukernel_4x3__avx2;
    t->depthwise.forward = fc_f32_depthwise_ukernel_2x16__avx2;
    t->depthwise.bwd_weights = fc_f32_depthwise_bwd_weights_ukernel_16x8__avx2;
    t->depthwise.lanes = fc_f32_depthwise_lanes_ukernel_8__avx2;
    t->depthwise.lanes_bww = fc_f32_depthwise_lanes_bww_ukernel_8__avx2;
    t->depthwise.lanes_vl = 8;
    t->winograd.input_2x2 = fc_f32_winograd_input_ukernel_2x2__avx2;
    t->winograd.input_4x4 = fc_f32_winograd_input_ukernel_4x4__avx2;
    t->winograd.output_2x2 = fc_f32_winograd_output_ukernel_2x2__avx2;
    t->winograd.output_4x4 = fc_f32_winograd_output_ukernel_4x4__avx2;
    t->pool = (fc_pool_ukernels){.max_fwd = fc_f32_maxpool_ukernel__avx2,
                                 .argmax = fc_f32_argmaxpool_ukernel__avx2,
                                 .avg_fwd = fc_f32_avgpool_ukernel__avx2,
                                 .avg_bwd = fc_f32_avgpool_bwd_data_ukernel__avx2,
                                 .means = fc_f32_global_avgpool_ukernel__avx2,
                                 .maxes = fc_f32_global_maxpool_ukernel__avx2,
                                 .max = fc_f32_reduce_max_ukernel__avx2};
    t->optim = (fc_optim_ukernels){.sgd = fc_f32_sgd_ukernel__avx2,
                                   .adam = fc_f32_adam_ukernel__avx2};
    t->peak.fma = fc_f32_peak_fma_ukernel_12x8__avx2;
    t->peak.lanes = fc_f32_peak_fma_lanes__avx2;
    t->batch_norm = (fc_batch_norm_ukernels){
        .stats = fc_f32_batch_norm_stats_ukernel__avx2,
        .apply = fc_f32_batch_norm_apply_ukernel__avx2,
        .bwd_reduce = fc_f32_batch_norm_bwd_reduce_ukernel__avx2,
        .bwd_apply = fc_f32_batch_norm_bwd_apply_ukernel__avx2};
    t->eltwise = (fc_eltwise_ukernels){
        .activation_forward = fc_f32_activation_forward_ukernel__avx2,
        .activation_backward = fc_f32_activation_backward_ukernel__avx2,
        .add = fc_f32_add_ukernel__avx2,
        .add_relu = fc_f32_add_relu_ukernel__avx2,
        .bias_add = fc_f32_bias_add_ukernel__avx2,
        .sum = fc_f32_sum_ukernel__avx2,
        .dropout_forward = fc_f32_dropout_forward_ukernel__avx2,
        .dropout_backward = fc_f32_dropout_backward_ukernel__avx2};
    t->gemv = (fc_gemv_ukernels){.dot = fc_f32_gemv_dot_ukernel_4x2__avx2,
                                 .axpy = fc_f32_gemv_axpy_ukernel_4__avx2};
    t->gemv.bcast = fc_f32_gemv_bcast_ukernel__avx2;
    t->gemv.tile = fc_f32_gemv_tile_ukernel_6x2v__avx2;
    t->gemv.tile_mr = 6;
    t->gemv.vl = 8;
    t->xent.exp_sum = fc_f32_xent_exp_sum_ukernel__avx2;
    /* float16 through F16C (present on every AVX2 CPU; the bit makes it explicit) */
    t->requires |= FC_CAP_F16C;
    t->convert = (fc_convert_ukernels){.f32_to_bf16 = fc_f32_to_bf16_ukernel__avx2,
                                       .bf16_to_f32 = fc_bf16_to_f32_ukernel__avx2,
                                       .f32_to_f16 = fc_f32_to_f16_ukernel__avx2,
                                       .f16_to_f32 = fc_f16_to_f32_ukernel__avx2};
    t->conv_blocked.forward = fc_f32_conv_blocked_ukernel_16x6__avx2;
    t->conv_blocked.wg_input = fc_f32_conv_blocked_wg_input_ukernel__avx2;
    t->conv_blocked.wg_output = fc_f32_conv_blocked_wg_output_ukernel__avx2;
    t->conv_blocked.wg_filter = fc_f32_conv_blocked_wg_filter_ukernel__avx2;
    t->conv_blocked.wg_grad = fc_f32_conv_blocked_wg_grad_ukernel__avx2;
    t->conv_blocked.np = 6;
    /* strided backward-data by phases on the pair tiles (Zen 4 running this table, 2
     * threads, fastest of 9 alternating calls, im2col -> phases, ms): batch 16 128 ->
     * 256 @ 28x28 11.87-13.23 -> 11.04-12.65, 256 -> 512 @ 14x14 12.96-13.21 ->
     * 11.70-12.51; batch 8 128 -> 128 @ 56x56 16.24 -> 13.96, 256 -> 256 @ 28x28
     * 13.84 -> 11.57, 512 -> 512 @ 14x14 14.06 -> 12.10; batch 1 128 -> 256 @ 28x28
     * 0.91 -> 0.78. Lost with 64 input channels at batch 16: 64 -> 128 @ 56x56
     * 13.78-15.50 -> 14.99-16.12 (won at batch 1-4: 0.98 -> 0.80, 4.55 -> 4.24). */
    t->conv_blocked.phases_min_channels = 128;
    t->conv_smallc.forward = fc_f32_conv_smallc_ukernel_4x24__avx2;
    t->conv_inplace.forward = fc_f32_conv_inplace_ukernel_6x2v__avx2;
    t->conv_inplace.vl = 8;
    t->conv_inplace.mr = 6;
}

/* AVX-512 F/VL/BW/DQ: extends avx2 (its kernels are compiled for AVX2 + FMA too and
 * keep the AVX2 transposing pack). */
static void init_avx512(fc_kernels *t) {
    *t = t_avx2;
    t->name = "avx512";
    t->isa = FC_ISA_AVX512;
    t->requires = FC_CAP_AVX2 | FC_CAP_FMA | FC_CAP_AVX512F | FC_CAP_AVX512VL |
                  FC_CAP_AVX512BW | FC_CAP_AVX512DQ;
    t->requires |= FC_CAP_F16C;  /* the inherited avx2 float16 conversions */
    t->gemm.ukernel = fc_f32_gemm_ukernel_8x32__avx512;
    t->gemm.ukernel_epi = fc_f32_gemm_epi_ukernel_8x32__avx512;
    t->gemm.mr = 8;
    t->gemm.nr = 32;
    t->gemm.mc = 192;
    t->gemm.kc = 256;
    t->gemm.nc = 3072;
    t->gemm.pack_transposed = fc_f32_gemm_pack_transposed_ukernel_16x16__avx512;
    t->conv_direct.forward = fc_f32_conv_direct_ukernel_8x32__avx512;
    t->conv_direct.bwd_weights = fc_f32_conv_direct_bwd_weights_ukernel_8x3__avx512;
    t->depthwise.forward = fc_f32_depthwise_ukernel_2x64__avx512;
    t->depthwise.bwd_weights = fc_f32_depthwise_bwd_weights_ukernel_16x16__avx512;
    t->depthwise.lanes = fc_f32_depthwise_lanes_ukernel_16__avx512;
    t->depthwise.lanes_bww = fc_f32_depthwise_lanes_bww_ukernel_16__avx512;
    t->depthwise.lanes_vl = 16;
    t->winograd.input_2x2 = fc_f32_winograd_input_ukernel_2x2__avx512;
    t->winograd.input_4x4 = fc_f32_winograd_input_ukernel_4x4__avx512;
    t->winograd.output_2x2 = fc_f32_winograd_output_ukernel_2x2__avx512;
    t->winograd.output_4x4 = fc_f32_winograd_output_ukernel_4x4__avx512;
    t->pool = (fc_pool_ukernels){.max_fwd = fc_f32_maxpool_ukernel__avx512,
                                 .argmax = fc_f32_argmaxpool_ukernel__avx512,
                                 .avg_fwd = fc_f32_avgpool_ukernel__avx512,
                                 .avg_bwd = fc_f32_avgpool_bwd_data_ukernel__avx512,
                                 .means = fc_f32_global_avgpool_ukernel__avx512,
                                 .maxes = fc_f32_global_maxpool_ukernel__avx512,
                                 .max = fc_f32_reduce_max_ukernel__avx512};
    t->optim = (fc_optim_ukernels){.sgd = fc_f32_sgd_ukernel__avx512,
                                   .adam = fc_f32_adam_ukernel__avx512};
    t->peak.fma = fc_f32_peak_fma_ukernel_16x16__avx512;
    t->peak.lanes = fc_f32_peak_fma_lanes__avx512;
    t->batch_norm = (fc_batch_norm_ukernels){
        .stats = fc_f32_batch_norm_stats_ukernel__avx512,
        .apply = fc_f32_batch_norm_apply_ukernel__avx512,
        .bwd_reduce = fc_f32_batch_norm_bwd_reduce_ukernel__avx512,
        .bwd_apply = fc_f32_batch_norm_bwd_apply_ukernel__avx512};
    t->eltwise = (fc_eltwise_ukernels){
        .activation_forward = fc_f32_activation_forward_ukernel__avx512,
        .activation_backward = fc_f32_activation_backward_ukernel__avx512,
        .add = fc_f32_add_ukernel__avx512,
        .add_relu = fc_f32_add_relu_ukernel__avx512,
        .bias_add = fc_f32_bias_add_ukernel__avx512,
        .sum = fc_f32_sum_ukernel__avx512,
        .dropout_forward = fc_f32_dropout_forward_ukernel__avx512,
        .dropout_backward = fc_f32_dropout_backward_ukernel__avx512};
    t->gemv = (fc_gemv_ukernels){.dot = fc_f32_gemv_dot_ukernel_4x2__avx512,
                                 .axpy = fc_f32_gemv_axpy_ukernel_4__avx512};
    t->gemv.bcast = fc_f32_gemv_bcast_ukernel__avx512;
    t->gemv.tile = fc_f32_gemv_tile_ukernel_12x2v__avx512;
    t->gemv.tile_mr = 12;
    t->gemv.vl = 16;
    t->xent.exp_sum = fc_f32_xent_exp_sum_ukernel__avx512;
    t->conv_blocked.forward = fc_f32_conv_blocked_ukernel_16x10__avx512;
    t->conv_blocked.wg_input = fc_f32_conv_blocked_wg_input_ukernel__avx512;
    t->conv_blocked.wg_output = fc_f32_conv_blocked_wg_output_ukernel__avx512;
    t->conv_blocked.wg_filter = fc_f32_conv_blocked_wg_filter_ukernel__avx512;
    t->conv_blocked.wg_grad = fc_f32_conv_blocked_wg_grad_ukernel__avx512;
    t->conv_blocked.np = 10;
    /* AVX-512 cores have 1-2 MB of L2: two pairs of a 512-channel 3x3 layer (590 KB),
     * so its tiles run as quads (kernels/f32_conv_blocked.inc) */
    t->conv_blocked.group_bytes = 640 * 1024;
    t->conv_blocked.all_3x3 = 1; /* its quad tiles in assembly (blocked_quad_asm.h) */
    t->conv_blocked.phases_min_channels = 64; /* measured: conv/conv2d.c, bwd_data_phases */
    /* Plans with every layer blocked at batch 8-16 against blocked only where AUTO's
     * forward is (the strided 3x3 and the 1x1 layers on im2col, reorders around them);
     * Zen 5, 2 threads, plan.profile sums, alternating runs: ResNet-18 n16 153 -> 139
     * ms, ResNet-50 n16 352 -> 321-334, n8 179-215 -> 166-183, AlexNet n16 even (79-93
     * either way). AVX2's table keeps the rule: the same plans measured 2-4% slower
     * all-blocked on its pair tiles (Zen 3, and its AVX2 path on Zen 5). */
    t->conv_blocked.plan_any_batch = 1;
    t->conv_smallc.forward = fc_f32_conv_smallc_ukernel_8x48__avx512;
    t->conv_inplace.forward = fc_f32_conv_inplace_ukernel_12x2v__avx512;
    t->conv_inplace.vl = 16;
    t->conv_inplace.mr = 12;
}

/* Best first: the default is the first the CPU can run. Each table is built after
 * the one it extends. */
static fc_kernels *const g_tables[] = {&t_avx512, &t_avx2, &t_portable};
#define N_TABLES ((int)(sizeof g_tables / sizeof g_tables[0]))

static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void build(void) {
    init_portable(&t_portable);
    init_avx2(&t_avx2);
    init_avx512(&t_avx512);
}

const fc_kernels *fc_kernels_table(int i) {
    pthread_once(&g_once, build);
    return i >= 0 && i < N_TABLES ? g_tables[i] : NULL;
}

int fc_kernels_runnable(const fc_kernels *k) {
    return k != NULL && (k->requires & ~fc_cpu_caps()) == 0;
}

const fc_kernels *fc_kernels_best(void) {
    const fc_kernels *k;
    for (int i = 0; (k = fc_kernels_table(i)) != NULL; i++)
        if (fc_kernels_runnable(k)) return k;
    return &t_portable; /* requires nothing: never reached */
}

const fc_kernels *fc_kernels_for_isa(fc_isa isa) {
    const fc_kernels *k;
    for (int i = 0; (k = fc_kernels_table(i)) != NULL; i++)
        if (k->isa == isa) return k;
    return NULL;
}

const fc_kernels *fc_kernels_named(const char *name) {
    const fc_kernels *k;
    for (int i = 0; name && (k = fc_kernels_table(i)) != NULL; i++)
        if (!strcmp(k->name, name)) return k;
    return NULL;
}

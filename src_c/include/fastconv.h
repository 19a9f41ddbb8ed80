/*
 * fastconv.h -- the one public C API of fastconv.
 *
 * Layouts (all float32, dense, C order):
 *   activations  x[N][C][H][W]                (NCHW)
 *   conv weight  w[K][C/groups][R][S]
 *   tconv weight w[C][K/groups][R][S]          (C = the transposed conv's input channels)
 *   depthwise    w[C*multiplier][1][R][S]
 *
 * Output size of a convolution along one axis:
 *   OH = (H + pad_top + pad_bottom - dilation_h * (R - 1) - 1) / stride_h + 1
 *
 * Every entry point checks its arguments and returns an fc_status; none prints,
 * aborts or exits. Calls from several threads at once on different buffers are
 * safe. Workspace: pass NULL and the library uses a per-calling-thread cache that
 * grows and is kept for reuse (fc_release_workspace() frees it), or pass your own
 * buffer of at least the size the matching *_workspace_size() query reports.
 *
 * Naming, here and in src_c/ (XNNPACK's grammar: what it computes, a double
 * underscore, how):
 *   fc_<op>_<pass>             public entry points: fc_conv2d_forward
 *   fc_<type>_<op>_ukernel_<tile>__<isa>
 *                              micro-kernels: fc_f32_gemm_ukernel_8x32__avx512 (an 8 x 32
 *                              register tile of C), fc_f32_conv_direct_ukernel_8x16__avx2,
 *                              fc_f32_winograd_input_ukernel_4x4__portable (F(4x4,3x3));
 *                              <tile> is rows x columns in floats, left out for kernels
 *                              that walk a whole plane (fc_f32_maxpool_ukernel__avx2)
 *   src_c/kernels/<type>_<op>.inc           one kernel body per op, every ISA
 *   src_c/kernels/<isa>/<type>_<op>[_<tile>]_<isa>.c   that body compiled for one ISA
 * Words are spelled out rather than abbreviated, each abbreviation meaning one
 * thing: depthwise (never dw), bwd_ (backward_ of the entry points: bwd_weights is
 * the weight gradient, bwd_data the input gradient), dil_h / dil_w
 * (dilation), f32 (the element type).
 */
#ifndef FASTCONV_H
#define FASTCONV_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define FC_API
#else
#define FC_API __attribute__((visibility("default")))
#endif

#define FASTCONV_VERSION_MAJOR 0
#define FASTCONV_VERSION_MINOR 1
#define FASTCONV_VERSION_PATCH 0
#define FASTCONV_VERSION "0.1.0"

/* ---------------------------------------------------------------- status */

typedef enum fc_status {
    FC_SUCCESS = 0,
    /* the caller's arguments are wrong */
    FC_INVALID_ARGUMENT,      /* a NULL pointer or an unknown enum value */
    FC_INVALID_SHAPE,         /* a non-positive size, channel/group mismatch, kernel larger than input */
    FC_INVALID_STRIDE,
    FC_INVALID_PADDING,
    FC_INVALID_DILATION,
    FC_INVALID_GROUPS,
    FC_INVALID_WORKSPACE,     /* a caller workspace smaller than the query said */
    FC_SIZE_OVERFLOW,         /* a size or offset would not fit in 64 bits / size_t */
    /* legal, but not implemented */
    FC_UNSUPPORTED_ALGORITHM, /* e.g. Winograd asked for a 5x5 or strided convolution */
    FC_UNSUPPORTED_HARDWARE,  /* an ISA the CPU lacks */
    /* system */
    FC_OUT_OF_MEMORY
} fc_status;

FC_API const char *fc_status_string(fc_status status);

/* ------------------------------------------------------ version, threads, ISA */

FC_API const char *fc_version(void);

/* Threads used by every kernel (one OpenMP pool). n must be >= 1. The default is
 * OMP_NUM_THREADS or the number of cores. Takes effect on the next call: each call
 * reads the thread count and the ISA once, and fc_set_num_threads / fc_set_isa wait
 * for calls in flight in other threads (calling either from inside a call is
 * FC_INVALID_ARGUMENT). A build without OpenMP accepts any n and runs on one thread
 * (fc_get_num_threads() == 1). OpenMP's threads do not survive fork(): in a child
 * forked after a multi-threaded call every call runs on one thread and
 * fc_get_num_threads() is 1 (start workers with spawn/forkserver to use more). */
FC_API fc_status fc_set_num_threads(int n);
FC_API int fc_get_num_threads(void);
FC_API int fc_has_openmp(void);

typedef enum fc_isa {
    FC_ISA_PORTABLE = 0, /* plain C */
    FC_ISA_AVX2 = 1,     /* AVX2 + FMA */
    FC_ISA_AVX512 = 2    /* AVX-512 F/VL/BW/DQ */
} fc_isa;

/* The ISA path in use: the best the CPU has, lowered by FASTCONV_ISA=avx2|portable. */
FC_API fc_isa fc_get_isa(void);
/* The best ISA this CPU supports, whatever FASTCONV_ISA says. */
FC_API fc_isa fc_cpu_isa(void);
/* Force a path (for tests and comparisons); FC_UNSUPPORTED_HARDWARE if the CPU lacks it. */
FC_API fc_status fc_set_isa(fc_isa isa);
FC_API const char *fc_isa_name(fc_isa isa);

/* Precision of the algorithm FC_CONV_AUTO picks (like torch.set_float32_matmul_precision).
 * FC_PRECISION_HIGH (the default): AUTO may pick Winograd, accurate in norm (max error
 * a few to ~10x direct's, relative to the largest output, see the README) and faster
 * on large 3x3 layers. FC_PRECISION_HIGHEST: AUTO never picks Winograd, only the
 * direct, im2col and depthwise algorithms (rounding of a plain float32 sum). An
 * explicit FC_CONV_WINOGRAD_* still runs Winograd. Process-wide; takes effect on the
 * next call. An unknown value gives FC_INVALID_ARGUMENT. */
typedef enum fc_precision {
    FC_PRECISION_HIGHEST = 0,
    FC_PRECISION_HIGH = 1
} fc_precision;

FC_API fc_status fc_set_precision(fc_precision precision);
FC_API fc_precision fc_get_precision(void);

/* Workspace cache. A call given no workspace takes scratch memory from a cache kept
 * per calling thread, so that a training loop does not map fresh pages every step.
 * fc_release_workspace frees every thread's cache that no call is using right now.
 * After each call a thread's cache larger than the limit (default 256 MiB) is freed,
 * so one huge call does not pin its peak; 0 frees it after every call, SIZE_MAX never.
 * fc_workspace_cache_bytes is what all threads' caches hold now. */
FC_API void fc_release_workspace(void);
FC_API void fc_set_workspace_cache_limit(size_t bytes);
FC_API size_t fc_get_workspace_cache_limit(void);
FC_API size_t fc_workspace_cache_bytes(void);

/* ------------------------------------------------------- machine peak */

/* Measures the FMA throughput of the ISA path in use: `threads` threads (>= 1) each
 * run independent FMA chains for about `seconds` (0 < seconds <= 60) in total; the
 * best round, timed in each thread's CPU time so that preemption by other processes
 * does not count, gives *gflops (GFLOP/s, one FMA = 2 flops, summed over the threads).
 * A serial build measures one thread. The denominator of "percent of peak". */
FC_API fc_status fc_measure_fma_gflops(int threads, double seconds, double *gflops);

/* -------------------------------------------------------------- SGEMM */

/* C[M][N] = alpha * op(A)[M][K] * op(B)[K][N] + beta * C, row-major.
 * op(A) = A (lda >= K) or A^T stored as [K][M] (lda >= M); likewise B.
 * With beta == 0, C is never read (it may hold NaN). */
FC_API fc_status fc_sgemm(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K,
                          float alpha, const float *A, int64_t lda,
                          const float *B, int64_t ldb,
                          float beta, float *C, int64_t ldc);

/* -------------------------------------------------------- convolution */

typedef struct fc_conv2d_desc {
    int64_t N, C, H, W;       /* input x[N][C][H][W] */
    int64_t K;                /* output channels */
    int64_t R, S;             /* kernel rows and columns */
    int64_t stride_h, stride_w;
    int64_t pad_top, pad_bottom, pad_left, pad_right;
    int64_t dilation_h, dilation_w;
    int64_t groups;           /* C and K divisible by groups */
} fc_conv2d_desc;

typedef enum fc_conv_algorithm {
    FC_CONV_AUTO = 0,         /* the fastest that serves the descriptor */
    FC_CONV_DIRECT = 1,       /* any descriptor */
    FC_CONV_IM2COL = 2,       /* any descriptor */
    FC_CONV_WINOGRAD_F23 = 3, /* 3x3, stride 1, dilation 1 */
    FC_CONV_WINOGRAD_F43 = 4, /* 3x3, stride 1, dilation 1 */
    FC_CONV_DEPTHWISE = 5     /* groups == C > 1 (weight (C*m, 1, R, S)): the depthwise
                                 kernels; needs no workspace */
} fc_conv_algorithm;

typedef enum fc_conv_pass {
    FC_PASS_FORWARD = 0,
    FC_PASS_BACKWARD_DATA = 1,
    FC_PASS_BACKWARD_WEIGHTS = 2
} fc_conv_pass;

/* Checks the descriptor and gives the output size y[N][K][OH][OW]. */
FC_API fc_status fc_conv2d_output_shape(const fc_conv2d_desc *d, int64_t *OH, int64_t *OW);
FC_API fc_status fc_conv2d_workspace_size(const fc_conv2d_desc *d, fc_conv_algorithm algo,
                                          fc_conv_pass pass, size_t *bytes);
/* The algorithm FC_CONV_AUTO runs for this descriptor and pass. */
FC_API fc_status fc_conv2d_select_algorithm(const fc_conv2d_desc *d, fc_conv_pass pass,
                                            fc_conv_algorithm *algo);
/* *blocked = 1 where FC_CONV_AUTO's forward of d runs the blocked NCHW8c direct kernel,
 * with reorders at the call's edge, rather than what fc_conv2d_select_algorithm names
 * (which then says im2col); 0 otherwise. A caller holding activations in NCHW8c (an
 * inference plan) runs such layers on that layout itself. */
FC_API fc_status fc_conv2d_auto_forward_blocked(const fc_conv2d_desc *d, int *blocked);
/* *blocked = 1 where a caller that keeps activations in NCHW8c between layers (an
 * inference plan, no reorders per call) runs d's forward best on the blocked kernel:
 * where fc_conv2d_auto_forward_blocked says so, and, with a kernel table whose blocked
 * tiles win at any batch (AVX-512's), every layer of 16+ input channels and no groups.
 * 0 otherwise. */
FC_API fc_status fc_conv2d_plan_blocked(const fc_conv2d_desc *d, int *blocked);
/* "auto", "direct", "im2col", "winograd_f23", "winograd_f43", "depthwise" (Python's
 * algorithm= spelling); "unknown" for any other value. Never NULL; static storage. */
FC_API const char *fc_conv_algorithm_name(fc_conv_algorithm algo);

/* y = conv(x, w) + bias; bias[K] may be NULL. */
FC_API fc_status fc_conv2d_forward(const fc_conv2d_desc *d, fc_conv_algorithm algo,
                                   const float *x, const float *w, const float *bias,
                                   float *y, void *workspace, size_t workspace_size);
/* grad_x = dL/dx (overwritten) from grad_y[N][K][OH][OW]. */
FC_API fc_status fc_conv2d_backward_data(const fc_conv2d_desc *d, fc_conv_algorithm algo,
                                         const float *grad_y, const float *w, float *grad_x,
                                         void *workspace, size_t workspace_size);
/* grad_w (overwritten) and, unless NULL, grad_bias[K] (overwritten). */
FC_API fc_status fc_conv2d_backward_weights(const fc_conv2d_desc *d, fc_conv_algorithm algo,
                                            const float *grad_y, const float *x,
                                            float *grad_w, float *grad_bias,
                                            void *workspace, size_t workspace_size);

/* A forward epilogue fused into every algorithm, applied to each output tile while it
 * is in cache (ResNet's conv -> batch norm (folded) -> + identity -> ReLU in one pass):
 *   y[n][k][.][.] = act(scale[k] * conv(x, w)[n][k][.][.] + bias[k] + residual[n][k][.][.])
 * scale and bias are [K] (NULL: 1 and 0), residual has y's shape (NULL: none), act is
 * max(., 0) with NaN kept when relu != 0, else the identity. residual may be y itself
 * (updated in place); any other overlap of residual and y is FC_INVALID_ARGUMENT. An
 * epilogue needs no more workspace than fc_conv2d_workspace_size reports. */
typedef struct fc_epilogue {
    const float *scale;
    const float *bias;
    const float *residual;
    int relu;
} fc_epilogue;

/* fc_conv2d_forward with an epilogue (ep NULL: none, plain y = conv(x, w)). */
FC_API fc_status fc_conv2d_forward_ex(const fc_conv2d_desc *d, fc_conv_algorithm algo,
                                      const float *x, const float *w, const fc_epilogue *ep,
                                      float *y, void *workspace, size_t workspace_size);

/* ------------------------------- Winograd with pre-transformed weights */

/* For layers run many times with the same weights: transform them once, then run
 * FC_CONV_WINOGRAD_F23 or FC_CONV_WINOGRAD_F43 without the per-call filter transform.
 * pass is FC_PASS_FORWARD (u from w for y = conv(x, w)) or FC_PASS_BACKWARD_DATA
 * (u from the flipped, transposed w for grad_x). The layout of u is private to the
 * library version and algorithm. Workspace: fc_conv2d_workspace_size() of the same
 * algorithm and pass is enough. A descriptor Winograd cannot serve (not 3x3, stride
 * or dilation not 1) gives FC_UNSUPPORTED_ALGORITHM. */
FC_API fc_status fc_conv2d_winograd_weights_size(const fc_conv2d_desc *d, fc_conv_algorithm algo,
                                                 fc_conv_pass pass, size_t *floats);
FC_API fc_status fc_conv2d_winograd_transform_weights(const fc_conv2d_desc *d,
                                                      fc_conv_algorithm algo, fc_conv_pass pass,
                                                      const float *w, float *u, size_t u_floats);
FC_API fc_status fc_conv2d_winograd_forward_pretransformed(const fc_conv2d_desc *d,
                                                           fc_conv_algorithm algo,
                                                           const float *x, const float *u,
                                                           const float *bias, float *y,
                                                           void *workspace, size_t workspace_size);
/* The pre-transformed forward with an epilogue (see fc_epilogue; ep NULL: none). */
FC_API fc_status fc_conv2d_winograd_forward_pretransformed_ex(const fc_conv2d_desc *d,
                                                              fc_conv_algorithm algo,
                                                              const float *x, const float *u,
                                                              const fc_epilogue *ep, float *y,
                                                              void *workspace,
                                                              size_t workspace_size);
FC_API fc_status fc_conv2d_winograd_backward_data_pretransformed(const fc_conv2d_desc *d,
                                                                 fc_conv_algorithm algo,
                                                                 const float *grad_y,
                                                                 const float *u, float *grad_x,
                                                                 void *workspace,
                                                                 size_t workspace_size);

/* ------------------------------------------ im2col with pre-packed weights */

/* For layers run many times with the same weights (inference): pack w once into the
 * im2col GEMM's panels, then run the im2col forward from them without the per-call
 * packing. The packed buffer depends only on the weight's shape (K, C/groups, R, S,
 * groups) and the ISA active when it was packed; the other fields of d (N, H, W,
 * strides, paddings, dilations) may differ between packing and running (at packing
 * they choose the GEMM's orientation: a narrow output, 7x7 at batch 1, gets the
 * output channels along the micro-kernel's wide side). The result is the
 * FC_CONV_IM2COL forward's, bit for bit. Its layout is
 * private to the library version (a header in front records what it was packed for).
 * Every run checks it: a buffer of another weight shape, or of too few floats, gives
 * FC_INVALID_SHAPE; anything but a packed buffer, or one packed under another ISA
 * (fc_set_isa since: pack again), FC_INVALID_ARGUMENT. Any descriptor the im2col
 * algorithm serves is accepted (1x1, grouped, strided, dilated). Workspace:
 * fc_conv2d_prepacked_workspace_size() (enough for either orientation); NULL uses the
 * thread's cache. */
FC_API fc_status fc_conv2d_packed_weights_size(const fc_conv2d_desc *d, size_t *floats);
FC_API fc_status fc_conv2d_pack_weights(const fc_conv2d_desc *d, const float *w,
                                        float *packed, size_t packed_floats);
/* FC_SUCCESS when `packed` holds weights of d's shape packed for the active ISA (the
 * check every run makes; the statuses above). */
FC_API fc_status fc_conv2d_packed_weights_check(const fc_conv2d_desc *d, const float *packed,
                                                size_t packed_floats);
FC_API fc_status fc_conv2d_prepacked_workspace_size(const fc_conv2d_desc *d, size_t *bytes);
/* y = the epilogue (see fc_epilogue; ep NULL: none) of conv(x, w), w given packed. */
FC_API fc_status fc_conv2d_forward_prepacked_ex(const fc_conv2d_desc *d, const float *x,
                                                const float *packed, size_t packed_floats,
                                                const fc_epilogue *ep, float *y,
                                                void *workspace, size_t workspace_size);

/* ---------------------------------------------- transposed convolution */

typedef struct fc_conv_transpose2d_desc {
    int64_t N, C, H, W;       /* input x[N][C][H][W] */
    int64_t K;                /* output channels; weight w[C][K/groups][R][S] */
    int64_t R, S;
    int64_t stride_h, stride_w;
    int64_t pad_top, pad_bottom, pad_left, pad_right;
    int64_t output_padding_h, output_padding_w; /* < max(stride, dilation) */
    int64_t dilation_h, dilation_w;
    int64_t groups;
} fc_conv_transpose2d_desc;

/* OH = (H - 1) * stride_h - pad_top - pad_bottom + dilation_h * (R - 1) + output_padding_h + 1 */
FC_API fc_status fc_conv_transpose2d_output_shape(const fc_conv_transpose2d_desc *d,
                                                  int64_t *OH, int64_t *OW);
FC_API fc_status fc_conv_transpose2d_workspace_size(const fc_conv_transpose2d_desc *d,
                                                    fc_conv_pass pass, size_t *bytes);
FC_API fc_status fc_conv_transpose2d_forward(const fc_conv_transpose2d_desc *d,
                                             const float *x, const float *w, const float *bias,
                                             float *y, void *workspace, size_t workspace_size);
FC_API fc_status fc_conv_transpose2d_backward_data(const fc_conv_transpose2d_desc *d,
                                                   const float *grad_y, const float *w,
                                                   float *grad_x,
                                                   void *workspace, size_t workspace_size);
FC_API fc_status fc_conv_transpose2d_backward_weights(const fc_conv_transpose2d_desc *d,
                                                      const float *grad_y, const float *x,
                                                      float *grad_w, float *grad_bias,
                                                      void *workspace, size_t workspace_size);

/* ------------------------------------------------ depthwise convolution */

typedef struct fc_depthwise_conv2d_desc {
    int64_t N, C, H, W;       /* input x[N][C][H][W] */
    int64_t multiplier;       /* output channels K = C * multiplier; w[K][1][R][S] */
    int64_t R, S;
    int64_t stride_h, stride_w;
    int64_t pad_top, pad_bottom, pad_left, pad_right;
    int64_t dilation_h, dilation_w;
} fc_depthwise_conv2d_desc;

FC_API fc_status fc_depthwise_conv2d_output_shape(const fc_depthwise_conv2d_desc *d,
                                                  int64_t *OH, int64_t *OW);
FC_API fc_status fc_depthwise_conv2d_forward(const fc_depthwise_conv2d_desc *d,
                                             const float *x, const float *w, const float *bias,
                                             float *y);
FC_API fc_status fc_depthwise_conv2d_backward_data(const fc_depthwise_conv2d_desc *d,
                                                   const float *grad_y, const float *w,
                                                   float *grad_x);
FC_API fc_status fc_depthwise_conv2d_backward_weights(const fc_depthwise_conv2d_desc *d,
                                                      const float *grad_y, const float *x,
                                                      float *grad_w, float *grad_bias);
/* The same with a caller workspace (NULL: the thread's cache), sized by the query, as
 * convolution takes it. The forms above are these with NULL. */
FC_API fc_status fc_depthwise_conv2d_workspace_size(const fc_depthwise_conv2d_desc *d,
                                                    fc_conv_pass pass, size_t *bytes);
FC_API fc_status fc_depthwise_conv2d_forward_ws(const fc_depthwise_conv2d_desc *d,
                                                const float *x, const float *w,
                                                const float *bias, float *y, void *workspace,
                                                size_t workspace_size);
FC_API fc_status fc_depthwise_conv2d_backward_data_ws(const fc_depthwise_conv2d_desc *d,
                                                      const float *grad_y, const float *w,
                                                      float *grad_x, void *workspace,
                                                      size_t workspace_size);
FC_API fc_status fc_depthwise_conv2d_backward_weights_ws(const fc_depthwise_conv2d_desc *d,
                                                         const float *grad_y, const float *x,
                                                         float *grad_w, float *grad_bias,
                                                         void *workspace,
                                                         size_t workspace_size);

/* ------------------------------------------------------------ pooling */

typedef struct fc_pool2d_desc {
    int64_t N, C, H, W;
    int64_t kernel_h, kernel_w;
    int64_t stride_h, stride_w;
    int64_t pad_top, pad_bottom, pad_left, pad_right; /* each < the effective kernel */
    int64_t dilation_h, dilation_w;                    /* max pooling only; 1 for average */
    int ceil_mode;
    int count_include_pad;                             /* average pooling only */
} fc_pool2d_desc;

FC_API fc_status fc_pool2d_output_shape(const fc_pool2d_desc *d, int64_t *OH, int64_t *OW);

/* indices (may be NULL) receive the flat h*W+w position of each maximum in its plane.
 * Ties go to the first maximum in the window; NaN wins. */
FC_API fc_status fc_max_pool2d_forward(const fc_pool2d_desc *d, const float *x, float *y,
                                       int64_t *indices);
/* With indices NULL the arg-max is recomputed from x. grad_x is overwritten. */
FC_API fc_status fc_max_pool2d_backward(const fc_pool2d_desc *d, const float *grad_y,
                                        const float *x, const int64_t *indices, float *grad_x);
FC_API fc_status fc_avg_pool2d_forward(const fc_pool2d_desc *d, const float *x, float *y);
FC_API fc_status fc_avg_pool2d_backward(const fc_pool2d_desc *d, const float *grad_y,
                                        float *grad_x);
/* The same with a caller workspace (NULL: the thread's cache) sized by the query for
 * FC_PASS_FORWARD or FC_PASS_BACKWARD_DATA (backward); the forms above pass NULL. */
FC_API fc_status fc_max_pool2d_workspace_size(const fc_pool2d_desc *d, fc_conv_pass pass,
                                              size_t *bytes);
FC_API fc_status fc_avg_pool2d_workspace_size(const fc_pool2d_desc *d, fc_conv_pass pass,
                                              size_t *bytes);
FC_API fc_status fc_max_pool2d_forward_ws(const fc_pool2d_desc *d, const float *x, float *y,
                                          int64_t *indices, void *workspace,
                                          size_t workspace_size);
FC_API fc_status fc_max_pool2d_backward_ws(const fc_pool2d_desc *d, const float *grad_y,
                                           const float *x, const int64_t *indices,
                                           float *grad_x, void *workspace,
                                           size_t workspace_size);
FC_API fc_status fc_avg_pool2d_forward_ws(const fc_pool2d_desc *d, const float *x, float *y,
                                          void *workspace, size_t workspace_size);
FC_API fc_status fc_avg_pool2d_backward_ws(const fc_pool2d_desc *d, const float *grad_y,
                                           float *grad_x, void *workspace,
                                           size_t workspace_size);

/* Global pooling: y[N][C] (= y[N][C][1][1]) from x[N][C][H][W]. The descriptor forms
 * (_ws) have the calling shape of the other op families; the workspace they take is
 * never used (the size query says 0). */
typedef struct fc_global_pool2d_desc {
    int64_t N, C, H, W;
} fc_global_pool2d_desc;

FC_API fc_status fc_global_pool2d_output_shape(const fc_global_pool2d_desc *d, int64_t *OH,
                                               int64_t *OW);
FC_API fc_status fc_global_pool2d_workspace_size(const fc_global_pool2d_desc *d,
                                                 fc_conv_pass pass, size_t *bytes);
FC_API fc_status fc_global_avg_pool2d_forward_ws(const fc_global_pool2d_desc *d,
                                                 const float *x, float *y, void *workspace,
                                                 size_t workspace_size);
FC_API fc_status fc_global_avg_pool2d_backward_ws(const fc_global_pool2d_desc *d,
                                                  const float *grad_y, float *grad_x,
                                                  void *workspace, size_t workspace_size);
FC_API fc_status fc_global_max_pool2d_forward_ws(const fc_global_pool2d_desc *d,
                                                 const float *x, float *y, void *workspace,
                                                 size_t workspace_size);
FC_API fc_status fc_global_max_pool2d_backward_ws(const fc_global_pool2d_desc *d,
                                                  const float *grad_y, const float *x,
                                                  float *grad_x, void *workspace,
                                                  size_t workspace_size);

/* y[N][C] from x[N][C][H][W]. */
FC_API fc_status fc_global_avg_pool2d_forward(int64_t N, int64_t C, int64_t H, int64_t W,
                                              const float *x, float *y);
FC_API fc_status fc_global_avg_pool2d_backward(int64_t N, int64_t C, int64_t H, int64_t W,
                                               const float *grad_y, float *grad_x);
FC_API fc_status fc_global_max_pool2d_forward(int64_t N, int64_t C, int64_t H, int64_t W,
                                              const float *x, float *y);
FC_API fc_status fc_global_max_pool2d_backward(int64_t N, int64_t C, int64_t H, int64_t W,
                                               const float *grad_y, const float *x,
                                               float *grad_x);

/* ------------------------------------------------------------ batch normalization */

/* torch.nn.functional.batch_norm on x[N][C][H][W]: per channel c,
 *   y = (x - mean[c]) * invstd[c] * gamma[c] + beta[c],   invstd = 1 / sqrt(var + eps)
 * then max(y, 0) when relu (a fused ReLU). gamma and beta are [C]; NULL means 1 and 0
 * (affine=False). y may be x (in place). */
typedef struct fc_batch_norm2d_desc {
    int64_t N, C, H, W;
    double eps;      /* >= 0 */
    double momentum; /* running = (1 - momentum) * running + momentum * batch statistic */
    int relu;        /* 1: y = max(0, .), and backward masks grad_y where y <= 0 */
} fc_batch_norm2d_desc;

/* Training: mean and biased variance over (N, H, W), one pass over x (shifted sums
 * in double) and one to write y; N*H*W must be >= 2 (else FC_INVALID_SHAPE, as torch).
 * running_mean and running_var ([C], both or neither NULL) are updated in place with
 * the unbiased variance. save_mean and save_invstd ([C], may be NULL) receive what
 * fc_batch_norm2d_backward needs. */
FC_API fc_status fc_batch_norm2d_forward_training(const fc_batch_norm2d_desc *d,
                                                  const float *x, const float *gamma,
                                                  const float *beta, float *running_mean,
                                                  float *running_var, float *y,
                                                  float *save_mean, float *save_invstd);
/* Evaluation: the running statistics normalize (momentum unused). */
FC_API fc_status fc_batch_norm2d_forward_inference(const fc_batch_norm2d_desc *d,
                                                   const float *x, const float *gamma,
                                                   const float *beta,
                                                   const float *running_mean,
                                                   const float *running_var, float *y);
/* Backward of the training forward, from its save_mean and save_invstd. With d->relu,
 * y is the forward's output (post-ReLU) and grad_y counts only where y > 0 (NaN
 * counts); otherwise y is unused and may be NULL. grad_x is overwritten (it may be
 * grad_y); grad_gamma = sum(g * xhat) and grad_beta = sum(g) ([C], each may be NULL)
 * are overwritten, not accumulated. gamma NULL means 1. */
FC_API fc_status fc_batch_norm2d_backward(const fc_batch_norm2d_desc *d, const float *grad_y,
                                          const float *x, const float *y, const float *gamma,
                                          const float *save_mean, const float *save_invstd,
                                          float *grad_x, float *grad_gamma, float *grad_beta);
/* ------------------------------------------------ loss and optimizers */

/* How a loss reduces its per-sample terms. */
typedef enum fc_reduction {
    FC_REDUCTION_NONE = 0,  /* loss[N]: one term per sample */
    FC_REDUCTION_MEAN = 1,  /* loss[1]: their mean (NaN for N == 0, as PyTorch) */
    FC_REDUCTION_SUM = 2    /* loss[1]: their sum */
} fc_reduction;

/* Softmax cross-entropy of logits z[N][K] against labels[N] (int64, each in [0, K)):
 *   loss_i = log(sum_k exp(z_ik - max_k z_ik)) - (z_i,label_i - max_k z_ik)
 * (max-subtracted log-sum-exp, summed in double), reduced into loss. probs[N][K] (may be
 * NULL) receives softmax(z) for the backward pass. N may be 0; K >= 1. A label outside
 * [0, K) gives FC_INVALID_ARGUMENT before anything is written. No ignore_index, class
 * weights or label smoothing. */
FC_API fc_status fc_softmax_cross_entropy_forward(int64_t N, int64_t K, const float *logits,
                                                  const int64_t *labels,
                                                  fc_reduction reduction, float *loss,
                                                  float *probs);
/* grad_logits[N][K] = (softmax(z) - onehot(labels)) * g_i with g_i = grad_loss[i]
 * (NONE), grad_loss[0] (SUM) or grad_loss[0] / N (MEAN). From probs (the forward's,
 * when not NULL; grad_logits may be probs itself, updated in place) or else recomputed
 * from logits. */
FC_API fc_status fc_softmax_cross_entropy_backward(int64_t N, int64_t K, const float *logits,
                                                   const float *probs, const int64_t *labels,
                                                   fc_reduction reduction,
                                                   const float *grad_loss,
                                                   float *grad_logits);

/* Multi-tensor optimizer steps: `count` parameters, tensor i of sizes[i] floats at
 * params[i] with its gradient at grads[i] and state arrays of the same size, all
 * updated in one call, threads splitting the elements of all tensors together. A
 * tensor of size 0 may have NULL pointers; count 0 does nothing.
 *
 * torch.optim.SGD: d = g + weight_decay * p; with momentum > 0, buf = d on the first
 * step (first_step != 0; buf is written, not read) else buf = momentum * buf +
 * (1 - dampening) * d, and d = d + momentum * buf (nesterov) or buf; p -= lr * d.
 * momentum_bufs may be NULL when momentum == 0. nesterov needs momentum > 0 and
 * dampening == 0; a negative momentum or a non-finite scalar is FC_INVALID_ARGUMENT. */
FC_API fc_status fc_sgd_update(int64_t count, float *const *params, const float *const *grads,
                               float *const *momentum_bufs, const int64_t *sizes, float lr,
                               float momentum, float dampening, float weight_decay,
                               int nesterov, int first_step);
/* torch.optim.Adam (decoupled == 0: d = g + weight_decay * p) or torch.optim.AdamW
 * (decoupled != 0: p *= 1 - lr * weight_decay; d = g), at step `step` >= 1 (counted
 * from 1, already incremented for this step):
 *   m = beta1 m + (1 - beta1) d;  v = beta2 v + (1 - beta2) d^2
 *   amsgrad: vmax = max(vmax, v) and v is vmax below (max_exp_avg_sqs may be NULL otherwise)
 *   p -= lr / (1 - beta1^step) * m / (sqrt(v) / sqrt(1 - beta2^step) + eps)
 * The bias corrections are computed in double. betas in [0, 1). */
FC_API fc_status fc_adam_update(int64_t count, float *const *params, const float *const *grads,
                                float *const *exp_avgs, float *const *exp_avg_sqs,
                                float *const *max_exp_avg_sqs, const int64_t *sizes,
                                int64_t step, float lr, float beta1, float beta2, float eps,
                                float weight_decay, int decoupled, int amsgrad);
/* ------------------------------------------- elementwise: activations, adds, dropout */

/* Flat float32 arrays of n >= 0 elements (n == 0 touches nothing; a NULL pointer with
 * n > 0 is FC_INVALID_ARGUMENT). Every output may be the same pointer as an input of
 * the same call (in place: y == x, grad_x == grad_y, y == a or b); partial overlaps
 * are not allowed. Results do not depend on the thread count or the ISA path beyond
 * rounding (dropout's masks not at all). PyTorch's semantics throughout. */
typedef enum fc_activation {
    FC_ACTIVATION_RELU = 0,       /* max(x, 0); NaN stays NaN */
    FC_ACTIVATION_LEAKY_RELU = 1, /* x > 0 ? x : alpha * x (alpha: the negative slope) */
    FC_ACTIVATION_TANH = 2,
    FC_ACTIVATION_SIGMOID = 3,
    FC_ACTIVATION_GELU = 4,       /* x * Phi(x), Phi the normal CDF (torch's "none") */
    FC_ACTIVATION_GELU_TANH = 5   /* torch's approximate="tanh" */
} fc_activation;

/* y = f(x). alpha is read by LEAKY_RELU only. */
FC_API fc_status fc_activation_forward(fc_activation kind, float alpha, int64_t n,
                                       const float *x, float *y);
/* grad_x = f'(.) * grad_y. x_or_y is the forward's OUTPUT y for RELU (grad where
 * y > 0 or y is NaN, as torch's threshold_backward), TANH and SIGMOID, and its INPUT x
 * for LEAKY_RELU, GELU and GELU_TANH. */
FC_API fc_status fc_activation_backward(fc_activation kind, float alpha, int64_t n,
                                        const float *x_or_y, const float *grad_y,
                                        float *grad_x);

/* y = a + b, and y = max(a + b, 0) (a residual add fused with its ReLU; the backward
 * of the latter is fc_activation_backward(FC_ACTIVATION_RELU, ..., y, ...)). */
FC_API fc_status fc_add(int64_t n, const float *a, const float *b, float *y);
FC_API fc_status fc_add_relu(int64_t n, const float *a, const float *b, float *y);

/* y[N][C][HW] += bias[C] in place, and grad_bias[C] = sum over N and HW of
 * grad_y[N][C][HW] (overwritten; accumulated in double). */
FC_API fc_status fc_bias_add_nchw(int64_t N, int64_t C, int64_t HW, const float *bias,
                                  float *y);
FC_API fc_status fc_bias_grad_nchw(int64_t N, int64_t C, int64_t HW, const float *grad_y,
                                   float *grad_bias);

/* Inverted dropout: element i is kept with probability 1 - p (0 <= p <= 1, else
 * FC_INVALID_ARGUMENT) by a counter-based hash of (seed, i), so the mask depends on
 * nothing else (not on threads or ISA); y = x * (kept ? 1 / (1 - p) : 0) (scale 0
 * when p == 1; a NaN in x stays NaN, as in torch). mask_bits receives (n + 7) / 8
 * bytes: bit i % 8 of byte i / 8 is element i's keep bit. The backward computes
 * grad_x = grad_y * (kept ? 1 / (1 - p) : 0) from the same p and mask. */
FC_API fc_status fc_dropout_forward(int64_t n, double p, uint64_t seed, const float *x,
                                    float *y, uint8_t *mask_bits);
FC_API fc_status fc_dropout_backward(int64_t n, double p, const uint8_t *mask_bits,
                                     const float *grad_y, float *grad_x);

/* ------------------------------------------- 16-bit floats: conversions */

/* bfloat16 and IEEE float16 (binary16) travel as their uint16_t bit patterns. The ops
 * themselves stay float32: a 16-bit caller converts at the edge (fastconv's Python API
 * does, see docs/c_api.md). n >= 0 elements (n == 0 touches nothing; a NULL pointer with
 * n > 0, or x and y overlapping, is FC_INVALID_ARGUMENT). The same bits on every ISA
 * path and thread count:
 *   float32 -> 16-bit: round to nearest, ties to even; beyond the 16-bit range +-inf
 *     (float16 from |x| >= 65520); NaN stays NaN: sign and top payload bits kept, quiet
 *     bit set.
 *   16-bit -> float32: exact; NaN comes out quiet (sign and payload kept).
 * Large arrays are split over the library's threads. */
FC_API fc_status fc_convert_f32_to_bf16(int64_t n, const float *x, uint16_t *y);
FC_API fc_status fc_convert_bf16_to_f32(int64_t n, const uint16_t *x, float *y);
FC_API fc_status fc_convert_f32_to_f16(int64_t n, const float *x, uint16_t *y);
FC_API fc_status fc_convert_f16_to_f32(int64_t n, const uint16_t *x, float *y);

/* ------------------------------- blocked channel layout (NCHW8c) convolution */

/* A direct convolution on activations laid out xb[N][ceil(C/8)][H][W][8]: channel c of
 * pixel (h, w) at xb[n][c/8][h][w][c%8], the channels past C zero. For 3x3 layers at
 * batch 1 on small maps (ResNet's 14x14 and 7x7), where im2col's GEMM runs on
 * N = OH*OW columns; a network kept in this layout reorders only at its edges.
 *
 * The reorders: x[N][C][H][W] <-> xb; to-blocked writes the padded channels as zeros,
 * from-blocked ignores them. x and xb must not overlap. */
FC_API fc_status fc_reorder_nchw_to_nchw8c(int64_t N, int64_t C, int64_t H, int64_t W,
                                           const float *x, float *xb);
FC_API fc_status fc_reorder_nchw8c_to_nchw(int64_t N, int64_t C, int64_t H, int64_t W,
                                           const float *xb, float *x);
/* Weights w[K][C][R][S] arranged once for fc_conv2d_blocked_forward (layout private to
 * the library version). Serves groups == 1 (else FC_UNSUPPORTED_ALGORITHM), any kernel
 * size, stride, padding and dilation; only d's K, C, R, S matter for the arrangement. */
FC_API fc_status fc_conv2d_blocked_weights_size(const fc_conv2d_desc *d, size_t *floats);
FC_API fc_status fc_conv2d_blocked_transform_weights(const fc_conv2d_desc *d, const float *w,
                                                     float *wb, size_t wb_floats);
FC_API fc_status fc_conv2d_blocked_workspace_size(const fc_conv2d_desc *d, size_t *bytes);
/* yb[N][ceil(K/8)][OH][OW][8] = the epilogue of conv(xb, w) (fc_epilogue: scale and bias
 * [K]; residual in yb's blocked layout, may be yb itself; ep NULL: none). The padded
 * output channels are written as zeros. xb's padded channels must be finite (zeros, as
 * the reorder writes them). workspace NULL: the thread's cache. */
FC_API fc_status fc_conv2d_blocked_forward(const fc_conv2d_desc *d, const float *xb,
                                           const float *wb, const fc_epilogue *ep, float *yb,
                                           void *workspace, size_t workspace_size);
/* Winograd on the same layout, algo FC_CONV_WINOGRAD_F23 or FC_CONV_WINOGRAD_F43 (else
 * FC_INVALID_ARGUMENT): 3x3 kernels, stride 1, dilation 1, groups 1, any padding (else
 * FC_UNSUPPORTED_ALGORITHM); 2.25 (F23) or 4 (F43) times fewer multiplications than
 * fc_conv2d_blocked_forward, the error of the NCHW algorithm of that name (the README's
 * bounds). FC_CONV_WINOGRAD_F23 also serves 5x5 kernels (stride 1, dilation 1): F(2x2,5x5),
 * 2.8 times fewer, F43's points and error order. The weights are transformed and arranged
 * once (only d's K, C, R and S matter); the forward also takes the plain w[K][C][R][S],
 * read only to recompute an output that came out non-finite directly (a NaN or infinity
 * spoils only the outputs whose receptive field holds it). Otherwise as
 * fc_conv2d_blocked_forward. */
FC_API fc_status fc_conv2d_blocked_winograd_weights_size(const fc_conv2d_desc *d,
                                                         fc_conv_algorithm algo, size_t *floats);
FC_API fc_status fc_conv2d_blocked_winograd_transform_weights(const fc_conv2d_desc *d,
                                                              fc_conv_algorithm algo,
                                                              const float *w, float *wb,
                                                              size_t wb_floats);
FC_API fc_status fc_conv2d_blocked_winograd_workspace_size(const fc_conv2d_desc *d,
                                                           fc_conv_algorithm algo,
                                                           size_t *bytes);
FC_API fc_status fc_conv2d_blocked_winograd_forward(const fc_conv2d_desc *d,
                                                    fc_conv_algorithm algo, const float *xb,
                                                    const float *wb, const float *w,
                                                    const fc_epilogue *ep, float *yb,
                                                    void *workspace, size_t workspace_size);
/* *algo = the algorithm a caller keeping activations in NCHW8c (an inference plan)
 * runs d's forward by: FC_CONV_WINOGRAD_F23 / _F43 (fc_conv2d_blocked_winograd_forward;
 * on 5x5 kernels F23 only) or FC_CONV_DIRECT (fc_conv2d_blocked_forward; always under
 * FC_PRECISION_HIGHEST). */
FC_API fc_status fc_conv2d_plan_blocked_winograd(const fc_conv2d_desc *d,
                                                 fc_conv_algorithm *algo);
/* Max pooling of xb[N][ceil(C/8)][H][W][8] into yb[N][ceil(C/8)][OH][OW][8] as
 * fc_max_pool2d_forward pools x (d's C the logical channel count; OH, OW from
 * fc_pool2d_output_shape; no indices): every lane of a block pooled, so zeros in the
 * padded channels stay zeros. xb and yb must not overlap. */
FC_API fc_status fc_max_pool2d_forward_nchw8c(const fc_pool2d_desc *d, const float *xb,
                                              float *yb);

#ifdef __cplusplus
}
#endif

#endif /* FASTCONV_H */

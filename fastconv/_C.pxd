# Declarations mirroring src_c/include/fastconv.h (the whole public C API).
from libc.stdint cimport int64_t

cdef extern from "fastconv.h" nogil:
    ctypedef enum fc_status:
        FC_SUCCESS
        FC_INVALID_ARGUMENT
        FC_INVALID_SHAPE
        FC_INVALID_STRIDE
        FC_INVALID_PADDING
        FC_INVALID_DILATION
        FC_INVALID_GROUPS
        FC_INVALID_WORKSPACE
        FC_SIZE_OVERFLOW
        FC_UNSUPPORTED_ALGORITHM
        FC_UNSUPPORTED_HARDWARE
        FC_OUT_OF_MEMORY

    const char *fc_status_string(fc_status status)
    const char *fc_version()
    fc_status fc_set_num_threads(int n)
    int fc_get_num_threads()
    int fc_has_openmp()

    ctypedef enum fc_isa:
        FC_ISA_PORTABLE
        FC_ISA_AVX2
        FC_ISA_AVX512
    fc_isa fc_get_isa()
    fc_isa fc_cpu_isa()
    fc_status fc_set_isa(fc_isa isa)
    const char *fc_isa_name(fc_isa isa)
    void fc_release_workspace()
    void fc_set_workspace_cache_limit(size_t nbytes)
    size_t fc_get_workspace_cache_limit()
    size_t fc_workspace_cache_bytes()

    ctypedef enum fc_precision:
        FC_PRECISION_HIGHEST
        FC_PRECISION_HIGH
    fc_status fc_set_precision(fc_precision precision)
    fc_precision fc_get_precision()

    fc_status fc_measure_fma_gflops(int threads, double seconds, double *gflops)

    fc_status fc_sgemm(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K,
                       float alpha, const float *A, int64_t lda,
                       const float *B, int64_t ldb,
                       float beta, float *C, int64_t ldc)

    ctypedef struct fc_conv2d_desc:
        int64_t N, C, H, W, K, R, S
        int64_t stride_h, stride_w
        int64_t pad_top, pad_bottom, pad_left, pad_right
        int64_t dilation_h, dilation_w
        int64_t groups

    ctypedef enum fc_conv_algorithm:
        FC_CONV_AUTO
        FC_CONV_DIRECT
        FC_CONV_IM2COL
        FC_CONV_WINOGRAD_F23
        FC_CONV_WINOGRAD_F43
        FC_CONV_DEPTHWISE

    ctypedef enum fc_conv_pass:
        FC_PASS_FORWARD
        FC_PASS_BACKWARD_DATA
        FC_PASS_BACKWARD_WEIGHTS

    fc_status fc_conv2d_output_shape(const fc_conv2d_desc *d, int64_t *OH, int64_t *OW)
    fc_status fc_conv2d_workspace_size(const fc_conv2d_desc *d, fc_conv_algorithm algo,
                                       fc_conv_pass pass_, size_t *nbytes)
    fc_status fc_conv2d_select_algorithm(const fc_conv2d_desc *d, fc_conv_pass pass_,
                                         fc_conv_algorithm *algo)
    fc_status fc_conv2d_auto_forward_blocked(const fc_conv2d_desc *d, int *blocked)
    fc_status fc_conv2d_plan_blocked(const fc_conv2d_desc *d, int *blocked)
    fc_status fc_conv2d_forward(const fc_conv2d_desc *d, fc_conv_algorithm algo,
                                const float *x, const float *w, const float *bias,
                                float *y, void *workspace, size_t workspace_size)
    fc_status fc_conv2d_backward_data(const fc_conv2d_desc *d, fc_conv_algorithm algo,
                                      const float *grad_y, const float *w, float *grad_x,
                                      void *workspace, size_t workspace_size)
    fc_status fc_conv2d_backward_weights(const fc_conv2d_desc *d, fc_conv_algorithm algo,
                                         const float *grad_y, const float *x,
                                         float *grad_w, float *grad_bias,
                                         void *workspace, size_t workspace_size)

    ctypedef struct fc_conv_transpose2d_desc:
        int64_t N, C, H, W, K, R, S
        int64_t stride_h, stride_w
        int64_t pad_top, pad_bottom, pad_left, pad_right
        int64_t output_padding_h, output_padding_w
        int64_t dilation_h, dilation_w
        int64_t groups

    fc_status fc_conv_transpose2d_output_shape(const fc_conv_transpose2d_desc *d,
                                               int64_t *OH, int64_t *OW)
    fc_status fc_conv_transpose2d_workspace_size(const fc_conv_transpose2d_desc *d,
                                                 fc_conv_pass pass_, size_t *nbytes)
    fc_status fc_conv_transpose2d_forward(const fc_conv_transpose2d_desc *d,
                                          const float *x, const float *w, const float *bias,
                                          float *y, void *workspace, size_t workspace_size)
    fc_status fc_conv_transpose2d_backward_data(const fc_conv_transpose2d_desc *d,
                                                const float *grad_y, const float *w,
                                                float *grad_x,
                                                void *workspace, size_t workspace_size)
    fc_status fc_conv_transpose2d_backward_weights(const fc_conv_transpose2d_desc *d,
                                                   const float *grad_y, const float *x,
                                                   float *grad_w, float *grad_bias,
                                                   void *workspace, size_t workspace_size)

    ctypedef struct fc_depthwise_conv2d_desc:
        int64_t N, C, H, W, multiplier, R, S
        int64_t stride_h, stride_w
        int64_t pad_top, pad_bottom, pad_left, pad_right
        int64_t dilation_h, dilation_w

    fc_status fc_depthwise_conv2d_output_shape(const fc_depthwise_conv2d_desc *d,
                                               int64_t *OH, int64_t *OW)
    fc_status fc_depthwise_conv2d_forward(const fc_depthwise_conv2d_desc *d,
                                          const float *x, const float *w, const float *bias,
                                          float *y)
    fc_status fc_depthwise_conv2d_backward_data(const fc_depthwise_conv2d_desc *d,
                                                const float *grad_y, const float *w,
                                                float *grad_x)
    fc_status fc_depthwise_conv2d_backward_weights(const fc_depthwise_conv2d_desc *d,
                                                   const float *grad_y, const float *x,
                                                   float *grad_w, float *grad_bias)

    ctypedef struct fc_pool2d_desc:
        int64_t N, C, H, W
        int64_t kernel_h, kernel_w
        int64_t stride_h, stride_w
        int64_t pad_top, pad_bottom, pad_left, pad_right
        int64_t dilation_h, dilation_w
        int ceil_mode
        int count_include_pad

    fc_status fc_pool2d_output_shape(const fc_pool2d_desc *d, int64_t *OH, int64_t *OW)
    fc_status fc_max_pool2d_forward_nchw8c(const fc_pool2d_desc *d, const float *xb,
                                           float *yb)
    fc_status fc_max_pool2d_forward(const fc_pool2d_desc *d, const float *x, float *y,
                                    int64_t *indices)
    fc_status fc_max_pool2d_backward(const fc_pool2d_desc *d, const float *grad_y,
                                     const float *x, const int64_t *indices, float *grad_x)
    fc_status fc_avg_pool2d_forward(const fc_pool2d_desc *d, const float *x, float *y)
    fc_status fc_avg_pool2d_backward(const fc_pool2d_desc *d, const float *grad_y,
                                     float *grad_x)
    fc_status fc_global_avg_pool2d_forward(int64_t N, int64_t C, int64_t H, int64_t W,
                                           const float *x, float *y)
    fc_status fc_global_avg_pool2d_backward(int64_t N, int64_t C, int64_t H, int64_t W,
                                            const float *grad_y, float *grad_x)
    fc_status fc_global_max_pool2d_forward(int64_t N, int64_t C, int64_t H, int64_t W,
                                           const float *x, float *y)
    fc_status fc_global_max_pool2d_backward(int64_t N, int64_t C, int64_t H, int64_t W,
                                            const float *grad_y, const float *x,
                                            float *grad_x)

cdef extern from "fastconv.h" nogil:
    fc_status fc_conv2d_winograd_weights_size(const fc_conv2d_desc *d, fc_conv_algorithm algo,
                                              fc_conv_pass pass_, size_t *floats)
    fc_status fc_conv2d_winograd_transform_weights(const fc_conv2d_desc *d,
                                                   fc_conv_algorithm algo, fc_conv_pass pass_,
                                                   const float *w, float *u, size_t u_floats)
    fc_status fc_conv2d_winograd_forward_pretransformed(const fc_conv2d_desc *d,
                                                        fc_conv_algorithm algo, const float *x,
                                                        const float *u, const float *bias,
                                                        float *y, void *workspace,
                                                        size_t workspace_size)
    fc_status fc_conv2d_winograd_backward_data_pretransformed(const fc_conv2d_desc *d,
                                                              fc_conv_algorithm algo,
                                                              const float *grad_y,
                                                              const float *u, float *grad_x,
                                                              void *workspace,
                                                              size_t workspace_size)

cdef extern from "fastconv.h" nogil:
    ctypedef struct fc_batch_norm2d_desc:
        int64_t N, C, H, W
        double eps
        double momentum
        int relu

    fc_status fc_batch_norm2d_forward_training(const fc_batch_norm2d_desc *d, const float *x,
                                               const float *gamma, const float *beta,
                                               float *running_mean, float *running_var,
                                               float *y, float *save_mean, float *save_invstd)
    fc_status fc_batch_norm2d_forward_inference(const fc_batch_norm2d_desc *d, const float *x,
                                                const float *gamma, const float *beta,
                                                const float *running_mean,
                                                const float *running_var, float *y)
    fc_status fc_batch_norm2d_backward(const fc_batch_norm2d_desc *d, const float *grad_y,
                                       const float *x, const float *y, const float *gamma,
                                       const float *save_mean, const float *save_invstd,
                                       float *grad_x, float *grad_gamma, float *grad_beta)
    ctypedef enum fc_reduction:
        FC_REDUCTION_NONE
        FC_REDUCTION_MEAN
        FC_REDUCTION_SUM

    fc_status fc_softmax_cross_entropy_forward(int64_t N, int64_t K, const float *logits,
                                               const int64_t *labels, fc_reduction reduction,
                                               float *loss, float *probs)
    fc_status fc_softmax_cross_entropy_backward(int64_t N, int64_t K, const float *logits,
                                                const float *probs, const int64_t *labels,
                                                fc_reduction reduction, const float *grad_loss,
                                                float *grad_logits)
    fc_status fc_sgd_update(int64_t count, float *const *params, const float *const *grads,
                            float *const *momentum_bufs, const int64_t *sizes, float lr,
                            float momentum, float dampening, float weight_decay, int nesterov,
                            int first_step)
    fc_status fc_adam_update(int64_t count, float *const *params, const float *const *grads,
                             float *const *exp_avgs, float *const *exp_avg_sqs,
                             float *const *max_exp_avg_sqs, const int64_t *sizes, int64_t step,
                             float lr, float beta1, float beta2, float eps, float weight_decay,
                             int decoupled, int amsgrad)
# ---------------------------------------------- elementwise (activations, adds, dropout)
from libc.stdint cimport uint8_t, uint64_t

cdef extern from "fastconv.h" nogil:
    ctypedef enum fc_activation:
        FC_ACTIVATION_RELU
        FC_ACTIVATION_LEAKY_RELU
        FC_ACTIVATION_TANH
        FC_ACTIVATION_SIGMOID
        FC_ACTIVATION_GELU
        FC_ACTIVATION_GELU_TANH

    fc_status fc_activation_forward(fc_activation kind, float alpha, int64_t n,
                                    const float *x, float *y)
    fc_status fc_activation_backward(fc_activation kind, float alpha, int64_t n,
                                     const float *x_or_y, const float *grad_y, float *grad_x)
    fc_status fc_add(int64_t n, const float *a, const float *b, float *y)
    fc_status fc_add_relu(int64_t n, const float *a, const float *b, float *y)
    fc_status fc_bias_add_nchw(int64_t N, int64_t C, int64_t HW, const float *bias, float *y)
    fc_status fc_bias_grad_nchw(int64_t N, int64_t C, int64_t HW, const float *grad_y,
                                float *grad_bias)
    fc_status fc_dropout_forward(int64_t n, double p, uint64_t seed, const float *x,
                                 float *y, uint8_t *mask_bits)
    fc_status fc_dropout_backward(int64_t n, double p, const uint8_t *mask_bits,
                                  const float *grad_y, float *grad_x)

# Convolution forward epilogue (fastconv.h: fc_epilogue).
cdef extern from "fastconv.h" nogil:
    ctypedef struct fc_epilogue:
        const float *scale
        const float *bias
        const float *residual
        int relu
    fc_status fc_conv2d_forward_ex(const fc_conv2d_desc *d, fc_conv_algorithm algo,
                                   const float *x, const float *w, const fc_epilogue *ep,
                                   float *y, void *workspace, size_t workspace_size)
    fc_status fc_conv2d_winograd_forward_pretransformed_ex(const fc_conv2d_desc *d,
                                                           fc_conv_algorithm algo,
                                                           const float *x, const float *u,
                                                           const fc_epilogue *ep, float *y,
                                                           void *workspace,
                                                           size_t workspace_size)

# Blocked channel layout (NCHW8c) convolution (fastconv.h: fc_conv2d_blocked_*).
cdef extern from "fastconv.h" nogil:
    fc_status fc_reorder_nchw_to_nchw8c(int64_t N, int64_t C, int64_t H, int64_t W,
                                        const float *x, float *xb)
    fc_status fc_reorder_nchw8c_to_nchw(int64_t N, int64_t C, int64_t H, int64_t W,
                                        const float *xb, float *x)
    fc_status fc_conv2d_blocked_weights_size(const fc_conv2d_desc *d, size_t *floats)
    fc_status fc_conv2d_blocked_transform_weights(const fc_conv2d_desc *d, const float *w,
                                                  float *wb, size_t wb_floats)
    fc_status fc_conv2d_blocked_workspace_size(const fc_conv2d_desc *d, size_t *nbytes)
    fc_status fc_conv2d_blocked_forward(const fc_conv2d_desc *d, const float *xb,
                                        const float *wb, const fc_epilogue *ep, float *yb,
                                        void *workspace, size_t workspace_size)
    fc_status fc_conv2d_plan_blocked_winograd(const fc_conv2d_desc *d,
                                              fc_conv_algorithm *algo)
    fc_status fc_conv2d_blocked_winograd_weights_size(const fc_conv2d_desc *d,
                                                      fc_conv_algorithm algo, size_t *floats)
    fc_status fc_conv2d_blocked_winograd_transform_weights(const fc_conv2d_desc *d,
                                                           fc_conv_algorithm algo,
                                                           const float *w, float *wb,
                                                           size_t wb_floats)
    fc_status fc_conv2d_blocked_winograd_workspace_size(const fc_conv2d_desc *d,
                                                        fc_conv_algorithm algo, size_t *nbytes)
    fc_status fc_conv2d_blocked_winograd_forward(const fc_conv2d_desc *d,
                                                 fc_conv_algorithm algo, const float *xb,
                                                 const float *wb, const float *w,
                                                 const fc_epilogue *ep, float *yb,
                                                 void *workspace, size_t workspace_size)
# im2col with pre-packed weights (fastconv.h: fc_conv2d_pack_weights).
cdef extern from "fastconv.h" nogil:
    fc_status fc_conv2d_packed_weights_size(const fc_conv2d_desc *d, size_t *floats)
    fc_status fc_conv2d_pack_weights(const fc_conv2d_desc *d, const float *w, float *packed,
                                     size_t packed_floats)
    fc_status fc_conv2d_packed_weights_check(const fc_conv2d_desc *d, const float *packed,
                                             size_t packed_floats)
    fc_status fc_conv2d_forward_prepacked_ex(const fc_conv2d_desc *d, const float *x,
                                             const float *packed, size_t packed_floats,
                                             const fc_epilogue *ep, float *y,
                                             void *workspace, size_t workspace_size)
    fc_status fc_conv2d_prepacked_workspace_size(const fc_conv2d_desc *d, size_t *bytes)

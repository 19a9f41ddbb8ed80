# Crossing for the depthwise ops (see _C.pyx for the helpers).

cdef fc_depthwise_conv2d_desc _dw_desc(tuple xs, int64_t m, int64_t R, int64_t S, tuple stride,
                                       tuple pads, tuple dilation):
    cdef fc_depthwise_conv2d_desc d
    d.N, d.C, d.H, d.W = xs
    d.multiplier = m
    d.R = R
    d.S = S
    d.stride_h, d.stride_w = stride
    d.pad_top, d.pad_bottom, d.pad_left, d.pad_right = pads
    d.dilation_h, d.dilation_w = dilation
    return d


def depthwise_conv2d_forward(x, w, bias, y, tuple stride, tuple pads, tuple dilation):
    cdef fc_depthwise_conv2d_desc d = _dw_desc(x.shape, w.shape[0] // x.shape[1], w.shape[2],
                                               w.shape[3], stride, pads, dilation)
    cdef int64_t OH = 0, OW = 0
    _check(fc_depthwise_conv2d_output_shape(&d, &OH, &OW), "depthwise_conv2d")
    cdef int64_t K = d.C * d.multiplier
    cdef const float *px = _fptr(x, d.N * d.C * d.H * d.W, "x")
    cdef const float *pw = _fptr(w, K * d.R * d.S, "weight")
    cdef const float *pb = _fptr_opt(bias, K, "bias")
    cdef float *py = _fptr(y, d.N * K * OH * OW, "out", True)
    cdef fc_status st
    with nogil:
        st = fc_depthwise_conv2d_forward(&d, px, pw, pb, py)
    _check(st, "depthwise_conv2d")


def depthwise_conv2d_backward_data(gy, w, gx, tuple stride, tuple pads, tuple dilation):
    cdef fc_depthwise_conv2d_desc d = _dw_desc(gx.shape, w.shape[0] // gx.shape[1], w.shape[2],
                                               w.shape[3], stride, pads, dilation)
    cdef int64_t OH = 0, OW = 0
    _check(fc_depthwise_conv2d_output_shape(&d, &OH, &OW), "depthwise_conv2d_backward")
    cdef int64_t K = d.C * d.multiplier
    cdef const float *pgy = _fptr(gy, d.N * K * OH * OW, "grad_out")
    cdef const float *pw = _fptr(w, K * d.R * d.S, "weight")
    cdef float *pgx = _fptr(gx, d.N * d.C * d.H * d.W, "grad_x", True)
    cdef fc_status st
    with nogil:
        st = fc_depthwise_conv2d_backward_data(&d, pgy, pw, pgx)
    _check(st, "depthwise_conv2d_backward")


def depthwise_conv2d_backward_weights(gy, x, gw, gb, tuple stride, tuple pads, tuple dilation):
    cdef fc_depthwise_conv2d_desc d = _dw_desc(x.shape, gw.shape[0] // x.shape[1], gw.shape[2],
                                               gw.shape[3], stride, pads, dilation)
    cdef int64_t OH = 0, OW = 0
    _check(fc_depthwise_conv2d_output_shape(&d, &OH, &OW), "depthwise_conv2d_backward")
    cdef int64_t K = d.C * d.multiplier
    cdef const float *pgy = _fptr(gy, d.N * K * OH * OW, "grad_out")
    cdef const float *px = _fptr(x, d.N * d.C * d.H * d.W, "x")
    cdef float *pgw = _fptr(gw, K * d.R * d.S, "grad_weight", True)
    cdef float *pgb = _fptr_opt(gb, K, "grad_bias", True)
    cdef fc_status st
    with nogil:
        st = fc_depthwise_conv2d_backward_weights(&d, pgy, px, pgw, pgb)
    _check(st, "depthwise_conv2d_backward")

# Crossing for the transpose ops (see _C.pyx for the helpers).

cdef fc_conv_transpose2d_desc _tconv_desc(tuple xs, int64_t K, int64_t R, int64_t S,
                                          tuple stride, tuple pads, tuple output_padding,
                                          tuple dilation, int64_t groups):
    cdef fc_conv_transpose2d_desc d
    d.N, d.C, d.H, d.W = xs
    d.K = K
    d.R = R
    d.S = S
    d.stride_h, d.stride_w = stride
    d.pad_top, d.pad_bottom, d.pad_left, d.pad_right = pads
    d.output_padding_h, d.output_padding_w = output_padding
    d.dilation_h, d.dilation_w = dilation
    d.groups = groups
    return d


def conv_transpose2d_output_shape(tuple xs, int64_t K, int64_t R, int64_t S, tuple stride,
                                  tuple pads, tuple output_padding, tuple dilation,
                                  int64_t groups):
    cdef fc_conv_transpose2d_desc d = _tconv_desc(xs, K, R, S, stride, pads, output_padding,
                                                  dilation, groups)
    cdef int64_t OH = 0, OW = 0
    _check(fc_conv_transpose2d_output_shape(&d, &OH, &OW), "conv_transpose2d")
    return OH, OW


def conv_transpose2d_forward(x, w, bias, y, tuple stride, tuple pads, tuple output_padding,
                             tuple dilation, int64_t groups):
    cdef fc_conv_transpose2d_desc d = _tconv_desc(x.shape, w.shape[1] * groups, w.shape[2],
                                                  w.shape[3], stride, pads, output_padding,
                                                  dilation, groups)
    cdef int64_t OH = 0, OW = 0
    _check(fc_conv_transpose2d_output_shape(&d, &OH, &OW), "conv_transpose2d")
    cdef const float *px = _fptr(x, d.N * d.C * d.H * d.W, "x")
    cdef const float *pw = _fptr(w, d.C * (d.K // d.groups) * d.R * d.S, "weight")
    cdef const float *pb = _fptr_opt(bias, d.K, "bias")
    cdef float *py = _fptr(y, d.N * d.K * OH * OW, "out", True)
    cdef fc_status st
    with nogil:
        st = fc_conv_transpose2d_forward(&d, px, pw, pb, py, NULL, 0)
    _check(st, "conv_transpose2d")


def conv_transpose2d_backward_data(gy, w, gx, tuple stride, tuple pads, tuple output_padding,
                                   tuple dilation, int64_t groups):
    cdef fc_conv_transpose2d_desc d = _tconv_desc(gx.shape, w.shape[1] * groups, w.shape[2],
                                                  w.shape[3], stride, pads, output_padding,
                                                  dilation, groups)
    cdef int64_t OH = 0, OW = 0
    _check(fc_conv_transpose2d_output_shape(&d, &OH, &OW), "conv_transpose2d_backward")
    cdef const float *pgy = _fptr(gy, d.N * d.K * OH * OW, "grad_out")
    cdef const float *pw = _fptr(w, d.C * (d.K // d.groups) * d.R * d.S, "weight")
    cdef float *pgx = _fptr(gx, d.N * d.C * d.H * d.W, "grad_x", True)
    cdef fc_status st
    with nogil:
        st = fc_conv_transpose2d_backward_data(&d, pgy, pw, pgx, NULL, 0)
    _check(st, "conv_transpose2d_backward")


def conv_transpose2d_backward_weights(gy, x, gw, gb, tuple stride, tuple pads,
                                      tuple output_padding, tuple dilation, int64_t groups):
    cdef fc_conv_transpose2d_desc d = _tconv_desc(x.shape, gw.shape[1] * groups, gw.shape[2],
                                                  gw.shape[3], stride, pads, output_padding,
                                                  dilation, groups)
    cdef int64_t OH = 0, OW = 0
    _check(fc_conv_transpose2d_output_shape(&d, &OH, &OW), "conv_transpose2d_backward")
    cdef const float *pgy = _fptr(gy, d.N * d.K * OH * OW, "grad_out")
    cdef const float *px = _fptr(x, d.N * d.C * d.H * d.W, "x")
    cdef float *pgw = _fptr(gw, d.C * (d.K // d.groups) * d.R * d.S, "grad_weight", True)
    cdef float *pgb = _fptr_opt(gb, d.K, "grad_bias", True)
    cdef fc_status st
    with nogil:
        st = fc_conv_transpose2d_backward_weights(&d, pgy, px, pgw, pgb, NULL, 0)
    _check(st, "conv_transpose2d_backward")

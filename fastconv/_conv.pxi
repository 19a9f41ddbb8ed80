# Crossing for convolution (included by _C.pyx).

cdef fc_conv2d_desc _conv_desc(tuple xs, int64_t K, int64_t R, int64_t S, tuple stride,
                               tuple pads, tuple dilation, int64_t groups):
    cdef fc_conv2d_desc d
    d.N, d.C, d.H, d.W = xs
    d.K = K
    d.R = R
    d.S = S
    d.stride_h, d.stride_w = stride
    d.pad_top, d.pad_bottom, d.pad_left, d.pad_right = pads
    d.dilation_h, d.dilation_w = dilation
    d.groups = groups
    return d


def conv2d_output_shape(tuple xs, int64_t K, int64_t R, int64_t S, tuple stride, tuple pads,
                        tuple dilation, int64_t groups):
    cdef fc_conv2d_desc d = _conv_desc(xs, K, R, S, stride, pads, dilation, groups)
    cdef int64_t OH = 0, OW = 0
    _check(fc_conv2d_output_shape(&d, &OH, &OW), "conv2d")
    return OH, OW


def conv2d_select_algorithm(tuple xs, int64_t K, int64_t R, int64_t S, tuple stride,
                            tuple pads, tuple dilation, int64_t groups, int pass_):
    cdef fc_conv2d_desc d = _conv_desc(xs, K, R, S, stride, pads, dilation, groups)
    cdef fc_conv_algorithm algo = FC_CONV_AUTO
    _check(fc_conv2d_select_algorithm(&d, <fc_conv_pass>pass_, &algo), "conv2d")
    return ALGORITHM_NAMES[algo]


def conv2d_auto_forward_blocked(tuple xs, int64_t K, int64_t R, int64_t S, tuple stride,
                                tuple pads, tuple dilation, int64_t groups):
    """Whether AUTO's forward runs the blocked NCHW8c kernel behind reorders."""
    cdef fc_conv2d_desc d = _conv_desc(xs, K, R, S, stride, pads, dilation, groups)
    cdef int blocked = 0
    _check(fc_conv2d_auto_forward_blocked(&d, &blocked), "conv2d")
    return bool(blocked)


def conv2d_plan_blocked(tuple xs, int64_t K, int64_t R, int64_t S, tuple stride,
                        tuple pads, tuple dilation, int64_t groups):
    """Whether a plan holding activations in NCHW8c runs this forward blocked."""
    cdef fc_conv2d_desc d = _conv_desc(xs, K, R, S, stride, pads, dilation, groups)
    cdef int blocked = 0
    _check(fc_conv2d_plan_blocked(&d, &blocked), "conv2d")
    return bool(blocked)


def conv2d_workspace_size(tuple xs, int64_t K, int64_t R, int64_t S, tuple stride,
                          tuple pads, tuple dilation, int64_t groups, int algo, int pass_):
    cdef fc_conv2d_desc d = _conv_desc(xs, K, R, S, stride, pads, dilation, groups)
    cdef size_t n = 0
    _check(fc_conv2d_workspace_size(&d, <fc_conv_algorithm>algo, <fc_conv_pass>pass_, &n),
           "conv2d")
    return n


def conv2d_forward(x, w, bias, y, tuple stride, tuple pads, tuple dilation, int64_t groups,
                   int algo):
    cdef fc_conv2d_desc d = _conv_desc(x.shape, w.shape[0], w.shape[2], w.shape[3], stride,
                                       pads, dilation, groups)
    cdef int64_t OH = 0, OW = 0
    _check(fc_conv2d_output_shape(&d, &OH, &OW), "conv2d")
    cdef const float *px = _fptr(x, d.N * d.C * d.H * d.W, "x")
    cdef const float *pw = _fptr(w, d.K * (d.C // d.groups) * d.R * d.S, "weight")
    cdef const float *pb = _fptr_opt(bias, d.K, "bias")
    cdef float *py = _fptr(y, d.N * d.K * OH * OW, "out", True)
    cdef fc_status st
    with nogil:
        st = fc_conv2d_forward(&d, <fc_conv_algorithm>algo, px, pw, pb, py, NULL, 0)
    _check(st, "conv2d")


def conv2d_backward_data(gy, w, gx, tuple stride, tuple pads, tuple dilation, int64_t groups,
                         int algo):
    cdef fc_conv2d_desc d = _conv_desc(gx.shape, w.shape[0], w.shape[2], w.shape[3], stride,
                                       pads, dilation, groups)
    cdef int64_t OH = 0, OW = 0
    _check(fc_conv2d_output_shape(&d, &OH, &OW), "conv2d_backward")
    cdef const float *pgy = _fptr(gy, d.N * d.K * OH * OW, "grad_out")
    cdef const float *pw = _fptr(w, d.K * (d.C // d.groups) * d.R * d.S, "weight")
    cdef float *pgx = _fptr(gx, d.N * d.C * d.H * d.W, "grad_x", True)
    cdef fc_status st
    with nogil:
        st = fc_conv2d_backward_data(&d, <fc_conv_algorithm>algo, pgy, pw, pgx, NULL, 0)
    _check(st, "conv2d_backward")


def conv2d_backward_weights(gy, x, gw, gb, tuple stride, tuple pads, tuple dilation,
                            int64_t groups, int algo):
    cdef fc_conv2d_desc d = _conv_desc(x.shape, gw.shape[0], gw.shape[2], gw.shape[3], stride,
                                       pads, dilation, groups)
    cdef int64_t OH = 0, OW = 0
    _check(fc_conv2d_output_shape(&d, &OH, &OW), "conv2d_backward")
    cdef const float *pgy = _fptr(gy, d.N * d.K * OH * OW, "grad_out")
    cdef const float *px = _fptr(x, d.N * d.C * d.H * d.W, "x")
    cdef float *pgw = _fptr(gw, d.K * (d.C // d.groups) * d.R * d.S, "grad_weight", True)
    cdef float *pgb = _fptr_opt(gb, d.K, "grad_bias", True)
    cdef fc_status st
    with nogil:
        st = fc_conv2d_backward_weights(&d, <fc_conv_algorithm>algo, pgy, px, pgw, pgb, NULL, 0)
    _check(st, "conv2d_backward")


# Winograd with pre-transformed weights (C API fc_conv2d_winograd_*).

def conv2d_winograd_transform_weights(tuple xs, w, tuple pads, int64_t groups, int algo,
                                      int pass_):
    cdef fc_conv2d_desc d = _conv_desc(xs, w.shape[0], w.shape[2], w.shape[3], (1, 1), pads,
                                       (1, 1), groups)
    cdef size_t n = 0
    _check(fc_conv2d_winograd_weights_size(&d, <fc_conv_algorithm>algo, <fc_conv_pass>pass_, &n),
           "conv2d_winograd_transform_weights")
    cdef const float *pw = _fptr(w, d.K * (d.C // d.groups) * d.R * d.S, "weight")
    u = np.empty(n, dtype=np.float32)
    cdef float *pu = _fptr(u, n, "u", True)
    cdef fc_status st
    with nogil:
        st = fc_conv2d_winograd_transform_weights(&d, <fc_conv_algorithm>algo,
                                                  <fc_conv_pass>pass_, pw, pu, n)
    _check(st, "conv2d_winograd_transform_weights")
    return u


def conv2d_winograd_pretransformed(int pass_, inp, u, bias, out, tuple x_shape, tuple w_shape,
                                   tuple pads, int64_t groups, int algo):
    """pass_ 0: out = y from inp = x; pass_ 1: out = grad_x from inp = grad_y."""
    cdef fc_conv2d_desc d = _conv_desc(x_shape, w_shape[0], w_shape[2], w_shape[3], (1, 1),
                                       pads, (1, 1), groups)
    cdef int64_t OH = 0, OW = 0
    cdef size_t n = 0
    _check(fc_conv2d_output_shape(&d, &OH, &OW), "conv2d_winograd")
    _check(fc_conv2d_winograd_weights_size(&d, <fc_conv_algorithm>algo, <fc_conv_pass>pass_, &n),
           "conv2d_winograd")
    cdef int64_t nin = d.N * d.C * d.H * d.W, nout = d.N * d.K * OH * OW
    if pass_ == 1:
        nin, nout = nout, nin
    cdef const float *pi = _fptr(inp, nin, "input")
    cdef const float *pu = _fptr(u, n, "u")
    cdef const float *pb = _fptr_opt(bias, d.K, "bias")
    cdef float *po = _fptr(out, nout, "out", True)
    cdef fc_status st
    with nogil:
        if pass_ == 0:
            st = fc_conv2d_winograd_forward_pretransformed(&d, <fc_conv_algorithm>algo, pi, pu,
                                                           pb, po, NULL, 0)
        else:
            st = fc_conv2d_winograd_backward_data_pretransformed(&d, <fc_conv_algorithm>algo,
                                                                 pi, pu, po, NULL, 0)
    _check(st, "conv2d_winograd")


# Forward with the fused epilogue (C API fc_conv2d_forward_ex, fc_epilogue).

cdef void *_workspace(ws, size_t *n) except? NULL:
    """The data and byte size of a caller workspace (a C-contiguous writeable ndarray),
    or NULL and 0 for None (the library's per-thread cache)."""
    n[0] = 0
    if ws is None:
        return NULL
    if not isinstance(ws, np.ndarray) or not ws.flags.c_contiguous or not ws.flags.writeable:
        raise TypeError("workspace: expected a writeable C-contiguous numpy.ndarray or None")
    n[0] = ws.nbytes
    return cnp.PyArray_DATA(<cnp.ndarray>ws) if n[0] else NULL


cdef fc_epilogue _epilogue(scale, bias, residual, bint relu, int64_t K, int64_t n_out) except *:
    cdef fc_epilogue ep
    ep.scale = _fptr_opt(scale, K, "scale")
    ep.bias = _fptr_opt(bias, K, "bias")
    ep.residual = _fptr_opt(residual, n_out, "residual")
    ep.relu = relu
    return ep


def conv2d_forward_ex(x, w, scale, bias, residual, bint relu, y, tuple stride, tuple pads,
                      tuple dilation, int64_t groups, int algo, ws=None):
    """y = act(scale * conv(x, w) + bias + residual); residual may be y itself."""
    cdef fc_conv2d_desc d = _conv_desc(x.shape, w.shape[0], w.shape[2], w.shape[3], stride,
                                       pads, dilation, groups)
    cdef int64_t OH = 0, OW = 0
    _check(fc_conv2d_output_shape(&d, &OH, &OW), "conv2d")
    cdef const float *px = _fptr(x, d.N * d.C * d.H * d.W, "x")
    cdef const float *pw = _fptr(w, d.K * (d.C // d.groups) * d.R * d.S, "weight")
    cdef fc_epilogue ep = _epilogue(scale, bias, residual, relu, d.K, d.N * d.K * OH * OW)
    cdef float *py = _fptr(y, d.N * d.K * OH * OW, "out", True)
    cdef size_t nws = 0
    cdef void *pws = _workspace(ws, &nws)
    cdef fc_status st
    with nogil:
        st = fc_conv2d_forward_ex(&d, <fc_conv_algorithm>algo, px, pw, &ep, py, pws, nws)
    _check(st, "conv2d")


def conv2d_winograd_forward_pretransformed_ex(x, u, scale, bias, residual, bint relu, y,
                                              tuple w_shape, tuple pads, int64_t groups,
                                              int algo, ws=None):
    """The Winograd forward from pre-transformed weights u, with the epilogue."""
    cdef fc_conv2d_desc d = _conv_desc(x.shape, w_shape[0], w_shape[2], w_shape[3], (1, 1),
                                       pads, (1, 1), groups)
    cdef int64_t OH = 0, OW = 0
    cdef size_t n = 0
    _check(fc_conv2d_output_shape(&d, &OH, &OW), "conv2d_winograd")
    _check(fc_conv2d_winograd_weights_size(&d, <fc_conv_algorithm>algo, FC_PASS_FORWARD, &n),
           "conv2d_winograd")
    cdef const float *px = _fptr(x, d.N * d.C * d.H * d.W, "x")
    cdef const float *pu = _fptr(u, n, "u")
    cdef fc_epilogue ep = _epilogue(scale, bias, residual, relu, d.K, d.N * d.K * OH * OW)
    cdef float *py = _fptr(y, d.N * d.K * OH * OW, "out", True)
    cdef size_t nws = 0
    cdef void *pws = _workspace(ws, &nws)
    cdef fc_status st
    with nogil:
        st = fc_conv2d_winograd_forward_pretransformed_ex(&d, <fc_conv_algorithm>algo, px, pu,
                                                          &ep, py, pws, nws)
    _check(st, "conv2d_winograd")


# Blocked channel layout NCHW8c (C API fc_reorder_*, fc_conv2d_blocked_*).

def reorder_nchw_to_nchw8c(x, xb):
    """xb (N, ceil(C/8), H, W, 8) from x (N, C, H, W)."""
    cdef int64_t N, C, H, W
    N, C, H, W = x.shape
    cdef int64_t cp = (C + 7) // 8 * 8
    cdef const float *px = _fptr(x, N * C * H * W, "x")
    cdef float *pb = _fptr(xb, N * cp * H * W, "out", True)
    cdef fc_status st
    with nogil:
        st = fc_reorder_nchw_to_nchw8c(N, C, H, W, px, pb)
    _check(st, "to_nchw8c")


def reorder_nchw8c_to_nchw(xb, x):
    """x (N, C, H, W) from xb (N, ceil(C/8), H, W, 8)."""
    cdef int64_t N, C, H, W
    N, C, H, W = x.shape
    cdef int64_t cp = (C + 7) // 8 * 8
    cdef const float *pb = _fptr(xb, N * cp * H * W, "x")
    cdef float *px = _fptr(x, N * C * H * W, "out", True)
    cdef fc_status st
    with nogil:
        st = fc_reorder_nchw8c_to_nchw(N, C, H, W, pb, px)
    _check(st, "from_nchw8c")


def conv2d_blocked_transform_weights(w):
    """The arranged weights of w (K, C, R, S), a flat float32 array."""
    cdef fc_conv2d_desc d = _conv_desc((1, w.shape[1], w.shape[2], w.shape[3]), w.shape[0],
                                       w.shape[2], w.shape[3], (1, 1), (0, 0, 0, 0), (1, 1), 1)
    cdef size_t n = 0
    _check(fc_conv2d_blocked_weights_size(&d, &n), "pack_nchw8c_weights")
    cdef const float *pw = _fptr(w, d.K * d.C * d.R * d.S, "weight")
    wb = np.empty(n, dtype=np.float32)
    cdef float *pwb = _fptr(wb, n, "packed", True)
    cdef fc_status st
    with nogil:
        st = fc_conv2d_blocked_transform_weights(&d, pw, pwb, n)
    _check(st, "pack_nchw8c_weights")
    return wb


def conv2d_blocked_forward(xb, tuple x_shape, wb, tuple w_shape, scale, bias, residual,
                           bint relu, yb, tuple stride, tuple pads, tuple dilation, ws=None):
    """yb = act(scale * conv(xb, w) + bias + residual) on the NCHW8c layout; x_shape and
    w_shape are the logical (N, C, H, W) and (K, C, R, S)."""
    cdef fc_conv2d_desc d = _conv_desc(x_shape, w_shape[0], w_shape[2], w_shape[3], stride,
                                       pads, dilation, 1)
    cdef int64_t OH = 0, OW = 0
    cdef size_t n = 0
    _check(fc_conv2d_output_shape(&d, &OH, &OW), "conv2d_nchw8c")
    _check(fc_conv2d_blocked_weights_size(&d, &n), "conv2d_nchw8c")
    cdef int64_t cp = (d.C + 7) // 8 * 8, kp = (d.K + 7) // 8 * 8
    cdef const float *px = _fptr(xb, d.N * cp * d.H * d.W, "x")
    cdef const float *pw = _fptr(wb, n, "weight")
    cdef fc_epilogue ep = _epilogue(scale, bias, residual, relu, d.K, d.N * kp * OH * OW)
    cdef float *py = _fptr(yb, d.N * kp * OH * OW, "out", True)
    cdef size_t nws = 0
    cdef void *pws = _workspace(ws, &nws)
    cdef fc_status st
    with nogil:
        st = fc_conv2d_blocked_forward(&d, px, pw, &ep, py, pws, nws)
    _check(st, "conv2d_nchw8c")

def conv2d_plan_blocked_winograd(tuple xs, int64_t K, tuple pads, int64_t R=3):
    """The algorithm name a plan holding activations in NCHW8c runs this RxR (3 or 5)
    stride-1 forward by: "winograd_f23" (F(2x2,5x5) on 5x5), "winograd_f43" or
    "direct"."""
    cdef fc_conv2d_desc d = _conv_desc(xs, K, R, R, (1, 1), pads, (1, 1), 1)
    cdef fc_conv_algorithm algo = FC_CONV_DIRECT
    _check(fc_conv2d_plan_blocked_winograd(&d, &algo), "conv2d")
    return ALGORITHM_NAMES[algo]


def conv2d_blocked_winograd_transform_weights(w, str algorithm):
    """The transformed, arranged Winograd filters of w (K, C, 3, 3) for algorithm
    "winograd_f23" or "winograd_f43", or w (K, C, 5, 5) for "winograd_f23" (F(2x2,5x5)),
    a flat float32 array for conv2d_blocked_winograd_forward."""
    cdef fc_conv2d_desc d = _conv_desc((1, w.shape[1], w.shape[2], w.shape[3]), w.shape[0],
                                       w.shape[2], w.shape[3], (1, 1), (0, 0, 0, 0), (1, 1), 1)
    cdef fc_conv_algorithm algo = ALGORITHMS[algorithm]
    cdef size_t n = 0
    _check(fc_conv2d_blocked_winograd_weights_size(&d, algo, &n), "pack_nchw8c_weights")
    cdef const float *pw = _fptr(w, d.K * d.C * d.R * d.S, "weight")
    wb = np.empty(n, dtype=np.float32)
    cdef float *pwb = _fptr(wb, n, "packed", True)
    cdef fc_status st
    with nogil:
        st = fc_conv2d_blocked_winograd_transform_weights(&d, algo, pw, pwb, n)
    _check(st, "pack_nchw8c_weights")
    return wb


def conv2d_blocked_winograd_forward(str algorithm, xb, tuple x_shape, wb, w, scale, bias,
                                    residual, bint relu, yb, tuple pads, ws=None):
    """conv2d_blocked_forward by Winograd (3x3 or 5x5, stride 1): wb from
    conv2d_blocked_winograd_transform_weights(w, algorithm), w the plain (K, C, R, R)
    filters."""
    cdef fc_conv2d_desc d = _conv_desc(x_shape, w.shape[0], w.shape[2], w.shape[3], (1, 1),
                                       pads, (1, 1), 1)
    cdef fc_conv_algorithm algo = ALGORITHMS[algorithm]
    cdef int64_t OH = 0, OW = 0
    cdef size_t n = 0
    _check(fc_conv2d_output_shape(&d, &OH, &OW), "conv2d_nchw8c")
    _check(fc_conv2d_blocked_winograd_weights_size(&d, algo, &n), "conv2d_nchw8c")
    cdef int64_t cp = (d.C + 7) // 8 * 8, kp = (d.K + 7) // 8 * 8
    cdef const float *px = _fptr(xb, d.N * cp * d.H * d.W, "x")
    cdef const float *pwb = _fptr(wb, n, "weight")
    cdef const float *pw = _fptr(w, d.K * d.C * d.R * d.S, "weight")
    cdef fc_epilogue ep = _epilogue(scale, bias, residual, relu, d.K, d.N * kp * OH * OW)
    cdef float *py = _fptr(yb, d.N * kp * OH * OW, "out", True)
    cdef size_t nws = 0
    cdef void *pws = _workspace(ws, &nws)
    cdef fc_status st
    with nogil:
        st = fc_conv2d_blocked_winograd_forward(&d, algo, px, pwb, pw, &ep, py, pws, nws)
    _check(st, "conv2d_nchw8c")


def conv2d_blocked_winograd_workspace_size(str algorithm, tuple xs, int64_t K, tuple pads,
                                           int64_t R=3):
    """Bytes of workspace conv2d_blocked_winograd_forward needs (an RxR kernel)."""
    cdef fc_conv2d_desc d = _conv_desc(xs, K, R, R, (1, 1), pads, (1, 1), 1)
    cdef size_t n = 0
    _check(fc_conv2d_blocked_winograd_workspace_size(&d, ALGORITHMS[algorithm], &n),
           "conv2d_nchw8c")
    return n


# im2col with pre-packed weights (C API fc_conv2d_pack_weights).

def conv2d_pack_weights(tuple xs, w, tuple stride, tuple pads, tuple dilation,
                        int64_t groups):
    """w packed once for the im2col forward under the active ISA (a float32 array whose
    layout is private; it fits any input shape with w's shape and groups)."""
    cdef fc_conv2d_desc d = _conv_desc(xs, w.shape[0], w.shape[2], w.shape[3], stride, pads,
                                       dilation, groups)
    cdef size_t n = 0
    _check(fc_conv2d_packed_weights_size(&d, &n), "conv2d_pack_weights")
    cdef const float *pw = _fptr(w, d.K * (d.C // d.groups) * d.R * d.S, "weight")
    packed = np.empty(n, dtype=np.float32)
    cdef float *pp = _fptr(packed, n, "packed", True)
    cdef fc_status st
    with nogil:
        st = fc_conv2d_pack_weights(&d, pw, pp, n)
    _check(st, "conv2d_pack_weights")
    return packed


cdef int _check_packed(fc_conv2d_desc *d, packed, int64_t n) except -1:
    """ValueError naming what is wrong with `packed` for descriptor d."""
    cdef const float *pp = _fptr(packed, n, "packed")
    cdef fc_status st = fc_conv2d_packed_weights_check(d, pp, n)
    if st == FC_INVALID_SHAPE:
        raise ValueError("packed: weights packed for another weight shape than "
                         f"(K, C/groups, R, S, groups) = ({d.K}, {d.C // d.groups}, {d.R}, "
                         f"{d.S}, {d.groups})")
    if st == FC_INVALID_ARGUMENT:
        raise ValueError("packed: not weights packed by conv2d_pack_weights under the "
                         f"active ISA ({get_isa()}); pack them again after set_isa")
    return _check(st, "conv2d_forward_prepacked")


def conv2d_forward_prepacked_ex(x, packed, scale, bias, residual, bint relu, y,
                                tuple w_shape, tuple stride, tuple pads, tuple dilation,
                                int64_t groups, ws=None):
    """The im2col forward from weights packed by conv2d_pack_weights, with the epilogue
    y = act(scale * conv(x, w) + bias + residual) (residual may be y itself)."""
    if not isinstance(packed, np.ndarray) or packed.ndim != 1:
        raise TypeError("packed: expected the 1-D array conv2d_pack_weights returned")
    cdef fc_conv2d_desc d = _conv_desc(x.shape, w_shape[0], w_shape[2], w_shape[3], stride,
                                       pads, dilation, groups)
    cdef int64_t OH = 0, OW = 0
    _check(fc_conv2d_output_shape(&d, &OH, &OW), "conv2d")
    cdef int64_t n = packed.shape[0]
    cdef const float *px = _fptr(x, d.N * d.C * d.H * d.W, "x")
    cdef const float *pp = _fptr(packed, n, "packed")
    cdef fc_epilogue ep = _epilogue(scale, bias, residual, relu, d.K, d.N * d.K * OH * OW)
    cdef float *py = _fptr(y, d.N * d.K * OH * OW, "out", True)
    cdef size_t nws = 0
    cdef void *pws = _workspace(ws, &nws)
    cdef fc_status st
    with nogil:
        st = fc_conv2d_forward_prepacked_ex(&d, px, pp, n, &ep, py, pws, nws)
    if st == FC_INVALID_SHAPE or st == FC_INVALID_ARGUMENT:
        _check_packed(&d, packed, n)   # names the packed buffer's problem if it has one
    _check(st, "conv2d")


def conv2d_prepacked_workspace_size(tuple xs, tuple w_shape, tuple stride, tuple pads,
                                    tuple dilation, int64_t groups):
    """Bytes of workspace conv2d_forward_prepacked_ex needs (either orientation)."""
    cdef fc_conv2d_desc d = _conv_desc(xs, w_shape[0], w_shape[2], w_shape[3], stride, pads,
                                       dilation, groups)
    cdef size_t n = 0
    _check(fc_conv2d_prepacked_workspace_size(&d, &n), "conv2d")
    return n


def conv2d_blocked_workspace_size(tuple xs, tuple w_shape, tuple stride, tuple pads,
                                  tuple dilation):
    """Bytes of workspace conv2d_blocked_forward needs."""
    cdef fc_conv2d_desc d = _conv_desc(xs, w_shape[0], w_shape[2], w_shape[3], stride, pads,
                                       dilation, 1)
    cdef size_t n = 0
    _check(fc_conv2d_blocked_workspace_size(&d, &n), "conv2d_nchw8c")
    return n

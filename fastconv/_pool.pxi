# Crossing for the pool ops (see _C.pyx for the helpers).

cdef int64_t *_i64ptr(object a, int64_t n, str name, bint write=False) except NULL:
    """Pointer to the data of a C-contiguous int64 array of exactly n elements."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name}: expected a numpy.ndarray, got {type(a).__name__}")
    cdef cnp.ndarray arr = <cnp.ndarray>a
    if cnp.PyArray_TYPE(arr) != cnp.NPY_INT64 or not cnp.PyArray_IS_C_CONTIGUOUS(arr):
        raise TypeError(f"{name}: expected a C-contiguous int64 array")
    if write and not cnp.PyArray_ISWRITEABLE(arr):
        raise ValueError(f"{name}: array is read-only")
    if cnp.PyArray_SIZE(arr) != n:
        raise ValueError(f"{name}: expected {n} elements, got {cnp.PyArray_SIZE(arr)}")
    cdef int64_t *p = <int64_t *>cnp.PyArray_DATA(arr)
    if p == NULL:
        raise ValueError(f"{name}: empty array")
    return p


cdef fc_pool2d_desc _pool_desc(tuple xs, tuple kernel, tuple stride, tuple pads,
                               tuple dilation, bint ceil_mode, bint count_include_pad):
    cdef fc_pool2d_desc d
    d.N, d.C, d.H, d.W = xs
    d.kernel_h, d.kernel_w = kernel
    d.stride_h, d.stride_w = stride
    d.pad_top, d.pad_bottom, d.pad_left, d.pad_right = pads
    d.dilation_h, d.dilation_w = dilation
    d.ceil_mode = ceil_mode
    d.count_include_pad = count_include_pad
    return d


def pool2d_output_shape(tuple xs, tuple kernel, tuple stride, tuple pads, tuple dilation,
                        bint ceil_mode):
    cdef fc_pool2d_desc d = _pool_desc(xs, kernel, stride, pads, dilation, ceil_mode, True)
    cdef int64_t OH = 0, OW = 0
    _check(fc_pool2d_output_shape(&d, &OH, &OW), "pool2d")
    return OH, OW


def max_pool2d_forward(x, y, indices, tuple kernel, tuple stride, tuple pads,
                       tuple dilation, bint ceil_mode):
    cdef fc_pool2d_desc d = _pool_desc(x.shape, kernel, stride, pads, dilation, ceil_mode, True)
    cdef int64_t OH = 0, OW = 0
    _check(fc_pool2d_output_shape(&d, &OH, &OW), "max_pool2d")
    cdef int64_t n_out = d.N * d.C * OH * OW
    cdef const float *px = _fptr(x, d.N * d.C * d.H * d.W, "x")
    cdef float *py = _fptr(y, n_out, "out", True)
    cdef int64_t *pi = NULL
    if indices is not None:
        pi = _i64ptr(indices, n_out, "indices", True)
    cdef fc_status st
    with nogil:
        st = fc_max_pool2d_forward(&d, px, py, pi)
    _check(st, "max_pool2d")


def max_pool2d_forward_nchw8c(xb, yb, tuple xs, tuple kernel, tuple stride, tuple pads,
                              tuple dilation, bint ceil_mode):
    """yb = max pooling of xb, both NCHW8c; xs: the logical (N, C, H, W)."""
    cdef fc_pool2d_desc d = _pool_desc(xs, kernel, stride, pads, dilation, ceil_mode, True)
    cdef int64_t OH = 0, OW = 0
    _check(fc_pool2d_output_shape(&d, &OH, &OW), "max_pool2d_nchw8c")
    cdef int64_t blocks = d.N * ((d.C + 7) // 8)
    cdef const float *px = _fptr(xb, blocks * d.H * d.W * 8, "x")
    cdef float *py = _fptr(yb, blocks * OH * OW * 8, "out", True)
    cdef fc_status st
    with nogil:
        st = fc_max_pool2d_forward_nchw8c(&d, px, py)
    _check(st, "max_pool2d_nchw8c")


def max_pool2d_backward(gy, x, indices, gx, tuple kernel, tuple stride, tuple pads,
                        tuple dilation, bint ceil_mode):
    cdef fc_pool2d_desc d = _pool_desc(gx.shape, kernel, stride, pads, dilation, ceil_mode,
                                       True)
    cdef int64_t OH = 0, OW = 0
    _check(fc_pool2d_output_shape(&d, &OH, &OW), "max_pool2d_backward")
    cdef int64_t n_in = d.N * d.C * d.H * d.W, n_out = d.N * d.C * OH * OW
    cdef const float *pgy = _fptr(gy, n_out, "grad_out")
    cdef const float *px = _fptr_opt(x, n_in, "x")
    cdef float *pgx = _fptr(gx, n_in, "grad_x", True)
    cdef const int64_t *pi = NULL
    if indices is not None:
        pi = _i64ptr(indices, n_out, "indices")
    cdef fc_status st
    with nogil:
        st = fc_max_pool2d_backward(&d, pgy, px, pi, pgx)
    if st == FC_INVALID_ARGUMENT and indices is not None:
        raise ValueError(f"max_pool2d_backward: indices must lie in [0, H*W) = "
                         f"[0, {d.H * d.W})")
    _check(st, "max_pool2d_backward")


def avg_pool2d_forward(x, y, tuple kernel, tuple stride, tuple pads, bint ceil_mode,
                       bint count_include_pad):
    cdef fc_pool2d_desc d = _pool_desc(x.shape, kernel, stride, pads, (1, 1), ceil_mode,
                                       count_include_pad)
    cdef int64_t OH = 0, OW = 0
    _check(fc_pool2d_output_shape(&d, &OH, &OW), "avg_pool2d")
    cdef const float *px = _fptr(x, d.N * d.C * d.H * d.W, "x")
    cdef float *py = _fptr(y, d.N * d.C * OH * OW, "out", True)
    cdef fc_status st
    with nogil:
        st = fc_avg_pool2d_forward(&d, px, py)
    _check(st, "avg_pool2d")


def avg_pool2d_backward(gy, gx, tuple kernel, tuple stride, tuple pads, bint ceil_mode,
                        bint count_include_pad):
    cdef fc_pool2d_desc d = _pool_desc(gx.shape, kernel, stride, pads, (1, 1), ceil_mode,
                                       count_include_pad)
    cdef int64_t OH = 0, OW = 0
    _check(fc_pool2d_output_shape(&d, &OH, &OW), "avg_pool2d_backward")
    cdef const float *pgy = _fptr(gy, d.N * d.C * OH * OW, "grad_out")
    cdef float *pgx = _fptr(gx, d.N * d.C * d.H * d.W, "grad_x", True)
    cdef fc_status st
    with nogil:
        st = fc_avg_pool2d_backward(&d, pgy, pgx)
    _check(st, "avg_pool2d_backward")


def global_pool2d_forward(str op, x, y):
    cdef int64_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef const float *px = _fptr(x, N * C * H * W, "x")
    cdef float *py = _fptr(y, N * C, "out", True)
    cdef bint is_max = op == "max"
    cdef fc_status st
    with nogil:
        if is_max:
            st = fc_global_max_pool2d_forward(N, C, H, W, px, py)
        else:
            st = fc_global_avg_pool2d_forward(N, C, H, W, px, py)
    _check(st, f"global_{op}_pool2d")


def global_pool2d_backward(str op, gy, x, gx):
    cdef int64_t N = gx.shape[0], C = gx.shape[1], H = gx.shape[2], W = gx.shape[3]
    cdef const float *pgy = _fptr(gy, N * C, "grad_out")
    cdef const float *px = _fptr_opt(x, N * C * H * W, "x")
    cdef float *pgx = _fptr(gx, N * C * H * W, "grad_x", True)
    cdef bint is_max = op == "max"
    if is_max and px == NULL:
        raise ValueError("global_max_pool2d_backward: x is required")
    cdef fc_status st
    with nogil:
        if is_max:
            st = fc_global_max_pool2d_backward(N, C, H, W, pgy, px, pgx)
        else:
            st = fc_global_avg_pool2d_backward(N, C, H, W, pgy, pgx)
    _check(st, f"global_{op}_pool2d_backward")

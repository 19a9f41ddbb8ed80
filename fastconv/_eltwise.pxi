# Crossing for the elementwise ops (see _C.pyx for the helpers). Callers
# (fastconv.functional.eltwise) pass non-empty C-contiguous float32 arrays whose sizes
# they checked; the element counts are checked again here.

ACTIVATIONS = {"relu": FC_ACTIVATION_RELU, "leaky_relu": FC_ACTIVATION_LEAKY_RELU,
               "tanh": FC_ACTIVATION_TANH, "sigmoid": FC_ACTIVATION_SIGMOID,
               "gelu": FC_ACTIVATION_GELU, "gelu_tanh": FC_ACTIVATION_GELU_TANH}


cdef uint8_t *_u8ptr(object a, int64_t n, str name, bint write=False) except NULL:
    """Pointer to the data of a C-contiguous uint8 array of exactly n elements."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name}: expected a numpy.ndarray, got {type(a).__name__}")
    cdef cnp.ndarray arr = <cnp.ndarray>a
    if cnp.PyArray_TYPE(arr) != cnp.NPY_UINT8 or not cnp.PyArray_IS_C_CONTIGUOUS(arr):
        raise TypeError(f"{name}: expected a C-contiguous uint8 array")
    if write and not cnp.PyArray_ISWRITEABLE(arr):
        raise ValueError(f"{name}: array is read-only")
    if cnp.PyArray_SIZE(arr) != n:
        raise ValueError(f"{name}: expected {n} elements, got {cnp.PyArray_SIZE(arr)}")
    cdef uint8_t *p = <uint8_t *>cnp.PyArray_DATA(arr)
    if p == NULL:
        raise ValueError(f"{name}: empty array")
    return p


def activation_forward(str kind, float alpha, x, y):
    cdef fc_activation k = ACTIVATIONS[kind]
    cdef int64_t n = x.size
    cdef const float *px = _fptr(x, n, "x")
    cdef float *py = _fptr(y, n, "out", True)
    cdef fc_status st
    with nogil:
        st = fc_activation_forward(k, alpha, n, px, py)
    _check(st, kind)


def activation_backward(str kind, float alpha, v, gy, gx):
    cdef fc_activation k = ACTIVATIONS[kind]
    cdef int64_t n = gy.size
    cdef const float *pv = _fptr(v, n, "x_or_y")
    cdef const float *pg = _fptr(gy, n, "grad_out")
    cdef float *pgx = _fptr(gx, n, "out", True)
    cdef fc_status st
    with nogil:
        st = fc_activation_backward(k, alpha, n, pv, pg, pgx)
    _check(st, kind + "_backward")


def add(a, b, y, bint relu):
    cdef int64_t n = a.size
    cdef const float *pa = _fptr(a, n, "a")
    cdef const float *pb = _fptr(b, n, "b")
    cdef float *py = _fptr(y, n, "out", True)
    cdef fc_status st
    with nogil:
        st = fc_add_relu(n, pa, pb, py) if relu else fc_add(n, pa, pb, py)
    _check(st, "add_relu" if relu else "add")


def bias_add(int64_t N, int64_t C, int64_t HW, bias, y):
    cdef const float *pb = _fptr(bias, C, "bias")
    cdef float *py = _fptr(y, N * C * HW, "out", True)
    cdef fc_status st
    with nogil:
        st = fc_bias_add_nchw(N, C, HW, pb, py)
    _check(st, "bias_add")


def bias_grad(int64_t N, int64_t C, int64_t HW, gy, gb):
    cdef const float *pg = _fptr(gy, N * C * HW, "grad_out")
    cdef float *pgb = _fptr(gb, C, "grad_bias", True)
    cdef fc_status st
    with nogil:
        st = fc_bias_grad_nchw(N, C, HW, pg, pgb)
    _check(st, "bias_add_backward")


def dropout_forward(double p, uint64_t seed, x, y, mask):
    cdef int64_t n = x.size
    cdef const float *px = _fptr(x, n, "x")
    cdef float *py = _fptr(y, n, "out", True)
    cdef uint8_t *pm = _u8ptr(mask, (n + 7) // 8, "mask", True)
    cdef fc_status st
    with nogil:
        st = fc_dropout_forward(n, p, seed, px, py, pm)
    _check(st, "dropout")


def dropout_backward(double p, mask, gy, gx):
    cdef int64_t n = gy.size
    cdef const uint8_t *pm = _u8ptr(mask, (n + 7) // 8, "mask")
    cdef const float *pg = _fptr(gy, n, "grad_out")
    cdef float *pgx = _fptr(gx, n, "out", True)
    cdef fc_status st
    with nogil:
        st = fc_dropout_backward(n, p, pm, pg, pgx)
    _check(st, "dropout_backward")

from libc.stdint cimport uint16_t
# Crossing for the 16-bit float conversions (src_c/convert/). The 16-bit side travels as
# a C-contiguous uint16 array of the bit patterns (callers view bfloat16 / float16 arrays
# as uint16); the float32 side as usual. Element counts are checked here.

cdef extern from "fastconv.h" nogil:
    fc_status fc_convert_f32_to_bf16(int64_t n, const float *x, uint16_t *y)
    fc_status fc_convert_bf16_to_f32(int64_t n, const uint16_t *x, float *y)
    fc_status fc_convert_f32_to_f16(int64_t n, const float *x, uint16_t *y)
    fc_status fc_convert_f16_to_f32(int64_t n, const uint16_t *x, float *y)


cdef uint16_t *_u16ptr(object a, int64_t n, str name, bint write=False) except NULL:
    """Pointer to the data of a C-contiguous uint16 array of exactly n elements."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name}: expected a numpy.ndarray, got {type(a).__name__}")
    cdef cnp.ndarray arr = <cnp.ndarray>a
    if cnp.PyArray_TYPE(arr) != cnp.NPY_UINT16 or not cnp.PyArray_IS_C_CONTIGUOUS(arr):
        raise TypeError(f"{name}: expected a C-contiguous uint16 array")
    if write and not cnp.PyArray_ISWRITEABLE(arr):
        raise ValueError(f"{name}: array is read-only")
    if cnp.PyArray_SIZE(arr) != n:
        raise ValueError(f"{name}: expected {n} elements, got {cnp.PyArray_SIZE(arr)}")
    cdef uint16_t *p = <uint16_t *>cnp.PyArray_DATA(arr)
    if p == NULL:
        raise ValueError(f"{name}: empty array")
    return p


def convert_to_16(str kind, x, y):
    """y (uint16 bits of kind 'bfloat16' or 'float16') = x (float32), rounded."""
    cdef int64_t n = x.size
    if n == 0:
        return
    cdef const float *px = _fptr(x, n, "x")
    cdef uint16_t *py = _u16ptr(y, n, "out", True)
    cdef fc_status st
    cdef bint bf = kind == "bfloat16"
    if not bf and kind != "float16":
        raise ValueError(f"kind: expected 'bfloat16' or 'float16', got {kind!r}")
    with nogil:
        st = fc_convert_f32_to_bf16(n, px, py) if bf else fc_convert_f32_to_f16(n, px, py)
    _check(st, "convert_f32_to_" + ("bf16" if bf else "f16"))


def convert_from_16(str kind, x, y):
    """y (float32) = x (uint16 bits of kind 'bfloat16' or 'float16'), exactly."""
    cdef int64_t n = x.size
    if n == 0:
        return
    cdef const uint16_t *px = _u16ptr(x, n, "x")
    cdef float *py = _fptr(y, n, "out", True)
    cdef fc_status st
    cdef bint bf = kind == "bfloat16"
    if not bf and kind != "float16":
        raise ValueError(f"kind: expected 'bfloat16' or 'float16', got {kind!r}")
    with nogil:
        st = fc_convert_bf16_to_f32(n, px, py) if bf else fc_convert_f16_to_f32(n, px, py)
    _check(st, "convert_" + ("bf16" if bf else "f16") + "_to_f32")

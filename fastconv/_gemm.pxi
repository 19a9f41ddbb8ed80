# Crossing for the gemm ops (see _C.pyx for the helpers).


cdef float *_fptr_extent(object a, int64_t rows, int64_t cols, int64_t ld, str name,
                         bint write=False) except NULL:
    """Pointer to a C-contiguous float32 array that holds a rows x cols matrix with
    leading dimension ld (at least (rows - 1) * ld + cols elements)."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name}: expected a numpy.ndarray, got {type(a).__name__}")
    cdef cnp.ndarray arr = <cnp.ndarray>a
    if cnp.PyArray_TYPE(arr) != cnp.NPY_FLOAT32 or not cnp.PyArray_IS_C_CONTIGUOUS(arr):
        raise TypeError(f"{name}: expected a C-contiguous float32 array")
    if write and not cnp.PyArray_ISWRITEABLE(arr):
        raise ValueError(f"{name}: array is read-only")
    if rows < 1 or cols < 1 or ld < cols:
        raise ValueError(f"{name}: a {rows} x {cols} matrix needs ld >= {cols}, got ld={ld}")
    # in Python ints: a hostile ld must not wrap the product around to a small value
    if cnp.PyArray_SIZE(arr) < (<object>rows - 1) * ld + cols:
        raise ValueError(f"{name}: a {rows} x {cols} matrix with ld={ld} needs "
                         f"{(rows - 1) * ld + cols} elements, got {cnp.PyArray_SIZE(arr)}")
    return <float *>cnp.PyArray_DATA(arr)


def sgemm(bint trans_a, bint trans_b, int64_t M, int64_t N, int64_t K, float alpha,
          a, int64_t lda, b, int64_t ldb, float beta, c, int64_t ldc):
    """C = alpha * op(A) op(B) + beta * C on flat buffers (fc_sgemm as is; M, N, K >= 1).
    op(A) is A, stored [M][lda], or A^T, stored [K][lda]; likewise B."""
    cdef const float *pa = _fptr_extent(a, K if trans_a else M, M if trans_a else K, lda, "a")
    cdef const float *pb = _fptr_extent(b, N if trans_b else K, K if trans_b else N, ldb, "b")
    cdef float *pc = _fptr_extent(c, M, N, ldc, "c", True)
    cdef fc_status st
    with nogil:
        st = fc_sgemm(trans_a, trans_b, M, N, K, alpha, pa, lda, pb, ldb, beta, pc, ldc)
    _check(st, "sgemm")

# cython: language_level=3, boundscheck=False, wraparound=False
"""The crossing: C-contiguous float32 buffers in, the GIL released around each C
call, a non-OK status turned into a Python exception in one place (_check).

Callers are the validated functions in fastconv.functional; the checks here are
the last line of defence (dtype, contiguity, element counts) so that no call can
touch memory outside the arrays it was given.
"""
cimport numpy as cnp
from libc.stdint cimport int64_t

import numpy as np

from fastconv.errors import UnsupportedError

cnp.import_array()

cdef extern from "core/internal.h":
    size_t fc_last_failed_alloc() nogil

ALGORITHMS = {"auto": FC_CONV_AUTO, "direct": FC_CONV_DIRECT, "im2col": FC_CONV_IM2COL,
              "winograd_f23": FC_CONV_WINOGRAD_F23, "winograd_f43": FC_CONV_WINOGRAD_F43,
              "depthwise": FC_CONV_DEPTHWISE}
ALGORITHM_NAMES = {v: k for k, v in ALGORITHMS.items()}


cdef int _check(fc_status st, str where) except -1:
    """Raises the exception for a non-OK status (after the GIL is back)."""
    if st == FC_SUCCESS:
        return 0
    msg = f"{where}: {fc_status_string(st).decode()}"
    if st == FC_OUT_OF_MEMORY:
        # the size is the calling thread's (this one's: the C call ran on it, GIL released)
        failed = fc_last_failed_alloc()
        if failed:
            msg += f" (failed to allocate a workspace of {failed} bytes)"
        raise MemoryError(msg)
    if st == FC_UNSUPPORTED_ALGORITHM or st == FC_UNSUPPORTED_HARDWARE:
        raise UnsupportedError(msg)
    if st == FC_INVALID_WORKSPACE:
        # Python never passes a workspace: the library sized its own and disagreed
        # with itself, a fastconv bug rather than anything the caller did.
        raise RuntimeError(f"{where}: internal error, the library's own workspace was "
                           "sized wrongly; please report this with the call's arguments")
    raise ValueError(msg)


cdef float *_fptr(object a, int64_t n, str name, bint write=False) except NULL:
    """Pointer to the data of a C-contiguous float32 array of exactly n elements."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name}: expected a numpy.ndarray, got {type(a).__name__}")
    cdef cnp.ndarray arr = <cnp.ndarray>a
    if cnp.PyArray_TYPE(arr) != cnp.NPY_FLOAT32 or not cnp.PyArray_IS_C_CONTIGUOUS(arr):
        raise TypeError(f"{name}: expected a C-contiguous float32 array")
    if write and not cnp.PyArray_ISWRITEABLE(arr):
        raise ValueError(f"{name}: array is read-only")
    if cnp.PyArray_SIZE(arr) != n:
        raise ValueError(f"{name}: expected {n} elements, got {cnp.PyArray_SIZE(arr)}")
    cdef float *p = <float *>cnp.PyArray_DATA(arr)
    if p == NULL:  # zero-size arrays may have no data: callers never pass them
        raise ValueError(f"{name}: empty array")
    return p


cdef float *_fptr_opt(object a, int64_t n, str name, bint write=False) except? NULL:
    if a is None:
        return NULL
    return _fptr(a, n, name, write)


# ------------------------------------------------------------ library state

def version():
    return fc_version().decode()


def set_num_threads(int n):
    cdef fc_status st
    with nogil:  # waits for calls in flight in other threads
        st = fc_set_num_threads(n)
    _check(st, "set_num_threads")


def get_num_threads():
    return fc_get_num_threads()


def has_openmp():
    return bool(fc_has_openmp())


ISA_NAMES = {FC_ISA_PORTABLE: "portable", FC_ISA_AVX2: "avx2", FC_ISA_AVX512: "avx512"}


def get_isa():
    return ISA_NAMES[fc_get_isa()]


def cpu_isa():
    return ISA_NAMES[fc_cpu_isa()]


cdef int _value_of(dict names, str name, str where, str what) except -1:
    """The enum value whose name is `name`, or ValueError listing the names."""
    for k, v in names.items():
        if v == name:
            return k
    raise ValueError(f"{where}: unknown {what} {name!r}; expected one of {sorted(names.values())}")


def set_isa(str name):
    cdef fc_isa isa = <fc_isa>_value_of(ISA_NAMES, name, "set_isa", "ISA")
    cdef fc_status st
    with nogil:  # waits for calls in flight in other threads
        st = fc_set_isa(isa)
    _check(st, f"set_isa({name!r})")


PRECISION_NAMES = {FC_PRECISION_HIGHEST: "highest", FC_PRECISION_HIGH: "high"}


def get_precision():
    return PRECISION_NAMES[fc_get_precision()]


def set_precision(str name):
    cdef fc_precision p = <fc_precision>_value_of(PRECISION_NAMES, name, "set_precision",
                                                  "precision")
    cdef fc_status st
    with nogil:  # waits for calls in flight in other threads
        st = fc_set_precision(p)
    _check(st, f"set_precision({name!r})")


def release_workspace():
    fc_release_workspace()


def set_workspace_cache_limit(size_t nbytes):
    fc_set_workspace_cache_limit(nbytes)


def get_workspace_cache_limit():
    return fc_get_workspace_cache_limit()


def workspace_cache_bytes():
    return fc_workspace_cache_bytes()


def measure_fma_gflops(int threads, double seconds):
    """GFLOP/s of independent FMA chains on `threads` threads (see fastconv.h)."""
    cdef double g = 0.0
    cdef fc_status st
    with nogil:
        st = fc_measure_fma_gflops(threads, seconds, &g)
    _check(st, "measure_fma_gflops")
    return g


include "_conv.pxi"
include "_gemm.pxi"
include "_transpose.pxi"
include "_depthwise.pxi"
include "_pool.pxi"
include "_norm.pxi"
include "_loss.pxi"
include "_optim.pxi"
include "_eltwise.pxi"
include "_convert.pxi"
include "_array_cache.pxi"

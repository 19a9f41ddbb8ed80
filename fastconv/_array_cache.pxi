# The memory of large result arrays, kept for the next array of about the same size.
#
# A training step allocates the same activations and gradients every step. glibc maps
# every block above its mmap threshold (at most 32 MiB) afresh and unmaps it when freed,
# so each step touched those pages for the first time again: tens of thousands of page
# faults per ResNet-18 batch-16 step. Blocks of at least _CACHE_MIN bytes freed by
# fastconv's result arrays go to this cache instead, up to a limit, and the next
# request of the same size (up to 1/8 larger) takes one back.
#
# Every function here runs with the GIL held (block release is the array base's
# __dealloc__), which is the lock; fork copies the cache with the process.
from libc.stdlib cimport free
from libc.string cimport memset

cdef extern from "stdlib.h" nogil:
    int posix_memalign(void **memptr, size_t alignment, size_t size)

cdef extern from "Python.h":
    int PyTraceMalloc_Track(unsigned int domain, size_t ptr, size_t size)
    int PyTraceMalloc_Untrack(unsigned int domain, size_t ptr)

# NumPy's tracemalloc domain: an array handed out counts as NumPy's own would (memory
# tools and tracemalloc see it); a block back in the cache does not.
cdef unsigned int _NPY_TRACE_DOMAIN = 389047

DEF _SLOTS = 128
cdef size_t _CACHE_MIN = 1 << 20
cdef size_t _cache_size[_SLOTS]
cdef void *_cache_ptr[_SLOTS]
cdef int _cache_n = 0
cdef size_t _cache_bytes = 0
cdef size_t _cache_limit = 1 << 30
# counters for the tests: blocks allocated from the system, and taken from the cache
cdef size_t _cache_fresh = 0
cdef size_t _cache_hits = 0


cdef void _cache_evict_oldest():
    global _cache_n, _cache_bytes
    free(_cache_ptr[0])
    _cache_bytes -= _cache_size[0]
    _cache_n -= 1
    for i in range(_cache_n):
        _cache_ptr[i] = _cache_ptr[i + 1]
        _cache_size[i] = _cache_size[i + 1]


cdef void _cache_put(void *p, size_t n):
    global _cache_n, _cache_bytes
    if n > _cache_limit:
        free(p)
        return
    while _cache_n and (_cache_n == _SLOTS or _cache_bytes + n > _cache_limit):
        _cache_evict_oldest()
    _cache_ptr[_cache_n] = p
    _cache_size[_cache_n] = n
    _cache_n += 1
    _cache_bytes += n


cdef void *_cache_take(size_t n):
    """The smallest cached block of n to n + n/8 bytes (removed from the cache), or NULL."""
    global _cache_n, _cache_bytes
    cdef int best = -1
    for i in range(_cache_n):
        if n <= _cache_size[i] <= n + n // 8 and (best < 0 or _cache_size[i] < _cache_size[best]):
            best = i
    if best < 0:
        return NULL
    cdef void *p = _cache_ptr[best]
    _cache_bytes -= _cache_size[best]
    _cache_n -= 1
    for i in range(best, _cache_n):
        _cache_ptr[i] = _cache_ptr[i + 1]
        _cache_size[i] = _cache_size[i + 1]
    return p


cdef class _CachedBlock:
    """The base object of a cached result array: owns the block, returns it on release."""
    cdef void *ptr
    cdef size_t nbytes

    def __dealloc__(self):
        if self.ptr != NULL:
            PyTraceMalloc_Untrack(_NPY_TRACE_DOMAIN, <size_t>self.ptr)
            _cache_put(self.ptr, self.nbytes)
            self.ptr = NULL


def cached_empty(tuple shape, dtype, bint zeros=False):
    """np.empty(shape, dtype) (np.zeros with zeros) whose memory comes from, and goes
    back to, the cache when it is at least _CACHE_MIN bytes. Raises MemoryError."""
    global _cache_fresh, _cache_hits
    dt = np.dtype(dtype)
    cdef size_t n = dt.itemsize
    cdef cnp.npy_intp dims[32]
    cdef int nd = len(shape)
    if nd > 32:
        raise ValueError(f"cached_empty: at most 32 dimensions, got {nd}")
    for i in range(nd):
        dims[i] = shape[i]
        n *= <size_t>shape[i]
    if n < _CACHE_MIN or _cache_limit == 0 or dt.isbuiltin != 1:
        return (np.zeros if zeros else np.empty)(shape, dtype=dt)
    cdef void *p = _cache_take(n)
    if p != NULL:
        _cache_hits += 1
    else:
        if posix_memalign(&p, 64, n) != 0:
            while _cache_n:         # the cache may be what took the memory
                _cache_evict_oldest()
            if posix_memalign(&p, 64, n) != 0:
                raise MemoryError(f"could not allocate {n} bytes")
        _cache_fresh += 1
    if zeros:
        memset(p, 0, n)
    PyTraceMalloc_Track(_NPY_TRACE_DOMAIN, <size_t>p, n)
    cdef _CachedBlock block = _CachedBlock.__new__(_CachedBlock)
    block.ptr = p
    block.nbytes = n
    cdef cnp.ndarray arr = cnp.PyArray_SimpleNewFromData(nd, dims, dt.num, p)
    cnp.set_array_base(arr, block)
    return arr


def array_cache_release():
    """Frees every cached block."""
    while _cache_n:
        _cache_evict_oldest()


def set_array_cache_limit(size_t nbytes):
    global _cache_limit
    _cache_limit = nbytes
    while _cache_n and _cache_bytes > _cache_limit:
        _cache_evict_oldest()


def get_array_cache_limit():
    return _cache_limit


def array_cache_stats():
    """(bytes cached now, blocks cached now, blocks allocated fresh, blocks reused)."""
    return _cache_bytes, _cache_n, _cache_fresh, _cache_hits

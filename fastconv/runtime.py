"""Library state: threads, ISA path, build facts, and where the C header and library are."""
import os

from fastconv import _C

_HERE = os.path.dirname(os.path.abspath(__file__))

# Whether the user chose the thread count (set_num_threads): fastconv.distributed then
# leaves it alone instead of giving each process its share of the cores.
_threads_explicit = False


def set_num_threads(n):
    """Threads every fastconv kernel uses (one OpenMP pool); takes effect on the next call."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"set_num_threads: n must be an int, got {n!r}")
    if n < 1:
        raise ValueError(f"set_num_threads: n must be >= 1, got n={n}")
    _C.set_num_threads(n)
    global _threads_explicit
    _threads_explicit = True


def get_num_threads():
    """Threads the next call will use. 1 in a child process forked after a
    multi-threaded call: OpenMP's threads do not survive fork (see README, Threads)."""
    return _C.get_num_threads()


def release_workspace():
    """Free the memory fastconv keeps between calls: every thread's scratch cache that
    no call is using right now, and the array cache (the memory of freed result
    arrays). The next call allocates afresh."""
    _C.release_workspace()
    _C.array_cache_release()


def _byte_count(nbytes, fn):
    """nbytes checked as a size_t: an int (not a bool) in [0, 2**64)."""
    if isinstance(nbytes, bool) or not isinstance(nbytes, int):
        raise TypeError(f"{fn}: nbytes must be an int, got {nbytes!r}")
    if nbytes < 0 or nbytes >= 2**64:
        raise ValueError(f"{fn}: nbytes must be in [0, 2**64), got {nbytes}")
    return nbytes


def set_array_cache_limit(nbytes):
    """Result arrays of 1 MiB or more are allocated from a cache that keeps the memory
    of freed ones (up to `nbytes` in all; default 1 GiB; 0: none), so that a training
    loop, which allocates the same activations and gradients every step, does not map
    and fault in fresh pages every step."""
    _C.set_array_cache_limit(_byte_count(nbytes, "set_array_cache_limit"))


def get_array_cache_limit():
    return _C.get_array_cache_limit()


def array_cache_bytes():
    """Bytes of freed result arrays the array cache holds now."""
    return _C.array_cache_stats()[0]


def set_workspace_cache_limit(nbytes):
    """After each call, a thread's cached scratch memory larger than `nbytes` is
    returned to the system (default 256 MiB; 0: after every call). Below the limit it
    is kept, so that a training loop does not map fresh pages every step."""
    _C.set_workspace_cache_limit(_byte_count(nbytes, "set_workspace_cache_limit"))


def get_workspace_cache_limit():
    return _C.get_workspace_cache_limit()


def workspace_cache_bytes():
    """Bytes of scratch memory all threads' caches hold now."""
    return _C.workspace_cache_bytes()


def get_isa():
    """The ISA path in use: 'avx512', 'avx2' or 'portable'."""
    return _C.get_isa()


def set_isa(name):
    """Force an ISA path ('avx512', 'avx2', 'portable'), for tests and comparisons.
    The environment variable FASTCONV_ISA does the same at start-up."""
    _C.set_isa(name)


PRECISIONS = ("highest", "high")


def set_precision(precision):
    """Precision of the algorithm "auto" picks, like torch.set_float32_matmul_precision:
    "high" (the default) lets "auto" run Winograd on the 3x3 stride-1 layers where it
    is faster (accurate in norm: see the README's Winograd section for the measured
    error); "highest" keeps "auto" (and the autotuner) to the direct, im2col and
    depthwise algorithms. An explicit algorithm="winograd*" runs Winograd either way.
    Process-wide (the C library's fc_set_precision); takes effect on the next call."""
    if not isinstance(precision, str):
        raise TypeError(f"set_precision: precision must be a str, got {precision!r}")
    if precision not in PRECISIONS:
        raise ValueError(f"set_precision: precision must be one of {PRECISIONS}, "
                         f"got precision={precision!r}")
    _C.set_precision(precision)


def get_precision():
    """The current precision setting: "high" or "highest" (see set_precision)."""
    return _C.get_precision()


def available_isas():
    """Every ISA path this CPU can run, best last."""
    order = ["portable", "avx2", "avx512"]
    return order[: order.index(_C.cpu_isa()) + 1]


def get_include():
    """The directory holding fastconv.h, for C and C++ builds."""
    return os.path.join(_HERE, "include")


def get_library_dir():
    """The directory holding libfastconv.so (link with -lfastconv)."""
    return os.path.join(_HERE, "lib")


def info(measure=True):
    """A dict describing the build and the run-time choices. With measure=True (the
    default) it also holds the machine's measured FMA peak, on one thread and on the
    current thread count, for the ISA path in use, and its copy bandwidth (bytes read
    plus written per second); measured once per process (about a second), then cached."""
    d = {
        "version": _C.version(),
        "isa": _C.get_isa(),
        "cpu_isa": _C.cpu_isa(),
        "threads": _C.get_num_threads(),
        "precision": _C.get_precision(),
        "openmp": _C.has_openmp(),
        "include_dir": get_include(),
        "library_dir": get_library_dir(),
        "autotune": _autotune_info(),
    }
    if measure:
        from fastconv.bench import peak

        d["peak_gflops_1t"] = round(peak.fma_gflops(1), 1)
        d["peak_gflops"] = round(peak.fma_gflops(d["threads"]), 1)
        d["copy_gbps"] = round(peak.copy_gbps(), 1)
    return d


def _autotune_info():
    from fastconv.functional import tuning
    return {"enabled": tuning.autotune_enabled(), "choices": tuning.autotune_table()}

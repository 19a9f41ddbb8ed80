"""fastconv: hand-optimized C kernels for convolutional neural networks on CPUs.

    import fastconv as fc
    y = fc.conv2d(x, w, stride=1, padding="same")
"""
import os
import sys

# One pool at a time on the cores. Idle OpenMP threads sleep instead of spinning, and,
# when NumPy is not loaded yet, so do OpenBLAS's: a pool that spins after its call
# takes the cores from the next library's (measured here: fastconv's 2-thread GEMM
# ran at half speed right after a NumPy matmul, and alternating torch / fastconv
# calls were several times slower). Both are read once, when the library loads; an
# explicit user setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# ... but not at once: waking a sleeping thread costs ~40 us on a VM's futex (a 2-thread
# ReLU of 64K floats took 64 us, 7 us with a warm pool), paid at every parallel region
# of a network. libgomp's threads spin this many pauses (~0.3-1 ms here) after a region
# before they sleep: back-to-back layers find the pool awake (ResNet-18 batch-1
# inference 19.0 -> 17.8 ms), and another library's pool loses at most that long.
os.environ.setdefault("GOMP_SPINCOUNT", "30000")
if "numpy" not in sys.modules:
    os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

from fastconv import _C  # noqa: E402
from fastconv.errors import UnsupportedError
from fastconv.functional import *  # noqa: F401,F403 - the ops are the package's API
from fastconv.functional import __all__ as _ops
from fastconv.runtime import (array_cache_bytes, available_isas, get_array_cache_limit,
                              get_include, get_isa, get_library_dir,
                              get_num_threads, get_precision, get_workspace_cache_limit,
                              info, release_workspace, set_isa, set_num_threads,
                              set_array_cache_limit, set_precision,
                              set_workspace_cache_limit, workspace_cache_bytes)

from fastconv import nn, optim, models  # noqa: E402,F401  (after the ops they compose)
from fastconv.nn import save, load  # noqa: E402,F401
from fastconv import data, train  # noqa: E402,F401  (DataLoader and fit)
from fastconv._cpackage import get_cmake_dir, get_pkgconfig_dir  # noqa: E402
from fastconv import amp  # noqa: E402,F401  (16-bit floats: autocast)

__version__ = _C.version()

__all__ = list(_ops) + [
    "UnsupportedError", "available_isas", "get_include", "get_isa", "get_library_dir",
    "get_num_threads", "get_precision", "get_workspace_cache_limit", "info",
    "release_workspace", "set_isa", "set_num_threads", "set_precision",
    "set_workspace_cache_limit", "workspace_cache_bytes",
    "array_cache_bytes", "get_array_cache_limit", "set_array_cache_limit",
    "get_cmake_dir", "get_pkgconfig_dir",
]

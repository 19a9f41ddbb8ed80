"""fastconv: hand-optimized C kernels for convolutional neural networks on CPUs.

    import fastconv as fc
    y = fc.conv2d(x, w, stride=1, padding="same")
"""
import os

# Idle OpenMP threads sleep instead of spinning, so fastconv's pool does not burn the
# cores that NumPy's BLAS, PyTorch or other processes need between calls (measured
# here: a spinning pool made alternating torch/fastconv calls up to 5x slower).
# libgomp reads this once, when it loads; an explicit user setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from fastconv import _C  # noqa: E402
from fastconv.errors import UnsupportedError
from fastconv.functional import *  # noqa: F401,F403 - the ops are the package's API
from fastconv.functional import __all__ as _ops
from fastconv.runtime import (available_isas, get_include, get_isa, get_library_dir,
                              get_num_threads, info, set_isa, set_num_threads)

from fastconv import nn, optim, models  # noqa: E402,F401  (after the ops they compose)
from fastconv.nn import save, load  # noqa: E402,F401

__version__ = _C.version()

__all__ = list(_ops) + [
    "UnsupportedError", "available_isas", "get_include", "get_isa", "get_library_dir",
    "get_num_threads", "info", "set_isa", "set_num_threads",
]

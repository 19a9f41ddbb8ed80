"""fastconv: hand-optimized C kernels for convolutional neural networks on CPUs.

    import fastconv as fc
    y = fc.conv2d(x, w, stride=1, padding="same")
"""
from fastconv import _C
from fastconv.errors import UnsupportedError
from fastconv.functional import conv2d, conv2d_backward, conv2d_output_shape
from fastconv.runtime import (available_isas, get_include, get_isa, get_library_dir,
                              get_num_threads, info, set_isa, set_num_threads)

from fastconv import nn, optim, models  # noqa: E402,F401  (after the ops they compose)
from fastconv.nn import save, load  # noqa: E402,F401

__version__ = _C.version()

__all__ = [
    "UnsupportedError", "available_isas", "conv2d", "conv2d_backward", "conv2d_output_shape",
    "get_include", "get_isa", "get_library_dir", "get_num_threads", "info", "set_isa",
    "set_num_threads",
]

"""fastconv: hand-optimized C kernels for convolutional neural networks on CPUs.

    import fastconv as fc
    y = fc.conv2d(x, w, stride=1, padding="same")
"""
from fastconv import _C
from fastconv.errors import UnsupportedError
from fastconv.functional import *  # noqa: F401,F403 - the ops are the package's API
from fastconv.functional import __all__ as _ops
from fastconv.runtime import (available_isas, get_include, get_isa, get_library_dir,
                              get_num_threads, info, set_isa, set_num_threads)

__version__ = _C.version()

__all__ = list(_ops) + [
    "UnsupportedError", "available_isas", "get_include", "get_isa", "get_library_dir",
    "get_num_threads", "info", "set_isa", "set_num_threads",
]

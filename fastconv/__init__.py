"""fastconv: hand-optimized C kernels for convolutional neural networks on CPUs.

    import fastconv as fc
    y = fc.conv2d(x, w, stride=1, padding="same")
"""
from fastconv import _C
from fastconv.errors import UnsupportedError
from fastconv.functional import conv2d, conv2d_backward, conv2d_output_shape
from fastconv.runtime import (available_isas, get_include, get_isa, get_library_dir,
                              get_num_threads, info, set_isa, set_num_threads)

__version__ = _C.version()

__all__ = [
    "UnsupportedError", "available_isas", "conv2d", "conv2d_backward", "conv2d_output_shape",
    "get_include", "get_isa", "get_library_dir", "get_num_threads", "info", "set_isa",
    "set_num_threads",
]
from fastconv.functional.pool import (avg_pool2d, avg_pool2d_backward, global_avg_pool2d,  # noqa: E402
                                      global_avg_pool2d_backward, global_max_pool2d,
                                      global_max_pool2d_backward, max_pool2d,
                                      max_pool2d_backward)
__all__ += ["avg_pool2d", "avg_pool2d_backward", "global_avg_pool2d",
            "global_avg_pool2d_backward", "global_max_pool2d", "global_max_pool2d_backward",
            "max_pool2d", "max_pool2d_backward"]

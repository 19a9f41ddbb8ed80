"""fastconv: hand-optimized C kernels for convolutional neural networks on CPUs.

    import fastconv as fc
    y = fc.conv2d(x, w, stride=1, padding="same")
"""
from fastconv import _C
from fastconv.errors import UnsupportedError
from fastconv.functional import conv2d, conv2d_backward, conv2d_output_shape
from fastconv.functional import matmul
from fastconv.functional import (autotune, autotune_clear, autotune_enabled, autotune_load,
                                 autotune_save, autotune_table)
from fastconv.functional import depthwise_conv2d, depthwise_conv2d_backward
from fastconv.functional import conv_transpose2d, conv_transpose2d_backward
from fastconv.runtime import (available_isas, get_include, get_isa, get_library_dir,
                              get_num_threads, info, set_isa, set_num_threads)

__version__ = _C.version()

__all__ = [
    "UnsupportedError", "available_isas", "conv2d", "conv2d_backward", "conv2d_output_shape",
    "get_include", "get_isa", "get_library_dir", "get_num_threads", "info", "set_isa",
    "set_num_threads",
]
__all__ += ["matmul"]
__all__ += ["depthwise_conv2d", "depthwise_conv2d_backward"]
__all__ += ["conv_transpose2d", "conv_transpose2d_backward"]

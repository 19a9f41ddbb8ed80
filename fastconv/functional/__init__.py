"""torch.nn.functional-style ops on NumPy arrays (float32, NCHW)."""
from fastconv.functional.conv import conv2d, conv2d_backward, conv2d_output_shape
from fastconv.functional.gemm import matmul
from fastconv.functional.tuning import (autotune, autotune_clear, autotune_enabled,
                                          autotune_load, autotune_save, autotune_table)

__all__ = ["conv2d", "conv2d_backward", "conv2d_output_shape"]
__all__ += ["matmul"]
from fastconv.functional.depthwise import depthwise_conv2d, depthwise_conv2d_backward
from fastconv.functional.transpose import conv_transpose2d, conv_transpose2d_backward

__all__ += ["depthwise_conv2d", "depthwise_conv2d_backward"]
__all__ += ["conv_transpose2d", "conv_transpose2d_backward"]

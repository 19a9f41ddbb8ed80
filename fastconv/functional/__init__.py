"""torch.nn.functional-style ops on NumPy arrays (float32, NCHW)."""
from fastconv.functional.conv import conv2d, conv2d_backward, conv2d_output_shape

__all__ = ["conv2d", "conv2d_backward", "conv2d_output_shape"]
from fastconv.functional.pool import (avg_pool2d, avg_pool2d_backward, global_avg_pool2d,  # noqa: E402
                                      global_avg_pool2d_backward, global_max_pool2d,
                                      global_max_pool2d_backward, max_pool2d,
                                      max_pool2d_backward)
__all__ += ["avg_pool2d", "avg_pool2d_backward", "global_avg_pool2d",
            "global_avg_pool2d_backward", "global_max_pool2d", "global_max_pool2d_backward",
            "max_pool2d", "max_pool2d_backward"]

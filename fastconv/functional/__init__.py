"""torch.nn.functional-style ops on NumPy arrays (float32, NCHW)."""
from fastconv.functional.conv import conv2d, conv2d_backward, conv2d_output_shape
from fastconv.functional.depthwise import depthwise_conv2d, depthwise_conv2d_backward
from fastconv.functional.gemm import matmul
from fastconv.functional.pool import (avg_pool2d, avg_pool2d_backward, global_avg_pool2d,
                                      global_avg_pool2d_backward, global_max_pool2d,
                                      global_max_pool2d_backward, max_pool2d,
                                      max_pool2d_backward)
from fastconv.functional.norm import BatchNorm2dResult, batch_norm2d, batch_norm2d_backward
from fastconv.functional.transpose import conv_transpose2d, conv_transpose2d_backward
from fastconv.functional.loss import softmax_cross_entropy, softmax_cross_entropy_backward
from fastconv.functional.optim import adam_update, sgd_update
from fastconv.functional.tuning import (autotune, autotune_clear, autotune_enabled,
                                        autotune_load, autotune_save, autotune_table)
from fastconv.functional.eltwise import (add, add_relu, bias_add, bias_add_backward, dropout,
                                         dropout_backward, gelu, gelu_backward, leaky_relu,
                                         leaky_relu_backward, relu, relu_backward, sigmoid,
                                         sigmoid_backward, tanh, tanh_backward)

__all__ = [
    "avg_pool2d", "avg_pool2d_backward", "conv2d", "conv2d_backward", "conv2d_output_shape",
    "conv_transpose2d", "conv_transpose2d_backward", "depthwise_conv2d",
    "depthwise_conv2d_backward", "global_avg_pool2d", "global_avg_pool2d_backward",
    "global_max_pool2d", "global_max_pool2d_backward", "matmul", "max_pool2d",
    "max_pool2d_backward",
    "autotune", "autotune_clear", "autotune_enabled", "autotune_load", "autotune_save",
    "autotune_table",
    "batch_norm2d", "batch_norm2d_backward", "BatchNorm2dResult",
    "softmax_cross_entropy", "softmax_cross_entropy_backward", "sgd_update", "adam_update",
    "add", "add_relu", "bias_add", "bias_add_backward", "dropout", "dropout_backward", "gelu",
    "gelu_backward", "leaky_relu", "leaky_relu_backward", "relu", "relu_backward", "sigmoid",
    "sigmoid_backward", "tanh", "tanh_backward",
]

# bfloat16 / float16 arrays in, the same dtype out, float32 inside (functional/lowp.py):
# one wrapper over every exported op. Not the optimizer updates: parameters and their
# state stay float32 (master weights), as under torch's autocast.
from fastconv.functional import lowp  # noqa: E402

_LOWP_OPS = [n for n in __all__ if n not in (
    "autotune", "autotune_clear", "autotune_enabled", "autotune_load", "autotune_save",
    "autotune_table", "BatchNorm2dResult", "conv2d_output_shape", "sgd_update",
    "adam_update")]
for _n in _LOWP_OPS:
    globals()[_n] = lowp.accepts_16bit(globals()[_n])
del _n

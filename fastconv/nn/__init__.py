"""A small layer API in the spirit of torch.nn, with explicit backward passes.

    model = fastconv.models.lenet5()
    logits = model(x); loss = loss_fn(logits, y)
    model.zero_grad(); model.backward(loss_fn.backward()); opt.step()
"""
# INTERIM: NumPy stand-ins for ops still being built on other branches; removed at merge.
from fastconv.nn import _interim_ops
_interim_ops.install_missing()

from fastconv.nn import init  # noqa: E402
from fastconv.nn.container import Concat, Sequential  # noqa: E402
from fastconv.nn.conv import (Conv2d, ConvTranspose2d, DepthwiseConv2d,  # noqa: E402
                              SeparableConv2d)
from fastconv.nn.layers import (BatchNorm2d, Dropout, Flatten, Identity, Linear,  # noqa: E402
                                ReLU, Sigmoid, Tanh)
from fastconv.nn.loss import CrossEntropyLoss, MSELoss  # noqa: E402
from fastconv.nn.module import Module, Parameter, load, save  # noqa: E402
from fastconv.nn.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d  # noqa: E402

__all__ = [
    "AdaptiveAvgPool2d", "AvgPool2d", "BatchNorm2d", "Concat", "Conv2d", "ConvTranspose2d",
    "CrossEntropyLoss", "DepthwiseConv2d", "Dropout", "Flatten", "Identity", "Linear",
    "MSELoss", "MaxPool2d", "Module", "Parameter", "ReLU", "SeparableConv2d", "Sequential",
    "Sigmoid", "Tanh", "init", "load", "save",
]

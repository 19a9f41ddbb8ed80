"""A small layer API in the spirit of torch.nn, with explicit backward passes.

    model = fastconv.models.lenet5()
    logits = model(x); loss = loss_fn(logits, y)
    model.zero_grad(); model.backward(loss_fn.backward()); opt.step()
"""
from fastconv.nn import init
from fastconv.nn.container import Concat, Sequential
from fastconv.nn.conv import (Conv2d, ConvTranspose2d, DepthwiseConv2d,
                              SeparableConv2d)
from fastconv.nn.layers import (BatchNorm2d, Dropout, Flatten, Identity, Linear,
                                ReLU, Sigmoid, Tanh, run_chain)
from fastconv.nn.loss import CrossEntropyLoss, MSELoss
from fastconv.nn.checkpoint import load, save
from fastconv.nn.module import Module, Parameter
from fastconv.nn.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d

__all__ = [
    "AdaptiveAvgPool2d", "AvgPool2d", "BatchNorm2d", "Concat", "Conv2d", "ConvTranspose2d",
    "CrossEntropyLoss", "DepthwiseConv2d", "Dropout", "Flatten", "Identity", "Linear",
    "MSELoss", "MaxPool2d", "Module", "Parameter", "ReLU", "SeparableConv2d", "Sequential",
    "Sigmoid", "Tanh", "init", "load", "run_chain", "save",
]

# The training API of issue 18 (appended: more layers, losses and checkpoints).
from fastconv.nn.activation import GELU, LeakyReLU, LogSoftmax, Softmax  # noqa: E402
from fastconv.nn.layers import BatchNorm1d  # noqa: E402
from fastconv.nn.loss import BCEWithLogitsLoss, NLLLoss  # noqa: E402

__all__ += ["BCEWithLogitsLoss", "BatchNorm1d", "GELU", "LeakyReLU", "LogSoftmax",
            "NLLLoss", "Softmax"]

# The inference plan of issue 17.
from fastconv.nn.inference import InferencePlan, inference  # noqa: E402

__all__ += ["InferencePlan", "inference"]

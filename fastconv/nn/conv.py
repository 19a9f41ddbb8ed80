"""Convolution layers: Conv2d, ConvTranspose2d, DepthwiseConv2d, SeparableConv2d."""
from typing import NamedTuple

import numpy as np

from fastconv import amp
from fastconv.functional import _args
from fastconv.functional.conv import conv2d, conv2d_backward
from fastconv.functional.eltwise import bias_add_backward
from fastconv.functional.depthwise import depthwise_conv2d, depthwise_conv2d_backward
from fastconv.functional.transpose import conv_transpose2d, conv_transpose2d_backward
from fastconv.nn import init
from fastconv.nn.module import Module, Parameter

__all__ = ["Conv2d", "ConvTranspose2d", "DepthwiseConv2d", "SeparableConv2d"]


class _XCache(NamedTuple):
    x: np.ndarray
    first: bool = False      # x is the model's input


def _padding_arg(padding, name):
    if isinstance(padding, str):
        if padding.lower() not in ("same", "valid"):
            raise ValueError(f"{name}: padding must be an int, a pair, 'same' or 'valid', "
                             f"got padding={padding!r}")
        return padding.lower()
    return padding


class _ConvLayer(Module):
    """What every convolution layer shares: keep x in train mode, run the functional op
    with the layer's arguments, and accumulate the weight and bias gradients."""

    _op = _op_backward = None  # the functional op and its backward (staticmethods)

    def _kw(self):
        raise NotImplementedError

    def _forward_kw(self):
        return self._kw()

    def forward(self, x):
        first = self._is_model_input(x)
        x = _args.as_float32(x, "x", type(self).__name__)
        self._keep(_XCache(x, first))
        b = None if self.bias is None else self.bias.data
        return amp.forward(self._op, x, self.weight.data, b, **self._forward_kw())

    def backward(self, grad_out):
        c = self._take()
        wg = self.weight.requires_grad      # frozen: no weight pass
        gx, gw, gb = amp.backward(self._op_backward, grad_out, c.x, self.weight.data,
                                  **self._kw(),
                                  input_grad=not self._input_grad_skipped(c.first),
                                  weight_grad=wg)
        if wg:
            self.weight.accumulate(gw, owned=True)
        if self.bias is not None and self.bias.requires_grad:
            self.bias.accumulate(gb if wg else bias_add_backward(grad_out), owned=True)
        return self._no_input_grad(np.shape(c.x)) if gx is None else gx


def _channels(fn, in_channels, out_channels, groups):
    """Checked (in_channels, out_channels, groups) of a grouped convolution layer."""
    cin = _args.as_int(in_channels, "in_channels", fn)
    cout = _args.as_int(out_channels, "out_channels", fn)
    g = _args.as_int(groups, "groups", fn)
    if cin < 1 or cout < 1 or g < 1:
        raise ValueError(f"{fn}: in_channels, out_channels and groups must be >= 1, got "
                         f"{in_channels}, {out_channels}, {groups}")
    if cin % g or cout % g:
        raise ValueError(f"{fn}: groups={groups} must divide in_channels={in_channels} "
                         f"and out_channels={out_channels}")
    return cin, cout, g


class Conv2d(_ConvLayer):
    """2-D convolution as torch.nn.Conv2d (weight (K, C/groups, R, S), bias (K,)),
    on fastconv.conv2d. padding: int, pair, ((top, bottom), (left, right)), "valid" or
    "same" (Keras: output = ceil(input / stride))."""

    _op, _op_backward = staticmethod(conv2d), staticmethod(conv2d_backward)

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, algorithm="auto"):
        super().__init__()
        fn = "Conv2d"
        self.in_channels, self.out_channels, self.groups = _channels(
            fn, in_channels, out_channels, groups)
        self.kernel_size = _args.pair(kernel_size, "kernel_size", fn, 1)
        self.stride = _args.pair(stride, "stride", fn, 1)
        self.dilation = _args.pair(dilation, "dilation", fn, 1)
        self.padding = _padding_arg(padding, fn)
        self.algorithm = algorithm
        R, S = self.kernel_size
        cg = self.in_channels // self.groups
        bound = init.fan_in_bound(cg * R * S)
        self.weight = Parameter(init.uniform((self.out_channels, cg, R, S), bound))
        self.bias = Parameter(init.uniform((self.out_channels,), bound)) if bias else None

    def _kw(self):
        return dict(stride=self.stride, padding=self.padding, dilation=self.dilation,
                    groups=self.groups)

    def _forward_kw(self):
        return dict(self._kw(), algorithm=self.algorithm)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding!r}, dilation={self.dilation}, "
                f"groups={self.groups}, bias={self.bias is not None}")


class ConvTranspose2d(_ConvLayer):
    """Transposed convolution as torch.nn.ConvTranspose2d (weight (C, K/groups, R, S))."""

    _op, _op_backward = staticmethod(conv_transpose2d), staticmethod(conv_transpose2d_backward)

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1):
        super().__init__()
        fn = "ConvTranspose2d"
        self.in_channels, self.out_channels, self.groups = _channels(
            fn, in_channels, out_channels, groups)
        self.kernel_size = _args.pair(kernel_size, "kernel_size", fn, 1)
        self.stride = _args.pair(stride, "stride", fn, 1)
        self.padding = _args.pair(padding, "padding", fn, 0)
        self.output_padding = _args.pair(output_padding, "output_padding", fn, 0)
        self.dilation = _args.pair(dilation, "dilation", fn, 1)
        R, S = self.kernel_size
        kg = self.out_channels // self.groups
        bound = init.fan_in_bound(kg * R * S)   # PyTorch's fan_in for this layout
        self.weight = Parameter(init.uniform((self.in_channels, kg, R, S), bound))
        self.bias = Parameter(init.uniform((self.out_channels,), bound)) if bias else None

    def _kw(self):
        return dict(stride=self.stride, padding=self.padding,
                    output_padding=self.output_padding, groups=self.groups,
                    dilation=self.dilation)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, "
                f"output_padding={self.output_padding}")


class DepthwiseConv2d(_ConvLayer):
    """One spatial filter per input channel (depth_multiplier filters each): weight
    (C * depth_multiplier, 1, R, S), the same as torch.nn.Conv2d(C, C * m, k, groups=C),
    on fastconv's dedicated depthwise kernel."""

    _op, _op_backward = staticmethod(depthwise_conv2d), staticmethod(depthwise_conv2d_backward)

    def __init__(self, in_channels, kernel_size, stride=1, padding=0, dilation=1,
                 depth_multiplier=1, bias=True):
        super().__init__()
        fn = "DepthwiseConv2d"
        self.in_channels = _args.as_int(in_channels, "in_channels", fn)
        self.depth_multiplier = _args.as_int(depth_multiplier, "depth_multiplier", fn)
        if self.in_channels < 1 or self.depth_multiplier < 1:
            raise ValueError(f"{fn}: in_channels and depth_multiplier must be >= 1")
        self.out_channels = self.in_channels * self.depth_multiplier
        self.kernel_size = _args.pair(kernel_size, "kernel_size", fn, 1)
        self.stride = _args.pair(stride, "stride", fn, 1)
        self.dilation = _args.pair(dilation, "dilation", fn, 1)
        self.padding = _padding_arg(padding, fn)
        R, S = self.kernel_size
        bound = init.fan_in_bound(R * S)
        self.weight = Parameter(init.uniform((self.out_channels, 1, R, S), bound))
        self.bias = Parameter(init.uniform((self.out_channels,), bound)) if bias else None

    def _kw(self):
        return dict(stride=self.stride, padding=self.padding, dilation=self.dilation)

    def forward(self, x):
        x = _args.as_float32(x, "x", "DepthwiseConv2d")
        if x.ndim == 4 and x.shape[1] != self.in_channels:
            raise ValueError(f"DepthwiseConv2d: expected x with {self.in_channels} channels "
                             f"(N, {self.in_channels}, H, W), got shape {x.shape}")
        return super().forward(x)

    def extra_repr(self):
        return (f"{self.in_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding!r}, depth_multiplier={self.depth_multiplier}")


class SeparableConv2d(Module):
    """Depthwise separable convolution (Xception; Keras's SeparableConv2D): a depthwise
    spatial filter per channel (no bias), then a 1x1 convolution across channels (with
    the bias). A drop-in for Conv2d: submodules `depthwise` and `pointwise`."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, depth_multiplier=1, bias=True):
        super().__init__()
        self.depthwise = DepthwiseConv2d(in_channels, kernel_size, stride=stride,
                                         padding=padding, dilation=dilation,
                                         depth_multiplier=depth_multiplier, bias=False)
        self.pointwise = Conv2d(in_channels * depth_multiplier, out_channels, 1, bias=bias)

    def forward(self, x):
        return self.pointwise(self.depthwise(x))

    def backward(self, grad_out):
        return self.depthwise.backward(self.pointwise.backward(grad_out))

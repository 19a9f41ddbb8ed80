"""Pooling layers: MaxPool2d, AvgPool2d, AdaptiveAvgPool2d."""
from typing import NamedTuple, Optional

import numpy as np

from fastconv.functional import _args
from fastconv.functional.pool import (avg_pool2d, avg_pool2d_backward, global_avg_pool2d,
                                      global_avg_pool2d_backward, max_pool2d,
                                      max_pool2d_backward)
from fastconv.nn.module import Module

__all__ = ["MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d"]


class _MaxCache(NamedTuple):
    x: np.ndarray
    indices: Optional[np.ndarray]


class _XCache(NamedTuple):
    x: np.ndarray


class MaxPool2d(Module):
    """As torch.nn.MaxPool2d; in train mode keeps the argmax indices for backward."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        self.dilation = dilation
        self.ceil_mode = ceil_mode

    def _kw(self):
        return dict(stride=self.stride, padding=self.padding, dilation=self.dilation,
                    ceil_mode=self.ceil_mode)

    def forward(self, x):
        x = _args.as_float32(x, "x", "MaxPool2d")
        if not self.training:
            self._keep(None)
            return max_pool2d(x, self.kernel_size, **self._kw())
        y, idx = max_pool2d(x, self.kernel_size, return_indices=True, **self._kw())
        self._keep(_MaxCache(x, idx))
        return y

    def backward(self, grad_out):
        c = self._take()
        return max_pool2d_backward(grad_out, c.x, self.kernel_size, indices=c.indices,
                                   **self._kw())

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, ceil_mode={self.ceil_mode}")


class AvgPool2d(Module):
    """As torch.nn.AvgPool2d."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def _kw(self):
        return dict(stride=self.stride, padding=self.padding, ceil_mode=self.ceil_mode,
                    count_include_pad=self.count_include_pad)

    def forward(self, x):
        x = _args.as_float32(x, "x", "AvgPool2d")
        self._keep(_XCache(x))
        return avg_pool2d(x, self.kernel_size, **self._kw())

    def backward(self, grad_out):
        c = self._take()
        return avg_pool2d_backward(grad_out, c.x, self.kernel_size, **self._kw())

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"




def _adaptive_bounds(size, out):
    """PyTorch's adaptive windows: [floor(i*size/out), ceil((i+1)*size/out))."""
    return [(i * size // out, -(-(i + 1) * size // out)) for i in range(out)]


class AdaptiveAvgPool2d(Module):
    """As torch.nn.AdaptiveAvgPool2d. output_size=1 (global average pooling, the ResNet
    head) runs on fastconv.global_avg_pool2d; sizes dividing the input on avg_pool2d;
    other sizes on a NumPy loop over the output cells."""

    def __init__(self, output_size=1):
        super().__init__()
        self.output_size = _args.pair(output_size, "output_size", "AdaptiveAvgPool2d", 1)

    def forward(self, x):
        x = _args.as_float32(x, "x", "AdaptiveAvgPool2d")
        _args.check_rank(x, 4, "x", "AdaptiveAvgPool2d", "(N, C, H, W)")
        self._keep(_XCache(x))
        H, W = x.shape[2:]
        oh, ow = self.output_size
        if (oh, ow) == (1, 1):
            return global_avg_pool2d(x)
        if H % oh == 0 and W % ow == 0:
            k = (H // oh, W // ow)
            return avg_pool2d(x, k, stride=k)
        y = np.empty(x.shape[:2] + (oh, ow), np.float32)
        for i, (h0, h1) in enumerate(_adaptive_bounds(H, oh)):
            for j, (w0, w1) in enumerate(_adaptive_bounds(W, ow)):
                y[:, :, i, j] = x[:, :, h0:h1, w0:w1].mean(axis=(2, 3), dtype=np.float32)
        return y

    def backward(self, grad_out):
        x = self._take().x
        H, W = x.shape[2:]
        oh, ow = self.output_size
        grad_out = _args.as_float32(grad_out, "grad_out", "AdaptiveAvgPool2d")
        if (oh, ow) == (1, 1):
            return global_avg_pool2d_backward(grad_out, x)
        if H % oh == 0 and W % ow == 0:
            k = (H // oh, W // ow)
            return avg_pool2d_backward(grad_out, x, k, stride=k)
        gx = np.zeros(x.shape, np.float32)
        for i, (h0, h1) in enumerate(_adaptive_bounds(H, oh)):
            for j, (w0, w1) in enumerate(_adaptive_bounds(W, ow)):
                area = np.float32((h1 - h0) * (w1 - w0))
                gx[:, :, h0:h1, w0:w1] += (grad_out[:, :, i, j] / area)[:, :, None, None]
        return gx

    def extra_repr(self):
        return f"output_size={self.output_size}"

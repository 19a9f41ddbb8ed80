"""LeakyReLU, GELU (C kernels), Softmax and LogSoftmax along a dimension (NumPy,
max-subtracted)."""
from typing import NamedTuple

import numpy as np

from fastconv.functional import _args
from fastconv.functional.eltwise import gelu, gelu_backward, leaky_relu, leaky_relu_backward
from fastconv.nn.module import Module

__all__ = ["LeakyReLU", "GELU", "Softmax", "LogSoftmax"]


class _XCache(NamedTuple):
    x: np.ndarray


class _YCache(NamedTuple):
    y: np.ndarray


class LeakyReLU(Module):
    """x > 0 ? x : negative_slope * x, as torch.nn.LeakyReLU."""

    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward(self, x):
        x = _args.as_float32(x, "x", "LeakyReLU")
        self._keep(_XCache(x))
        return leaky_relu(x, self.negative_slope)

    def backward(self, grad_out):
        return leaky_relu_backward(_args.as_float32(grad_out, "grad_out", "LeakyReLU"),
                                   self._take().x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class GELU(Module):
    """x * Phi(x), as torch.nn.GELU; approximate='tanh' for its tanh form."""

    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got "
                             f"approximate={approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        x = _args.as_float32(x, "x", "GELU")
        self._keep(_XCache(x))
        return gelu(x, self.approximate)

    def backward(self, grad_out):
        return gelu_backward(_args.as_float32(grad_out, "grad_out", "GELU"), self._take().x,
                             self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


def _dim(dim, x, fn):
    if dim is None:
        raise ValueError(f"{fn}: give dim (the dimension to normalize over); torch's "
                         f"implicit choice is deprecated")
    d = _args.as_int(dim, "dim", fn)
    if not -x.ndim <= d < x.ndim:
        raise ValueError(f"{fn}: dim={dim} is out of range for x with {x.ndim} dimensions")
    return d % x.ndim


def _log_softmax(x, d):
    shifted = x - x.max(axis=d, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=d, keepdims=True))


class Softmax(Module):
    """exp(x) / sum(exp(x)) along dim, as torch.nn.Softmax(dim)."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        x = _args.as_float32(x, "x", "Softmax")
        d = _dim(self.dim, x, "Softmax")
        if x.size == 0:
            y = x.copy()
        else:
            e = np.exp(x - x.max(axis=d, keepdims=True))
            y = e / e.sum(axis=d, keepdims=True)
        self._keep(_YCache(y))
        return y

    def backward(self, grad_out):
        y = self._take().y
        g = _args.as_float32(grad_out, "grad_out", "Softmax")
        d = self.dim % y.ndim
        return y * (g - (g * y).sum(axis=d, keepdims=True))

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """x - log(sum(exp(x))) along dim, as torch.nn.LogSoftmax(dim)."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        x = _args.as_float32(x, "x", "LogSoftmax")
        d = _dim(self.dim, x, "LogSoftmax")
        y = x.copy() if x.size == 0 else _log_softmax(x, d)
        self._keep(_YCache(y))
        return y

    def backward(self, grad_out):
        y = self._take().y
        g = _args.as_float32(grad_out, "grad_out", "LogSoftmax")
        d = self.dim % y.ndim
        return g - np.exp(y) * g.sum(axis=d, keepdims=True)

    def extra_repr(self):
        return f"dim={self.dim}"

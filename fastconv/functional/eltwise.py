"""Elementwise ops: activations with their backwards, adds, per-channel bias, dropout
(PyTorch semantics, float32, any shape; threaded and vectorized in C).

Backwards take what a layer keeps: the OUTPUT y for relu, tanh and sigmoid (ReLU's
mask is y > 0, recomputed, never stored), the INPUT x for leaky_relu and gelu.
`out=` names the array to write (C-contiguous float32 of the result's shape); it may
be the input itself (in place, like torch's inplace=True), e.g. relu(x, out=x) or
relu_backward(g, y, out=g).
"""
import numbers

import numpy as np

from fastconv import _C
from fastconv.functional import _args

_GELU_KINDS = {"none": "gelu", "tanh": "gelu_tanh"}


def _input(a, name, fn):
    return _args.as_array(a, name, fn)


def _out(out, shape, fn):
    """The result array: `out` checked (C-contiguous float32 of `shape`, writable), or
    a new one."""
    if out is None:
        return _args.empty(shape, "output", fn)
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{fn}: out must be a numpy.ndarray, got {type(out).__name__}")
    if out.dtype != np.float32 or not out.flags.c_contiguous:
        raise TypeError(f"{fn}: out must be a C-contiguous float32 array, got dtype "
                        f"{out.dtype}{'' if out.flags.c_contiguous else ' (not C-contiguous)'}")
    if out.shape != tuple(shape):
        raise ValueError(f"{fn}: expected out of shape {tuple(shape)}, got {out.shape}")
    if not out.flags.writeable:
        raise ValueError(f"{fn}: out is read-only")
    return out


def _same_shape(a, b, na, nb, fn):
    if a.shape != b.shape:
        raise ValueError(f"{fn}: {na} and {nb} must have the same shape (no broadcasting), "
                         f"got {na} {tuple(a.shape)} and {nb} {tuple(b.shape)}")


def _real(v, name, fn):
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"{fn}: {name} must be a real number, got {name}={v!r}")
    return float(v)


def _approximate(approximate, fn):
    if approximate not in _GELU_KINDS:
        raise ValueError(f"{fn}: approximate must be 'none' or 'tanh', got "
                         f"approximate={approximate!r}")
    return _GELU_KINDS[approximate]


def _forward(kind, alpha, x, out, fn):
    x = _input(x, "x", fn)
    y = _out(out, x.shape, fn)
    if x.size:
        _C.activation_forward(kind, alpha, _args.to_float32(x, "x", fn), y)
    return y


def _backward(kind, alpha, grad_out, v, vname, out, fn):
    g = _input(grad_out, "grad_out", fn)
    v = _input(v, vname, fn)
    _same_shape(g, v, "grad_out", vname, fn)
    gx = _out(out, g.shape, fn)
    if g.size:
        g, v = _args.to_float32s(fn, grad_out=g, **{vname: v})
        _C.activation_backward(kind, alpha, v, g, gx)
    return gx


def relu(x, out=None):
    """max(x, 0) (NaN stays NaN)."""
    return _forward("relu", 0.0, x, out, "relu")


def relu_backward(grad_out, y, out=None):
    """grad_out where the forward's OUTPUT y > 0 (or NaN), else 0 (torch's
    threshold_backward)."""
    return _backward("relu", 0.0, grad_out, y, "y", out, "relu_backward")


def leaky_relu(x, negative_slope=0.01, out=None):
    """x > 0 ? x : negative_slope * x."""
    a = _real(negative_slope, "negative_slope", "leaky_relu")
    return _forward("leaky_relu", a, x, out, "leaky_relu")


def leaky_relu_backward(grad_out, x, negative_slope=0.01, out=None):
    """grad_out * (x > 0 ? 1 : negative_slope), from the forward's INPUT x."""
    a = _real(negative_slope, "negative_slope", "leaky_relu_backward")
    return _backward("leaky_relu", a, grad_out, x, "x", out, "leaky_relu_backward")


def tanh(x, out=None):
    return _forward("tanh", 0.0, x, out, "tanh")


def tanh_backward(grad_out, y, out=None):
    """grad_out * (1 - y^2), from the forward's OUTPUT y."""
    return _backward("tanh", 0.0, grad_out, y, "y", out, "tanh_backward")


def sigmoid(x, out=None):
    return _forward("sigmoid", 0.0, x, out, "sigmoid")


def sigmoid_backward(grad_out, y, out=None):
    """grad_out * (1 - y) * y, from the forward's OUTPUT y."""
    return _backward("sigmoid", 0.0, grad_out, y, "y", out, "sigmoid_backward")


def gelu(x, approximate="none", out=None):
    """x * Phi(x) (Phi the normal CDF), or with approximate='tanh'
    x/2 * (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), as torch.nn.functional.gelu."""
    return _forward(_approximate(approximate, "gelu"), 0.0, x, out, "gelu")


def gelu_backward(grad_out, x, approximate="none", out=None):
    """The gradient of gelu, from the forward's INPUT x."""
    kind = _approximate(approximate, "gelu_backward")
    return _backward(kind, 0.0, grad_out, x, "x", out, "gelu_backward")


def _add(a, b, out, relu_after, fn):
    a = _input(a, "a", fn)
    b = _input(b, "b", fn)
    _same_shape(a, b, "a", "b", fn)
    y = _out(out, a.shape, fn)
    if a.size:
        a, b = _args.to_float32s(fn, a=a, b=b)
        _C.add(a, b, y, relu_after)
    return y


def add(a, b, out=None):
    """a + b, both of the same shape (out may be a or b)."""
    return _add(a, b, out, False, "add")


def add_relu(a, b, out=None):
    """max(a + b, 0): a residual add fused with its ReLU. Its backward is
    relu_backward(grad_out, y), which is also the gradient of both a and b."""
    return _add(a, b, out, True, "add_relu")


def _nchw(x, fn):
    if x.ndim < 2:
        raise ValueError(f"{fn}: expected an array of at least 2 dimensions (N, C, ...), "
                         f"got shape {tuple(x.shape)}")
    N, C = x.shape[:2]
    return N, C, int(np.prod(x.shape[2:], dtype=np.int64))


def bias_add(x, bias, out=None):
    """x + bias[c] along dimension 1 of x (N, C, ...): a convolution's or Linear's
    bias. out=x adds in place."""
    fn = "bias_add"
    x = _input(x, "x", fn)
    N, C, HW = _nchw(x, fn)
    bias = _input(bias, "bias", fn)
    if bias.shape != (C,):
        raise ValueError(f"{fn}: expected bias of shape ({C},) (x's dimension 1), got "
                         f"{tuple(bias.shape)}")
    y = _out(out, x.shape, fn)
    if x.size:
        x, bias = _args.to_float32s(fn, x=x, bias=bias)
        if y is not x:
            np.copyto(y, x)
        _C.bias_add(N, C, HW, bias, y)
    return y


def bias_add_backward(grad_out):
    """grad_bias (C,): grad_out (N, C, ...) summed over every dimension but 1
    (accumulated in double)."""
    fn = "bias_add_backward"
    g = _input(grad_out, "grad_out", fn)
    N, C, HW = _nchw(g, fn)
    gb = _args.empty((C,), "grad_bias", fn, zeros=True)
    if g.size:
        _C.bias_grad(N, C, HW, _args.to_float32(g, "grad_out", fn), gb)
    return gb


def _p(p, fn):
    p = _real(p, "p", fn)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{fn}: p must be in [0, 1], got p={p!r}")
    return p


def dropout(x, p, seed, training=True):
    """(y, mask): each element of x zeroed with probability p and the rest scaled by
    1 / (1 - p) (torch's inverted dropout). mask is uint8 bits, ((x.size + 7) // 8,):
    bit i % 8 of byte i // 8 keeps flat element i. The mask is a function of (seed,
    element index) only: the same on every thread count and ISA. With training=False,
    (x as float32, None)."""
    fn = "dropout"
    p = _p(p, fn)
    seed = _args.as_int(seed, "seed", fn)
    if not 0 <= seed < 2**64:
        raise ValueError(f"{fn}: seed must be in [0, 2**64), got seed={seed!r}")
    if not isinstance(training, (bool, np.bool_)):
        raise TypeError(f"{fn}: training must be a bool, got training={training!r}")
    x = _input(x, "x", fn)
    if not training:
        return _args.to_float32(x, "x", fn), None
    y = _args.empty(x.shape, "output", fn)
    mask = _args.empty(((x.size + 7) // 8,), "mask", fn, np.uint8)
    if x.size:
        _C.dropout_forward(p, seed, _args.to_float32(x, "x", fn), y, mask)
    return y, mask


def dropout_backward(grad_out, mask, p, out=None):
    """grad_out * (kept ? 1 / (1 - p) : 0), with the mask and p of the forward."""
    fn = "dropout_backward"
    p = _p(p, fn)
    g = _input(grad_out, "grad_out", fn)
    if not isinstance(mask, np.ndarray) or mask.dtype != np.uint8:
        raise TypeError(f"{fn}: mask must be the uint8 array dropout returned, got "
                        f"{type(mask).__name__}"
                        f"{' of dtype ' + str(mask.dtype) if isinstance(mask, np.ndarray) else ''}")
    nbytes = (g.size + 7) // 8
    if mask.shape != (nbytes,):
        raise ValueError(f"{fn}: expected mask of shape ({nbytes},) for grad_out of "
                         f"{g.size} elements, got {mask.shape}")
    gx = _out(out, g.shape, fn)
    if g.size:
        _C.dropout_backward(p, np.ascontiguousarray(mask), _args.to_float32(g, "grad_out", fn),
                            gx)
    return gx

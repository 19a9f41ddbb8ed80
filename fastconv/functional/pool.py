"""Pooling: max, average and global, forward and backward (PyTorch semantics).

Padding may go up to the effective kernel size minus one (the ONNX rule: every window
keeps an input element); PyTorch stops at half the kernel. Max pooling follows
PyTorch's scan: the first maximum in row-major window order wins, and a NaN in the
window makes the result NaN (the index is that of the window's last NaN, as PyTorch's
CPU kernel does).
"""
import numpy as np

from fastconv import _C
from fastconv.functional import _args

# Padded rows and columns per axis (the C kernels keep a few padded rows per thread).
MAX_PADDED = 1 << 26


class PoolParams:
    """Normalized, checked arguments of one max or average pooling."""

    __slots__ = ("x_shape", "kernel", "stride", "pads", "dilation", "ceil_mode", "out_shape")

    def __init__(self, fn, x_shape, kernel_size, stride, padding, dilation, ceil_mode):
        N, C, H, W = x_shape
        if H < 1 or W < 1:
            raise ValueError(f"{fn}: x of shape {tuple(x_shape)} has an empty spatial dimension")
        self.kernel = _args.pair(kernel_size, "kernel_size", fn, 1)
        self.stride = self.kernel if stride is None else _args.pair(stride, "stride", fn, 1)
        self.dilation = _args.pair(dilation, "dilation", fn, 1)
        self.pads = _pool_padding(padding, fn)
        self.ceil_mode = _args.flag(ceil_mode, "ceil_mode", fn)
        t, b, l, r = self.pads
        OH = _out_size(fn, "height", H, t, b, self.kernel[0], self.stride[0],
                       self.dilation[0], self.ceil_mode, padding)
        OW = _out_size(fn, "width", W, l, r, self.kernel[1], self.stride[1],
                       self.dilation[1], self.ceil_mode, padding)
        self.x_shape = (N, C, H, W)
        self.out_shape = (N, C, OH, OW)
        for shape, name in ((self.x_shape, "x"), (self.out_shape, "output")):
            _args.check_elements(shape, name, fn)

    def c_args(self):
        return self.kernel, self.stride, self.pads, self.dilation, self.ceil_mode


def _pool_padding(padding, fn):
    """int | (ph, pw) | ((top, bottom), (left, right)) -> (top, bottom, left, right)."""
    if (isinstance(padding, (tuple, list)) and len(padding) == 2
            and all(isinstance(p, (tuple, list)) for p in padding)):
        pads = _args.pair(padding[0], "padding", fn) + _args.pair(padding[1], "padding", fn)
    else:
        ph, pw = _args.pair(padding, "padding", fn)
        pads = (ph, ph, pw, pw)
    if min(pads) < 0:
        raise ValueError(f"{fn}: padding must be >= 0, got padding={padding!r}")
    return pads


def _out_size(fn, axis, size, p0, p1, k, s, d, ceil_mode, padding):
    eff = d * (k - 1) + 1
    if max(p0, p1) >= eff:
        raise ValueError(f"{fn}: padding must be smaller than the effective kernel {axis} "
                         f"{eff} (dilation {d} x (kernel_size {k} - 1) + 1), got "
                         f"padding={padding!r}")
    # ceil_mode keeps a last window that runs past the padded input (torch's rule); the
    # window is then cut at the padded edge. Without it, or when no window starts inside
    # the input, a kernel larger than the padded input leaves no output.
    if eff > size + p0 + p1 and (not ceil_mode or size + p0 + p1 - eff + s - 1 < 0):
        raise ValueError(f"{fn}: the kernel's effective {axis} {eff} exceeds the padded "
                         f"input {axis} {size + p0 + p1}"
                         + ("" if ceil_mode else " (ceil_mode=True would keep one window)"))
    if size + p0 + p1 > MAX_PADDED:
        raise ValueError(f"{fn}: the padded input {axis} {size + p0 + p1} exceeds the pooling "
                         f"limit {MAX_PADDED}")
    span = size + p0 + p1 - eff
    o = (span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (o - 1) * s >= size + p0:
        o -= 1
    # Only dilation can leave a window without an input element: windows starting at or
    # after 0 hold their first tap, and one starting at a < 0 has its first tap inside
    # at a mod d (pads < effective kernel), which misses when it is >= size.
    if d > size:
        n_neg = min(o, -(-p0 // s))
        for i0 in range(0, n_neg, 1 << 20):
            i = np.arange(i0, min(n_neg, i0 + (1 << 20)), dtype=np.int64)
            miss = np.flatnonzero((i * s - p0) % d >= size)
            if miss.size:
                raise ValueError(f"{fn}: with dilation {d} and padding {p0}, output {axis} "
                                 f"position {i[miss[0]]} has a window holding no input element")
    return o


def _input(fn, x):
    """x as an array, not yet converted (see _args.as_array)."""
    return _args.as_array(x, "x", fn, 4, "(N, C, H, W)")


def _grad(fn, grad_out, shape, what):
    return _args.check_grad_out(_args.as_array(grad_out, "grad_out", fn), shape, fn, what)


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max pooling of x (N, C, H, W). With return_indices, also returns the int64 flat
    position h*W + w of each maximum within its (H, W) plane, as PyTorch does."""
    fn = "max_pool2d"
    x = _input(fn, x)
    p = PoolParams(fn, x.shape, kernel_size, stride, padding, dilation, ceil_mode)
    return_indices = _args.flag(return_indices, "return_indices", fn)
    y = _args.empty(p.out_shape, "output", fn)
    idx = _args.empty(p.out_shape, "indices", fn, np.int64) if return_indices else None
    if y.size:
        _C.max_pool2d_forward(_args.to_float32(x, "x", fn), y, idx, *p.c_args())
    return (y, idx) if return_indices else y


def max_pool2d_backward(grad_out, x, kernel_size, stride=None, padding=0, dilation=1,
                        ceil_mode=False, indices=None):
    """Gradient of max_pool2d with respect to x: grad_out scatter-added to each window's
    maximum (windows that overlap accumulate). The maxima come from `indices` (as
    max_pool2d returned them) or, when None, are found again in x by the same rule."""
    fn = "max_pool2d_backward"
    x = _input(fn, x)
    p = PoolParams(fn, x.shape, kernel_size, stride, padding, dilation, ceil_mode)
    grad_out = _grad(fn, grad_out, p.out_shape, "max_pool2d")
    if indices is not None:
        if not isinstance(indices, np.ndarray):
            raise TypeError(f"{fn}: indices must be a numpy.ndarray of int64, "
                            f"got {type(indices).__name__}")
        if indices.dtype != np.int64:
            raise TypeError(f"{fn}: indices must have dtype int64, got {indices.dtype}")
        if indices.shape != p.out_shape:
            raise ValueError(f"{fn}: expected indices of shape {p.out_shape} (the max_pool2d "
                             f"output shape), got {tuple(indices.shape)}")
        indices = np.ascontiguousarray(indices)
    gx = _args.empty(x.shape, "grad_x", fn)
    if gx.size == 0:
        return gx
    grad_out = _args.to_float32(grad_out, "grad_out", fn)
    x = None if indices is not None else _args.to_float32(x, "x", fn)
    _C.max_pool2d_backward(grad_out, x, indices, gx, *p.c_args())
    return gx


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Average pooling of x (N, C, H, W). The divisor is PyTorch's: the window clipped to
    the padded input (count_include_pad=True) or to the input itself."""
    fn = "avg_pool2d"
    x = _input(fn, x)
    p = PoolParams(fn, x.shape, kernel_size, stride, padding, 1, ceil_mode)
    cip = _args.flag(count_include_pad, "count_include_pad", fn)
    y = _args.empty(p.out_shape, "output", fn)
    if y.size:
        _C.avg_pool2d_forward(_args.to_float32(x, "x", fn), y, p.kernel, p.stride, p.pads, p.ceil_mode, cip)
    return y


def avg_pool2d_backward(grad_out, x, kernel_size, stride=None, padding=0, ceil_mode=False,
                        count_include_pad=True):
    """Gradient of avg_pool2d with respect to x: each grad_out element divided by its
    window's divisor and spread over the window's input elements."""
    fn = "avg_pool2d_backward"
    x = _input(fn, x)
    p = PoolParams(fn, x.shape, kernel_size, stride, padding, 1, ceil_mode)
    cip = _args.flag(count_include_pad, "count_include_pad", fn)
    grad_out = _grad(fn, grad_out, p.out_shape, "avg_pool2d")
    gx = _args.empty(x.shape, "grad_x", fn)
    if gx.size:
        _C.avg_pool2d_backward(_args.to_float32(grad_out, "grad_out", fn), gx, p.kernel, p.stride, p.pads, p.ceil_mode, cip)
    return gx


def _global_input(fn, x):
    x = _input(fn, x)
    if x.shape[2] < 1 or x.shape[3] < 1:
        raise ValueError(f"{fn}: x of shape {tuple(x.shape)} has an empty spatial dimension")
    return x


def _global_forward(kind, x):
    fn = f"global_{kind}_pool2d"
    x = _global_input(fn, x)
    y = _args.empty(x.shape[:2] + (1, 1), "output", fn)
    if y.size:
        _C.global_pool2d_forward(kind, _args.to_float32(x, "x", fn), y)
    return y


def _global_backward(kind, grad_out, x):
    fn = f"global_{kind}_pool2d_backward"
    x = _global_input(fn, x)
    grad_out = _grad(fn, grad_out, x.shape[:2] + (1, 1), f"global_{kind}_pool2d")
    gx = _args.empty(x.shape, "grad_x", fn)
    if gx.size:
        _C.global_pool2d_backward(kind, _args.to_float32(grad_out, "grad_out", fn),
                                  _args.to_float32(x, "x", fn) if kind == "max" else None,
                                  gx)
    return gx


def global_avg_pool2d(x):
    """Mean over each (H, W) plane: (N, C, H, W) -> (N, C, 1, 1)."""
    return _global_forward("avg", x)


def global_avg_pool2d_backward(grad_out, x):
    return _global_backward("avg", grad_out, x)


def global_max_pool2d(x):
    """Maximum over each (H, W) plane: (N, C, H, W) -> (N, C, 1, 1); NaN propagates."""
    return _global_forward("max", x)


def global_max_pool2d_backward(grad_out, x):
    """grad_out routed to each plane's maximum (max_pool2d's rule: the first maximum,
    or the last NaN)."""
    return _global_backward("max", grad_out, x)

"""Batch normalization over (N, H, W) of NCHW activations, forward and backward, with
an optional fused ReLU (torch.nn.functional.batch_norm semantics, relu applied after).

    y, mean, invstd = batch_norm2d(x, gamma, beta, running_mean, running_var)
    gx, ggamma, gbeta = batch_norm2d_backward(gy, x, gamma, mean, invstd)

In training the running statistics (float32 C-contiguous arrays) are updated in place
with torch's rule: running = (1 - momentum) * running + momentum * batch, the variance
unbiased. With relu=True the backward takes the forward's output y and lets grad_out
through only where y > 0 (the mask is recomputed from y: no byte array is kept).
"""
import math
import numbers
from typing import NamedTuple, Optional

import numpy as np

from fastconv import _C
from fastconv.functional import _args


class BatchNorm2dResult(NamedTuple):
    """batch_norm2d's result. In training, save_mean and save_invstd ((C,) float32: the
    batch mean and 1 / sqrt(biased variance + eps)) are what batch_norm2d_backward
    takes; in evaluation they are None."""
    y: np.ndarray
    save_mean: Optional[np.ndarray]
    save_invstd: Optional[np.ndarray]


def _real(v, name, fn, minimum=None):
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
        raise TypeError(f"{fn}: {name} must be a real number, got {name}={v!r}")
    v = float(v)
    if not math.isfinite(v) or (minimum is not None and v < minimum):
        bound = f" >= {minimum}" if minimum is not None else ""
        raise ValueError(f"{fn}: {name} must be finite{bound}, got {name}={v!r}")
    return v


def _vector(a, name, C, fn):
    """None, or `a` as a (C,) float32 array (converted only after the check)."""
    if a is None:
        return None
    a = _args.as_array(a, name, fn)
    if a.shape != (C,):
        raise ValueError(f"{fn}: expected {name} of shape ({C},) (one per channel of x), got "
                         f"{tuple(a.shape)}")
    return _args.to_float32(a, name, fn)


def _running(a, name, C, fn):
    """A running statistic updated in place: a writeable C-contiguous float32 (C,)
    ndarray, since a converted copy would take the update instead of the caller's."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{fn}: {name} is updated in place in training and must be a "
                        f"numpy.ndarray, got {type(a).__name__}")
    if a.dtype != np.float32 or not a.flags.c_contiguous:
        raise TypeError(f"{fn}: {name} is updated in place in training and must be a "
                        f"C-contiguous float32 array, got dtype {a.dtype}")
    if a.shape != (C,):
        raise ValueError(f"{fn}: expected {name} of shape ({C},) (one per channel of x), got "
                         f"{tuple(a.shape)}")
    if not a.flags.writeable:
        raise ValueError(f"{fn}: {name} is updated in place in training but is read-only")
    return a


def _out(out, shape, fn):
    if out is None:
        return _args.empty(shape, "output", fn)
    if (not isinstance(out, np.ndarray) or out.dtype != np.float32
            or not out.flags.c_contiguous):
        raise TypeError(f"{fn}: out must be a C-contiguous float32 numpy.ndarray")
    if out.shape != tuple(shape):
        raise ValueError(f"{fn}: expected out of shape {tuple(shape)} (x's), got {out.shape}")
    if not out.flags.writeable:
        raise ValueError(f"{fn}: out is read-only")
    return out


def batch_norm2d(x, gamma=None, beta=None, running_mean=None, running_var=None,
                 training=True, momentum=0.1, eps=1e-5, relu=False, out=None):
    """Batch normalization of x (N, C, H, W), then max(., 0) when relu.

    training=True normalizes by the batch mean and biased variance over (N, H, W)
    (N*H*W must be >= 2), updating running_mean and running_var in place when given
    (both or neither); training=False normalizes by the running statistics, which are
    then required. gamma and beta ((C,)) default to 1 and 0 (affine=False). `out`, a
    C-contiguous float32 array of x's shape, receives y (it may be x itself).
    Returns BatchNorm2dResult(y, save_mean, save_invstd)."""
    fn = "batch_norm2d"
    x = _args.as_array(x, "x", fn, 4, "(N, C, H, W)")
    N, C, H, W = x.shape
    training = _args.flag(training, "training", fn)
    relu = _args.flag(relu, "relu", fn)
    eps = _real(eps, "eps", fn, 0.0)
    momentum = _real(momentum, "momentum", fn)
    gamma = _vector(gamma, "gamma", C, fn)
    beta = _vector(beta, "beta", C, fn)
    if (running_mean is None) != (running_var is None):
        raise ValueError(f"{fn}: pass both running_mean and running_var, or neither")
    if training:
        if running_mean is not None:
            running_mean = _running(running_mean, "running_mean", C, fn)
            running_var = _running(running_var, "running_var", C, fn)
        if N * H * W == 1:
            raise ValueError(f"{fn}: training needs more than one value per channel, got x "
                             f"of shape {tuple(x.shape)}")
    else:
        if running_mean is None:
            raise ValueError(f"{fn}: training=False normalizes by running_mean and "
                             f"running_var, which are None")
        running_mean = _vector(running_mean, "running_mean", C, fn)
        running_var = _vector(running_var, "running_var", C, fn)
    y = _out(out, x.shape, fn)
    save_mean = save_invstd = None
    if training:
        # An empty batch normalizes nothing and leaves the running statistics alone;
        # its statistics are NaN (a mean of nothing).
        zeros = C == 0 or N * H * W == 0
        save_mean = _args.empty((C,), "save_mean", fn)
        save_invstd = _args.empty((C,), "save_invstd", fn)
        if zeros:
            save_mean.fill(np.nan)
            save_invstd.fill(np.nan)
    if x.size == 0:
        return BatchNorm2dResult(y, save_mean, save_invstd)
    x = _args.to_float32(x, "x", fn)
    _C.batch_norm2d_forward(x, gamma, beta, running_mean, running_var, y, save_mean,
                            save_invstd, training, momentum, eps, relu)
    return BatchNorm2dResult(y, save_mean, save_invstd)


def batch_norm2d_backward(grad_out, x, gamma, save_mean, save_invstd, y=None, relu=False):
    """Gradients of batch_norm2d in training with respect to x, gamma and beta, from the
    forward's save_mean and save_invstd. With relu=True, y is the forward's output and
    grad_out counts only where y > 0. gamma None means 1 (affine=False; the gamma and
    beta gradients are still returned). Returns (grad_x, grad_gamma, grad_beta)."""
    fn = "batch_norm2d_backward"
    x = _args.as_array(x, "x", fn, 4, "(N, C, H, W)")
    N, C, H, W = x.shape
    relu = _args.flag(relu, "relu", fn)
    grad_out = _args.check_grad_out(_args.as_array(grad_out, "grad_out", fn), x.shape, fn,
                                    "batch_norm2d")
    gamma = _vector(gamma, "gamma", C, fn)
    for name, v in (("save_mean", save_mean), ("save_invstd", save_invstd)):
        if v is None:
            raise ValueError(f"{fn}: {name} is required (batch_norm2d returns it in training)")
    save_mean = _vector(save_mean, "save_mean", C, fn)
    save_invstd = _vector(save_invstd, "save_invstd", C, fn)
    if relu:
        if y is None:
            raise ValueError(f"{fn}: relu=True needs y, the forward's output, for the mask")
        y = _args.as_array(y, "y", fn)
        if y.shape != x.shape:
            raise ValueError(f"{fn}: expected y of shape {tuple(x.shape)} (x's), got "
                             f"{tuple(y.shape)}")
    else:
        y = None
    empty = x.size == 0
    gx = _args.empty(x.shape, "grad_x", fn)
    ggamma = _args.empty((C,), "grad_gamma", fn, zeros=empty)
    gbeta = _args.empty((C,), "grad_beta", fn, zeros=empty)
    if empty:
        return gx, ggamma, gbeta
    grad_out, x = _args.to_float32s(fn, grad_out=grad_out, x=x)
    if y is not None:
        y = _args.to_float32(y, "y", fn)
    _C.batch_norm2d_backward(grad_out, x, y, gamma, save_mean, save_invstd, gx, ggamma,
                             gbeta, relu)
    return gx, ggamma, gbeta

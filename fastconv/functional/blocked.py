"""Convolution on the blocked channel layout NCHW8c: x (N, ceil(C/8), H, W, 8), the 8
channels of a block innermost and the channels past C zero (oneDNN's nChw8c).

A direct convolution on this layout accumulates 8 output channels per vector with no
im2col copy and no GEMM lanes idle on small maps, which is where ResNet's batch-1 3x3
layers (14x14, 7x7) lose under im2col. A network kept in the layout between its layers
pays the reorders (to_nchw8c / from_nchw8c) only at its edges; the weights are arranged
once (pack_nchw8c_weights).

    xb = to_nchw8c(x)                       # (N, C, H, W) -> (N, ceil(C/8), H, W, 8)
    pw = pack_nchw8c_weights(weight)        # once per layer
    yb = conv2d_nchw8c(xb, pw, bias, stride=1, padding=1, relu=True)
    yb = max_pool2d_nchw8c(yb, 3, stride=2) # pooling stays in the layout too
    y = from_nchw8c(yb, K)                  # -> (N, K, OH, OW)

algorithm="winograd_f23" or "winograd_f43" (pack_nchw8c_weights and conv2d_nchw8c)
runs a 3x3 stride-1 layer by Winograd F(2x2,3x3) or F(4x4,3x3) on the same layout, with
2.25 or 4 times fewer multiplications (the inference plan's choice for 3x3 layers of 64+
channels; errors as conv2d's algorithms of those names).
"""
import numpy as np

from fastconv import _C
from fastconv import errors as fastconv_errors
from fastconv.functional import _args
from fastconv.functional.conv import ConvParams, epilogue_args, epilogue_float32
from fastconv.functional.pool import PoolParams

BLOCK = 8


def _blocks(c):
    return -(-c // BLOCK)


def to_nchw8c(x):
    """x (N, C, H, W) in the blocked layout (N, ceil(C/8), H, W, 8), float32, the
    channels past C zero."""
    fn = "to_nchw8c"
    x = _args.as_array(x, "x", fn, 4, "(N, C, H, W)")
    N, C, H, W = x.shape
    if min(C, H, W) < 1:
        raise ValueError(f"{fn}: x of shape {tuple(x.shape)} has an empty dimension")
    xb = _args.empty((N, _blocks(C), H, W, BLOCK), "output", fn)
    if N:
        _C.reorder_nchw_to_nchw8c(_args.to_float32(x, "x", fn), xb)
    return xb


def from_nchw8c(xb, channels):
    """The (N, channels, H, W) float32 array of a blocked xb (N, ceil(channels/8), H, W,
    8); the padded channels are dropped."""
    fn = "from_nchw8c"
    xb = _args.as_array(xb, "x", fn, 5, "(N, C/8, H, W, 8)")
    C = _args.as_int(channels, "channels", fn)
    if C < 1:
        raise ValueError(f"{fn}: channels must be >= 1, got channels={channels!r}")
    N, B, H, W, L = xb.shape
    if L != BLOCK or B != _blocks(C) or min(H, W) < 1:
        raise ValueError(f"{fn}: expected x of shape (N, {_blocks(C)}, H, W, {BLOCK}) for "
                         f"channels={C}, got {tuple(xb.shape)}")
    x = _args.empty((N, C, H, W), "output", fn)
    if N:
        _C.reorder_nchw8c_to_nchw(_args.to_float32(xb, "x", fn), x)
    return x


ALGORITHMS = ("direct", "winograd_f23", "winograd_f43")
_WINOGRAD = ("winograd_f23", "winograd_f43")


class Nchw8cWeights:
    """Convolution weights (K, C, R, S) arranged for conv2d_nchw8c by `algorithm` (the
    layout is private to the library version). `shape` is the original weight's."""

    __slots__ = ("shape", "packed", "algorithm", "plain")

    def __init__(self, shape, packed, algorithm="direct", plain=None):
        self.shape = tuple(shape)
        self.packed = packed
        self.algorithm = algorithm
        self.plain = plain        # Winograd: the float32 filters, for non-finite outputs

    def __repr__(self):
        return f"Nchw8cWeights(shape={self.shape}, algorithm={self.algorithm!r})"


def _winograd_kernels(algorithm):
    """The kernel sizes a Winograd algorithm serves on the blocked layout."""
    return ((3, 3), (5, 5)) if algorithm == "winograd_f23" else ((3, 3),)


def _algorithm(algorithm, fn):
    if algorithm not in ALGORITHMS:
        raise ValueError(f"{fn}: algorithm must be one of {ALGORITHMS}, got {algorithm!r}")
    return algorithm


def pack_nchw8c_weights(weight, algorithm="direct"):
    """weight (K, C, R, S) arranged once for conv2d_nchw8c; the Winograd algorithms take
    3x3 weights, "winograd_f23" 5x5 ones too (F(2x2,5x5)), transformed once."""
    fn = "pack_nchw8c_weights"
    algorithm = _algorithm(algorithm, fn)
    weight = _args.as_array(weight, "weight", fn, 4, "(K, C, R, S)")
    if min(weight.shape) < 1:
        raise ValueError(f"{fn}: weight of shape {tuple(weight.shape)} has an empty dimension")
    if algorithm in _WINOGRAD and weight.shape[2:] not in _winograd_kernels(algorithm):
        raise fastconv_errors.UnsupportedError(
            f"{fn}: algorithm {algorithm!r} takes a "
            f"{' or '.join(f'{r}x{s}' for r, s in _winograd_kernels(algorithm))} weight, "
            f"got shape {tuple(weight.shape)}")
    positions = int(np.prod(weight.shape[2:]))
    if algorithm in _WINOGRAD:   # (m + r - 1)^2 transform positions
        positions = (weight.shape[2] + (1 if algorithm == "winograd_f23" else 3)) ** 2
    _args.check_elements((_blocks(weight.shape[0]) * BLOCK, _blocks(weight.shape[1]) * BLOCK,
                          positions), "packed weight", fn)
    w = _args.to_float32(weight, "weight", fn)
    if algorithm == "direct":
        return Nchw8cWeights(w.shape, _C.conv2d_blocked_transform_weights(w))
    w = np.array(w, dtype=np.float32, order="C")      # the caller may change theirs
    return Nchw8cWeights(w.shape, _C.conv2d_blocked_winograd_transform_weights(w, algorithm),
                         algorithm, w)


def conv2d_nchw8c(xb, weight, bias=None, stride=1, padding=0, dilation=1, *, scale=None,
                  residual=None, relu=False, algorithm=None):
    """conv2d (groups 1) on the blocked layout: xb (N, ceil(C/8), H, W, 8) and weight
    (K, C, R, S) or its pack_nchw8c_weights() give yb (N, ceil(K/8), OH, OW, 8), the
    channels past K zero. C comes from the weight. Epilogue as in conv2d:
        y = act(scale[k] * conv(x, weight)[n, k] + bias[k] + residual[n, k])
    with scale and bias (K,) and residual in yb's blocked shape (it may be a previous
    layer's output; the padded channels are ignored). padding as conv2d's. algorithm:
    "direct" (the default for a plain weight), "winograd_f23" (3x3 or 5x5: F(2x2,5x5))
    or "winograd_f43" (3x3), stride 1, dilation 1; None takes a packed weight's own."""
    fn = "conv2d_nchw8c"
    xb = _args.as_array(xb, "x", fn, 5, "(N, C/8, H, W, 8)")
    if algorithm is not None:
        algorithm = _algorithm(algorithm, fn)
    if isinstance(weight, Nchw8cWeights):
        if algorithm is not None and algorithm != weight.algorithm:
            raise ValueError(f"{fn}: weight was packed for algorithm {weight.algorithm!r}, "
                             f"not {algorithm!r}")
        packed, w_shape, algorithm = weight.packed, weight.shape, weight.algorithm
    else:
        weight = _args.as_array(weight, "weight", fn, 4, "(K, C, R, S)")
        packed, w_shape = None, tuple(weight.shape)
        algorithm = algorithm or "direct"
    K, C, R, S = w_shape
    N, B, H, W, L = xb.shape
    if L != BLOCK or B != _blocks(C):
        raise ValueError(f"{fn}: weight of shape {w_shape} expects x of shape (N, "
                         f"{_blocks(C)}, H, W, {BLOCK}) (C={C} input channels), got "
                         f"{tuple(xb.shape)}")
    p = ConvParams(fn, (N, C, H, W), w_shape, stride, padding, dilation, 1)
    if algorithm in _WINOGRAD and (w_shape[2:] not in _winograd_kernels(algorithm) or
                                   p.stride != (1, 1) or p.dilation != (1, 1)):
        kernels = " or ".join(f"{r}x{s}" for r, s in _winograd_kernels(algorithm))
        raise fastconv_errors.UnsupportedError(
            f"{fn}: algorithm {algorithm!r} serves {kernels} kernels with stride 1 and "
            f"dilation 1, got weight {w_shape}, stride {p.stride}, dilation {p.dilation}")
    OH, OW = p.out_shape[2:]
    out_shape = (N, _blocks(K), OH, OW, BLOCK)
    bias = _args.bias_vector(bias, K, fn)
    scale, residual, relu, _ = epilogue_args(fn, scale, residual, relu, K, out_shape)
    _args.check_elements(out_shape, "output", fn)
    yb = _args.empty(out_shape, "output", fn)
    if N == 0:
        return yb
    if packed is None:
        weight = pack_nchw8c_weights(weight, algorithm)
        packed = weight.packed
    xb = _args.to_float32(xb, "x", fn)
    scale, residual = epilogue_float32(fn, scale, residual)
    if algorithm in _WINOGRAD:
        _C.conv2d_blocked_winograd_forward(algorithm, xb, p.x_shape, packed, weight.plain,
                                           scale, bias, residual, relu, yb, p.pads)
    else:
        _C.conv2d_blocked_forward(xb, p.x_shape, packed, w_shape, scale, bias, residual,
                                  relu, yb, p.stride, p.pads, p.dilation)
    return yb


def max_pool2d_nchw8c(xb, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """max_pool2d on the blocked layout: xb (N, ceil(C/8), H, W, 8) gives yb (N,
    ceil(C/8), OH, OW, 8), each lane pooled as max_pool2d pools a channel (same
    arguments and output size; no indices), so the padded channels' zeros stay zeros."""
    fn = "max_pool2d_nchw8c"
    xb = _args.as_array(xb, "x", fn, 5, "(N, C/8, H, W, 8)")
    N, B, H, W, L = xb.shape
    if L != BLOCK or B < 1:
        raise ValueError(f"{fn}: expected x of shape (N, C/8, H, W, {BLOCK}), got "
                         f"{tuple(xb.shape)}")
    p = PoolParams(fn, (N, B * BLOCK, H, W), kernel_size, stride, padding, dilation, ceil_mode)
    yb = _args.empty((N, B) + p.out_shape[2:] + (BLOCK,), "output", fn)
    if yb.size:
        _C.max_pool2d_forward_nchw8c(_args.to_float32(xb, "x", fn), yb, p.x_shape,
                                     *p.c_args())
    return yb


__all__ = ["ALGORITHMS", "BLOCK", "Nchw8cWeights", "conv2d_nchw8c", "from_nchw8c", "max_pool2d_nchw8c",
           "pack_nchw8c_weights", "to_nchw8c"]

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
"""
import numpy as np

from fastconv import _C
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


class Nchw8cWeights:
    """Convolution weights (K, C, R, S) arranged for conv2d_nchw8c (the layout is
    private to the library version). `shape` is the original weight's."""

    __slots__ = ("shape", "packed")

    def __init__(self, shape, packed):
        self.shape = tuple(shape)
        self.packed = packed

    def __repr__(self):
        return f"Nchw8cWeights(shape={self.shape})"


def pack_nchw8c_weights(weight):
    """weight (K, C, R, S) arranged once for conv2d_nchw8c."""
    fn = "pack_nchw8c_weights"
    weight = _args.as_array(weight, "weight", fn, 4, "(K, C, R, S)")
    if min(weight.shape) < 1:
        raise ValueError(f"{fn}: weight of shape {tuple(weight.shape)} has an empty dimension")
    _args.check_elements((_blocks(weight.shape[0]) * BLOCK, _blocks(weight.shape[1]) * BLOCK,
                          *weight.shape[2:]), "packed weight", fn)
    w = _args.to_float32(weight, "weight", fn)
    return Nchw8cWeights(w.shape, _C.conv2d_blocked_transform_weights(w))


def conv2d_nchw8c(xb, weight, bias=None, stride=1, padding=0, dilation=1, *, scale=None,
                  residual=None, relu=False):
    """conv2d (groups 1) on the blocked layout: xb (N, ceil(C/8), H, W, 8) and weight
    (K, C, R, S) or its pack_nchw8c_weights() give yb (N, ceil(K/8), OH, OW, 8), the
    channels past K zero. C comes from the weight. Epilogue as in conv2d:
        y = act(scale[k] * conv(x, weight)[n, k] + bias[k] + residual[n, k])
    with scale and bias (K,) and residual in yb's blocked shape (it may be a previous
    layer's output; the padded channels are ignored). padding as conv2d's."""
    fn = "conv2d_nchw8c"
    xb = _args.as_array(xb, "x", fn, 5, "(N, C/8, H, W, 8)")
    if isinstance(weight, Nchw8cWeights):
        packed, w_shape = weight.packed, weight.shape
    else:
        weight = _args.as_array(weight, "weight", fn, 4, "(K, C, R, S)")
        packed, w_shape = None, tuple(weight.shape)
    K, C, R, S = w_shape
    N, B, H, W, L = xb.shape
    if L != BLOCK or B != _blocks(C):
        raise ValueError(f"{fn}: weight of shape {w_shape} expects x of shape (N, "
                         f"{_blocks(C)}, H, W, {BLOCK}) (C={C} input channels), got "
                         f"{tuple(xb.shape)}")
    p = ConvParams(fn, (N, C, H, W), w_shape, stride, padding, dilation, 1)
    OH, OW = p.out_shape[2:]
    out_shape = (N, _blocks(K), OH, OW, BLOCK)
    bias = _args.bias_vector(bias, K, fn)
    scale, residual, relu, _ = epilogue_args(fn, scale, residual, relu, K, out_shape)
    _args.check_elements(out_shape, "output", fn)
    yb = _args.empty(out_shape, "output", fn)
    if N == 0:
        return yb
    if packed is None:
        packed = pack_nchw8c_weights(weight).packed
    xb = _args.to_float32(xb, "x", fn)
    scale, residual = epilogue_float32(fn, scale, residual)
    _C.conv2d_blocked_forward(xb, p.x_shape, packed, w_shape, scale, bias, residual, relu, yb,
                              p.stride, p.pads, p.dilation)
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


__all__ = ["BLOCK", "Nchw8cWeights", "conv2d_nchw8c", "from_nchw8c", "max_pool2d_nchw8c",
           "pack_nchw8c_weights", "to_nchw8c"]

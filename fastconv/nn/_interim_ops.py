"""INTERIM -- DELETE AT MERGE.

Plain NumPy stand-ins (float32 throughout) for ops that other branches are building in C
right now: matmul, max/avg/global pooling, transposed and depthwise convolution, each
with its backward. `install_missing()` sets them on `fastconv` and
`fastconv.functional` only for names that do not exist yet, so the real kernels win
as soon as they are merged. Semantics follow PyTorch. The lead removes this file and
the `install_missing()` call in fastconv/nn/__init__.py when the real ops land.
"""
import numpy as np

import fastconv

__all__ = ["install_missing"]


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _f32(a):
    return np.ascontiguousarray(a, dtype=np.float32)


def matmul(a, b):
    # asarray, not ascontiguousarray: a transposed view goes to BLAS without a copy.
    return _f32(np.matmul(np.asarray(a, np.float32), np.asarray(b, np.float32)))


def _pool_out(size, k, s, p, d, ceil_mode):
    eff = d * (k - 1) + 1
    num = size + 2 * p - eff
    out = (-(-num // s) if ceil_mode else num // s) + 1
    if ceil_mode and (out - 1) * s >= size + p:   # last window must start inside
        out -= 1
    return out


def _pool_args(x, kernel_size, stride, padding, dilation, ceil_mode):
    kh, kw = _pair(kernel_size)
    sh, sw = _pair(stride) if stride is not None and stride != () else (kh, kw)
    ph, pw = _pair(padding)
    dh, dw = _pair(dilation)
    H, W = x.shape[2:]
    OH = _pool_out(H, kh, sh, ph, dh, ceil_mode)
    OW = _pool_out(W, kw, sw, pw, dw, ceil_mode)
    return (kh, kw), (sh, sw), (ph, pw), (dh, dw), (OH, OW)


def _padded(x, k, s, p, d, out, value):
    """x padded so that every window of every output lies inside it."""
    H, W = x.shape[2:]
    need_h = (out[0] - 1) * s[0] + d[0] * (k[0] - 1) + 1
    need_w = (out[1] - 1) * s[1] + d[1] * (k[1] - 1) + 1
    bh = max(need_h - H - p[0], 0)
    bw = max(need_w - W - p[1], 0)
    return np.pad(x, ((0, 0), (0, 0), (p[0], bh), (p[1], bw)), constant_values=value)


def _tap(xp, i, j, k, s, d, out):
    return xp[:, :, i * d[0]: i * d[0] + s[0] * (out[0] - 1) + 1: s[0],
              j * d[1]: j * d[1] + s[1] * (out[1] - 1) + 1: s[1]]


def _tap_range(size, out, s, p, off):
    """Outputs [o0, o1) whose tap at offset `off` (= i * dilation) reads inside the
    input, and the first input index they read."""
    o0 = max(0, -(-(p - off) // s))
    o1 = min(out, (size - 1 + p - off) // s + 1)
    return o0, o1, o0 * s - p + off


def _max_pool(x, kernel_size, stride, padding, dilation, ceil_mode, need_idx=True):
    # No padded copy: each tap updates only the outputs whose window it lies in.
    x = _f32(x)
    k, s, p, d, out = _pool_args(x, kernel_size, stride, padding, dilation, ceil_mode)
    N, C, H, W = x.shape
    best = np.full((N, C) + out, -np.inf, np.float32)
    idx = np.zeros((N, C) + out, np.int64) if need_idx else None
    for i in range(k[0]):
        h0, h1, r0 = _tap_range(H, out[0], s[0], p[0], i * d[0])
        for j in range(k[1]):
            w0, w1, c0 = _tap_range(W, out[1], s[1], p[1], j * d[1])
            if h0 >= h1 or w0 >= w1:
                continue
            v = x[:, :, r0:r0 + (h1 - h0 - 1) * s[0] + 1:s[0],
                  c0:c0 + (w1 - w0 - 1) * s[1] + 1:s[1]]
            b = best[:, :, h0:h1, w0:w1]
            if not need_idx:
                np.maximum(b, v, out=b)          # NaN propagates, as in PyTorch
                continue
            take = (v > b) | np.isnan(v)
            np.copyto(b, v, where=take)
            rows = (r0 + np.arange(h1 - h0) * s[0])[:, None]
            cols = (c0 + np.arange(w1 - w0) * s[1])[None, :]
            np.copyto(idx[:, :, h0:h1, w0:w1], np.broadcast_to(rows * W + cols, v.shape),
                      where=take)
    return best, idx


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    y, idx = _max_pool(x, kernel_size, stride, padding, dilation, ceil_mode,
                       need_idx=return_indices)
    return (y, idx) if return_indices else y


def max_pool2d_backward(grad_out, x, kernel_size, stride=None, padding=0, dilation=1,
                        ceil_mode=False, indices=None):
    x = _f32(x)
    if indices is None:
        _, indices = _max_pool(x, kernel_size, stride, padding, dilation, ceil_mode)
    N, C, H, W = x.shape
    gx = np.zeros((N * C, H * W), np.float32)
    g = _f32(grad_out).reshape(N * C, -1)
    rows = np.repeat(np.arange(N * C), g.shape[1])
    np.add.at(gx, (rows, np.asarray(indices).reshape(N * C, -1).ravel()), g.ravel())
    return gx.reshape(x.shape)


def _avg_divisor(size, k, s, p, out, count_include_pad):
    start = np.arange(out) * s - p
    end = np.minimum(start + k, size + p)
    if count_include_pad:
        return (end - start).astype(np.float32)
    return (np.minimum(end, size) - np.maximum(start, 0)).astype(np.float32)


def _avg_setup(x, kernel_size, stride, padding, ceil_mode, count_include_pad):
    k, s, p, d, out = _pool_args(x, kernel_size, stride, padding, 1, ceil_mode)
    H, W = x.shape[2:]
    div = np.outer(_avg_divisor(H, k[0], s[0], p[0], out[0], count_include_pad),
                   _avg_divisor(W, k[1], s[1], p[1], out[1], count_include_pad))
    return k, s, p, d, out, div


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    x = _f32(x)
    k, s, p, d, out, div = _avg_setup(x, kernel_size, stride, padding, ceil_mode,
                                      count_include_pad)
    xp = _padded(x, k, s, p, d, out, 0.0)
    acc = np.zeros(x.shape[:2] + out, np.float32)
    for i in range(k[0]):
        for j in range(k[1]):
            acc += _tap(xp, i, j, k, s, d, out)
    return acc / div


def avg_pool2d_backward(grad_out, x, kernel_size, stride=None, padding=0, ceil_mode=False,
                        count_include_pad=True):
    x = _f32(x)
    k, s, p, d, out, div = _avg_setup(x, kernel_size, stride, padding, ceil_mode,
                                      count_include_pad)
    g = _f32(grad_out) / div
    H, W = x.shape[2:]
    padded_hw = _padded(x[:1, :1], k, s, p, d, out, 0.0).shape[2:]
    gp = np.zeros(x.shape[:2] + padded_hw, np.float32)
    for i in range(k[0]):
        for j in range(k[1]):
            _tap(gp, i, j, k, s, d, out)[...] += g
    return np.ascontiguousarray(gp[:, :, p[0]:p[0] + H, p[1]:p[1] + W])


def global_avg_pool2d(x):
    x = _f32(x)
    return x.mean(axis=(2, 3), keepdims=True, dtype=np.float32)


def global_avg_pool2d_backward(grad_out, x):
    H, W = x.shape[2:]
    g = _f32(grad_out).reshape(x.shape[0], x.shape[1], 1, 1) / np.float32(H * W)
    return _f32(np.broadcast_to(g, x.shape))


def _tconv_out(x, weight, stride, padding, output_padding, groups, dilation):
    (sh, sw), (ph, pw), (oh, ow), (dh, dw) = (_pair(stride), _pair(padding),
                                              _pair(output_padding), _pair(dilation))
    N, _, H, W = x.shape
    _, Kg, R, S = weight.shape
    OH = (H - 1) * sh - 2 * ph + dh * (R - 1) + oh + 1
    OW = (W - 1) * sw - 2 * pw + dw * (S - 1) + ow + 1
    return (N, Kg * groups, OH, OW)


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    # The transposed convolution is the input gradient of the convolution it undoes.
    x, weight = _f32(x), _f32(weight)
    shape = _tconv_out(x, weight, stride, padding, output_padding, groups, dilation)
    y, _, _ = fastconv.conv2d_backward(x, np.zeros(shape, np.float32), weight, stride=stride,
                                       padding=padding, dilation=dilation, groups=groups)
    if bias is not None:
        y += _f32(bias)[None, :, None, None]
    return y


def conv_transpose2d_backward(grad_out, x, weight, stride=1, padding=0, output_padding=0,
                              groups=1, dilation=1):
    g, x, weight = _f32(grad_out), _f32(x), _f32(weight)
    gx = fastconv.conv2d(g, weight, stride=stride, padding=padding, dilation=dilation,
                         groups=groups)
    _, gw, _ = fastconv.conv2d_backward(x, g, weight, stride=stride, padding=padding,
                                        dilation=dilation, groups=groups)
    return gx, gw, g.sum(axis=(0, 2, 3), dtype=np.float32)


def depthwise_conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1):
    x = _f32(x)
    return fastconv.conv2d(x, weight, bias, stride=stride, padding=padding,
                           dilation=dilation, groups=x.shape[1])


def depthwise_conv2d_backward(grad_out, x, weight, stride=1, padding=0, dilation=1):
    x = _f32(x)
    return fastconv.conv2d_backward(grad_out, x, weight, stride=stride, padding=padding,
                                    dilation=dilation, groups=x.shape[1])


_OPS = {f.__name__: f for f in (
    matmul, max_pool2d, max_pool2d_backward, avg_pool2d, avg_pool2d_backward,
    global_avg_pool2d, global_avg_pool2d_backward, conv_transpose2d,
    conv_transpose2d_backward, depthwise_conv2d, depthwise_conv2d_backward)}


def install_missing():
    """Sets each stand-in on fastconv and fastconv.functional where the name is absent."""
    import fastconv.functional as functional
    for mod in (fastconv, functional):
        for name, fn in _OPS.items():
            if not hasattr(mod, name):
                setattr(mod, name, fn)

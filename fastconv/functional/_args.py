"""Argument normalization and validation shared by every functional op.

Each helper takes the op's name (`fn`) and the argument's name so that the message
reads like `conv2d: stride must be >= 1, got stride=(0, 1)`.
"""
import numbers
import operator

import numpy as np

# Largest element count fastconv allocates or indexes (int64 bytes, with headroom).
MAX_ELEMENTS = 2**62 // 8


def as_float32(a, name, fn):
    """C-contiguous float32 view of `a` (a copy only when needed; the input is never
    modified). Accepts ndarrays, __dlpack__ objects (PyTorch tensors, JAX arrays), the
    buffer protocol and __array__ objects. Data that is already C-contiguous float32 in
    CPU memory is read in place, whatever object holds it (zero-copy).

    A tensor that requires grad is refused (TypeError) rather than silently detached:
    fastconv's functional ops do not record autograd history, so detaching would cut the
    graph without a word. Pass `t.detach()`, or use the fastconv.torch adapter."""
    if not isinstance(a, np.ndarray):
        if hasattr(a, "__dlpack__") and not hasattr(a, "__array_interface__"):
            if getattr(a, "requires_grad", False):
                raise TypeError(f"{fn}: {name} is a tensor that requires grad; fastconv ops "
                                f"do not track autograd: pass {name}.detach(), or use "
                                f"fastconv.torch for differentiable ops")
            try:
                a = np.from_dlpack(a)
            except (TypeError, BufferError, RuntimeError, ValueError) as e:
                raise TypeError(f"{fn}: {name} could not be exchanged through DLPack (CPU "
                                f"memory and a NumPy dtype are needed): {e}") from None
        else:
            try:
                a = np.asarray(a)
            except (TypeError, ValueError) as e:
                raise TypeError(f"{fn}: {name} is not array-like: {e}") from None
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{fn}: {name} must hold real numbers (float32 is native), "
                        f"got dtype {a.dtype}")
    return np.ascontiguousarray(a, dtype=np.float32)


def check_rank(a, ndim, name, fn, layout):
    if a.ndim != ndim:
        raise ValueError(f"{fn}: expected {name} to be {ndim}-D {layout}, "
                         f"got shape {tuple(a.shape)}")


def as_int(v, name, fn):
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{fn}: {name} must be an int, got {v!r}")
    return operator.index(v)


def pair(v, name, fn, minimum=None):
    """int or pair of ints -> (a, b), each >= minimum when given."""
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"{fn}: {name} must be an int or a pair of ints, got {name}={v!r}")
        out = (as_int(v[0], name, fn), as_int(v[1], name, fn))
    else:
        out = (as_int(v, name, fn),) * 2
    if minimum is not None and min(out) < minimum:
        raise ValueError(f"{fn}: {name} must be >= {minimum}, got {name}={v!r}")
    return out


def same_padding(size, k, stride, dilation):
    """Keras/TensorFlow "same": output = ceil(size / stride); the odd pixel goes last."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (k - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def conv_padding(padding, hw, rs, stride, dilation, fn):
    """Normalizes int | (ph, pw) | ((top, bottom), (left, right)) | "same" | "valid"
    into (top, bottom, left, right)."""
    if isinstance(padding, str):
        mode = padding.lower()
        if mode == "valid":
            return (0, 0, 0, 0)
        if mode == "same":
            return (same_padding(hw[0], rs[0], stride[0], dilation[0])
                    + same_padding(hw[1], rs[1], stride[1], dilation[1]))
        raise ValueError(f"{fn}: padding must be an int, a pair, 'same' or 'valid', "
                         f"got padding={padding!r}")
    if (isinstance(padding, (tuple, list)) and len(padding) == 2
            and all(isinstance(p, (tuple, list)) for p in padding)):
        (t, b), (l, r) = (pair(padding[0], "padding", fn), pair(padding[1], "padding", fn))
        pads = (t, b, l, r)
    else:
        ph, pw = pair(padding, "padding", fn)
        pads = (ph, ph, pw, pw)
    if min(pads) < 0:
        raise ValueError(f"{fn}: padding must be >= 0, got padding={padding!r}")
    return pads


def conv_out_size(size, pad0, pad1, k, dilation, stride, axis, fn):
    eff = dilation * (k - 1) + 1
    padded = size + pad0 + pad1
    if eff > padded:
        raise ValueError(f"{fn}: the kernel's effective {axis} {eff} (dilation {dilation} x "
                         f"(size {k} - 1) + 1) exceeds the padded input {axis} {padded}")
    return (padded - eff) // stride + 1


def conv_geometry(fn, hw, rs, stride, padding, dilation):
    """Normalized (stride, dilation, pads, (OH, OW)) of a convolution-shaped op."""
    stride = pair(stride, "stride", fn, 1)
    dilation = pair(dilation, "dilation", fn, 1)
    pads = conv_padding(padding, hw, rs, stride, dilation, fn)
    t, b, l, r = pads
    OH = conv_out_size(hw[0], t, b, rs[0], dilation[0], stride[0], "height", fn)
    OW = conv_out_size(hw[1], l, r, rs[1], dilation[1], stride[1], "width", fn)
    return stride, dilation, pads, (OH, OW)


def bias_vector(bias, K, fn):
    """None, or bias as a float32 vector of exactly K elements."""
    if bias is None:
        return None
    bias = as_float32(bias, "bias", fn)
    if bias.shape != (K,):
        raise ValueError(f"{fn}: expected bias of shape ({K},), got {tuple(bias.shape)}")
    return bias


def gradient_buffers(x_shape, w_shape, nbias):
    """(grad_x, grad_weight, grad_bias) to be filled by C; with an empty batch there is
    nothing to run, and the weight and bias gradients are already their zeros."""
    gx = np.empty(x_shape, dtype=np.float32)
    empty = x_shape[0] == 0
    gw = (np.zeros if empty else np.empty)(w_shape, dtype=np.float32)
    gb = (np.zeros if empty else np.empty)((nbias,), dtype=np.float32)
    return gx, gw, gb


def check_elements(shape, name, fn):
    n = 1
    for s in shape:
        n *= int(s)
    if n > MAX_ELEMENTS:
        raise ValueError(f"{fn}: {name} of shape {tuple(shape)} would have {n} elements, "
                         f"more than fastconv can index ({MAX_ELEMENTS})")

"""Argument normalization and validation shared by every functional op.

Each helper takes the op's name (`fn`) and the argument's name so that the message
reads like `conv2d: stride must be >= 1, got stride=(0, 1)`.
"""
import numbers
import operator

import numpy as np

from fastconv import _C

# Largest element count fastconv allocates or indexes (int64 bytes, with headroom).
MAX_ELEMENTS = 2**62 // 8


def as_array(a, name, fn, ndim=None, layout=None):
    """`a` as an ndarray of real numbers, neither converted nor copied (a view of the
    caller's data wherever NumPy can make one), its rank checked when `ndim` is given.

    Ops take their inputs through this first, check every shape and allocate their
    outputs (empty()), and only then convert with to_float32: a broadcast or strided
    input whose output cannot exist fails at once instead of after a copy of
    terabytes. Accepts ndarrays, __dlpack__ objects (PyTorch tensors, JAX arrays), the
    buffer protocol and __array__ objects.

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
    if ndim is not None:
        check_rank(a, ndim, name, fn, layout)
    return a


def _bytes(n):
    """'1125899906842624 bytes (1 PiB)'."""
    v, unit = float(n), None
    for u in ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if v < 1024:
            break
        v, unit = v / 1024, u
    return f"{n} bytes" if unit is None else f"{n} bytes ({v:.4g} {unit})"


def to_float32(a, name, fn):
    """C-contiguous float32 data of an as_array() result, of the same shape: `a` itself
    when it already is (zero-copy; the input is never modified), else a copy. A copy
    that cannot be allocated is a MemoryError naming the argument and the size."""
    if a.dtype == np.float32 and a.flags.c_contiguous:
        return a
    try:
        return np.asarray(a, dtype=np.float32, order="C")   # keeps a 0-d array 0-d
    except MemoryError:
        raise MemoryError(f"{fn}: converting {name} of shape {tuple(a.shape)} ({a.dtype}) "
                          f"to C-contiguous float32 needs {_bytes(a.size * 4)}, which could "
                          f"not be allocated") from None


def to_float32s(fn, **arrays):
    """to_float32 of each keyword argument, in order: [x, weight, ...]."""
    return [to_float32(a, name, fn) for name, a in arrays.items()]


def as_float32(a, name, fn):
    """C-contiguous float32 view of `a` (a copy only when needed; the input is never
    modified): as_array() then to_float32(). Data that is already C-contiguous float32
    in CPU memory is read in place, whatever object holds it (zero-copy). The package's
    one input normaliser outside the ops (fastconv.nn layers, Parameter and losses,
    fastconv.data). The ops take the two steps, with the shape checks between them,
    so that a large input is never copied for a call that cannot run."""
    return to_float32(as_array(a, name, fn), name, fn)


def empty(shape, name, fn, dtype=np.float32, zeros=False):
    """A new array of `shape` for the op's result `name`: ValueError when it has more
    elements than fastconv indexes, MemoryError naming the size when it cannot be
    allocated. Large ones reuse the memory of freed results (fastconv.runtime, array
    cache), so that a training loop does not map fresh pages every step."""
    shape = tuple(int(s) for s in shape)
    check_elements(shape, name, fn)
    try:
        return _C.cached_empty(shape, dtype, zeros)
    except MemoryError:
        n = np.dtype(dtype).itemsize
        for s in shape:
            n *= s
        raise MemoryError(f"{fn}: the {name} of shape {shape} needs {_bytes(n)}, which "
                          f"could not be allocated") from None


def is_fresh(a):
    """Whether `a` holds its memory alone: a NumPy array that owns its data, or an op's
    result from the array cache (whose base is the cache block, not another array)."""
    return a.base is None or type(a.base) is _C._CachedBlock


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
    """None, or bias as a float32 vector of exactly K elements (checked before any
    conversion)."""
    if bias is None:
        return None
    bias = as_array(bias, "bias", fn)
    if bias.shape != (K,):
        raise ValueError(f"{fn}: expected bias of shape ({K},), got {tuple(bias.shape)}")
    return to_float32(bias, "bias", fn)


def check_grad_out(grad_out, out_shape, fn, op):
    """ValueError unless grad_out (an as_array() result) has the shape `op`'s forward
    gives: out_shape."""
    out_shape = tuple(out_shape)
    if grad_out.shape != out_shape:
        raise ValueError(f"{fn}: expected grad_out of shape {out_shape} (the {op} output "
                         f"shape), got {tuple(grad_out.shape)}")
    return grad_out


def weighted_forward(fn, x, weight, bias, n_bias, out_shape, kernel):
    """y of a forward op with a weight and an optional bias, in the sizes-before-copy
    order: bias checked, the output allocated, and only when there is work x and
    weight (as_array() results) converted to float32 and kernel(x, weight, bias, y)
    run."""
    bias = bias_vector(bias, n_bias, fn)
    y = empty(out_shape, "output", fn)
    if y.size == 0:
        return y
    x, weight = to_float32s(fn, x=x, weight=weight)
    kernel(x, weight, bias, y)
    return y


def flag(v, name, fn):
    """A checked bool argument (a NumPy bool too)."""
    if not isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{fn}: {name} must be a bool, got {name}={v!r}")
    return bool(v)


def grad_flags(input_grad, weight_grad, fn):
    """The checked (input_grad, weight_grad) switches of a backward op."""
    return flag(input_grad, "input_grad", fn), flag(weight_grad, "weight_grad", fn)


def gradient_buffers(x_shape, w_shape, nbias, fn, input_grad=True, weight_grad=True):
    """(grad_x, grad_weight, grad_bias) to be filled by C, None where not wanted; with
    an empty batch there is nothing to run, and the weight and bias gradients are
    already their zeros."""
    zeros = x_shape[0] == 0
    gx = empty(x_shape, "grad_x", fn) if input_grad else None
    gw = empty(w_shape, "grad_weight", fn, zeros=zeros) if weight_grad else None
    gb = empty((nbias,), "grad_bias", fn, zeros=zeros) if weight_grad else None
    return gx, gw, gb


def check_elements(shape, name, fn):
    n = 1
    for s in shape:
        n *= int(s)
    if n > MAX_ELEMENTS:
        raise ValueError(f"{fn}: {name} of shape {tuple(shape)} would have {n} elements, "
                         f"more than fastconv can index ({MAX_ELEMENTS})")

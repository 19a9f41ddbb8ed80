"""Automatic mixed precision: `with fastconv.amp.autocast("bfloat16"):` (or "float16").

torch.autocast("cpu", dtype=torch.bfloat16)'s semantics, as far as they apply to a
library whose arrays are NumPy's:

- Inside the context, the layers torch autocasts (fastconv.nn Conv2d, ConvTranspose2d,
  DepthwiseConv2d, Linear) round their input, weight and bias to the 16-bit dtype, run
  the product, and round its output to the 16-bit dtype. The product itself runs on
  fastconv's float32 kernels: every 16-bit value is a float32, so the result is that of a
  16-bit product accumulated in float32 (what torch's bf16 CPU kernels and AVX512_BF16's
  vdpbf16ps compute). Their outputs are float32 ARRAYS holding 16-bit values (where torch
  returns bf16 tensors): every other layer keeps taking float32, and the values are the
  ones torch's bf16 tensors would hold.
- The backward of those layers rounds the incoming gradient and the input and weight
  gradients to the 16-bit dtype, as torch's bf16 backward does; the weight gradient is
  accumulated into the float32 parameter.
- Activations saved for backward (every layer's cache of arrays of two or more
  dimensions) are stored in the 16-bit dtype and restored to float32 when backward takes
  them: half the activation memory. An array two layers save one after the other (a
  ReLU's output, then the next convolution's input) is stored once.
- Parameters, gradients and optimizer state stay float32 (master weights). BatchNorm runs
  in float32 and its statistics stay float32; losses (which keep no 16-bit cache) stay
  float32. A backward may run inside or outside the context.

The state is per thread, as torch's. Contexts nest; `autocast(enabled=False)` turns it
off inside an enabled one.
"""
import threading
import weakref

import numpy as np

from fastconv.functional import _args, lowp

__all__ = ["autocast", "get_autocast_dtype", "is_autocast_enabled"]

_state = threading.local()


def _dtype():
    return getattr(_state, "dtype", None)


def get_autocast_dtype():
    """The 16-bit numpy dtype autocast uses on this thread, None when it is off."""
    return _dtype()


def is_autocast_enabled():
    return _dtype() is not None


class autocast:
    """Context manager (and decorator) turning mixed precision on for this thread.

    dtype: "bfloat16" (default; needs ml_dtypes) or "float16". enabled=False runs the
    block in float32 even inside an enabled autocast."""

    def __init__(self, dtype="bfloat16", enabled=True):
        if not isinstance(enabled, (bool, np.bool_)):
            raise TypeError(f"autocast: enabled must be a bool, got enabled={enabled!r}")
        self.dtype = lowp.dtype_of(dtype)
        self.enabled = bool(enabled)
        self._prev = []

    def __enter__(self):
        self._prev.append(_dtype())
        _state.dtype = self.dtype if self.enabled else None
        return self

    def __exit__(self, *exc):
        _state.dtype = self._prev.pop()
        return False

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def run(*args, **kwargs):
            with autocast(self.dtype, self.enabled):
                return fn(*args, **kwargs)
        return run


# ---------------------------------------------------------------- layer hooks

def _round(a, dtype):
    if a is None or not isinstance(a, np.ndarray) or a.dtype != np.float32 or a.size == 0:
        return a
    return lowp.round_to(a, dtype)


def _round_own(a, dtype):
    """_round of an array nobody else holds (an op's fresh result): in place, so that no
    second float32 copy is allocated."""
    if (a is None or not isinstance(a, np.ndarray) or a.dtype != np.float32 or a.size == 0
            or not (a.flags.c_contiguous and a.flags.writeable and _args.is_fresh(a))):
        return _round(a, dtype)
    return lowp.round_to(a, dtype, out=a)


def cast(*arrays):
    """Under autocast: each float32 array rounded through the 16-bit dtype (float32
    arrays holding 16-bit values; None passes). Off: the arguments unchanged. One array
    in, one out; several in, a tuple out."""
    return _cast(_dtype(), arrays)


def cast_taken(*arrays):
    """cast() for a backward: through the dtype the layer's cache was saved in (the last
    cache taken on this thread), whether or not autocast is on now."""
    return _cast(getattr(_state, "taken", None), arrays)


def _cast(d, arrays):
    if d is not None:
        arrays = tuple(_round(a, d) for a in arrays)
    return arrays[0] if len(arrays) == 1 else arrays


def forward(op, x, weight, bias, **kw):
    """A convolution or linear layer's product, op(x, weight, bias, **kw): under
    autocast with x, weight and bias rounded to the 16-bit dtype and the output rounded."""
    d = _dtype()
    if d is None:
        return op(x, weight, bias, **kw)
    return _round_own(op(_round(x, d), _round(weight, d), _round(bias, d), **kw), d)


def backward(op_backward, grad_out, x, weight, **kw):
    """The matching backward (x from the taken cache): the incoming gradient, the weight
    and the gradients it returns rounded when the forward ran under autocast."""
    d = getattr(_state, "taken", None)
    if d is None:
        return op_backward(grad_out, x, weight, **kw)
    input_grad, weight_grad = kw.pop("input_grad", True), kw.pop("weight_grad", True)
    g = _round(np.asarray(grad_out, np.float32), d)
    gx = gw = gb = None
    # Two passes: the rounded weight copy (only the input gradient reads the weight) is
    # freed before the weight gradient is allocated, so the step's peak does not grow.
    if input_grad:
        gx = op_backward(g, x, _round(weight, d), input_grad=True, weight_grad=False, **kw)[0]
    if weight_grad or not input_grad:
        _, gw, gb = op_backward(g, x, weight, input_grad=False, weight_grad=weight_grad,
                                **kw)
    return tuple(_round_own(v, d) for v in (gx, gw, gb))


def linear(x, weight, bias):
    """y = x weight^T + bias (Linear's product; weight.T is a view, no copy)."""
    from fastconv.functional.gemm import matmul
    y = matmul(x, weight.T)
    if bias is not None:
        y += bias
    return y


class _Saved(tuple):
    """A layer's cache whose activations are stored in a 16-bit dtype."""
    __slots__ = ()


def _saved_field(a):
    return isinstance(a, np.ndarray) and a.dtype == np.float32 and a.ndim >= 2 and a.size


def pack(cache):
    """Module._keep's hook: under autocast, the cache's float32 activations (ndarrays of
    ndim >= 2) stored in the 16-bit dtype. Off, or nothing to store: the cache itself."""
    d = _dtype()
    if d is None or not isinstance(cache, tuple) or not any(_saved_field(v) for v in cache):
        return cache
    fields = []
    for v in cache:
        fields.append(_Half(_store(v, d)) if _saved_field(v) else v)
    return _Saved((type(cache), tuple(fields), d))


# Saves of the same array by several layers (a ReLU's output and the next convolution's
# input; a block's input and its downsampling shortcut) share one 16-bit copy: the
# recent saves, weakly referenced on both sides so that the memo keeps nothing alive.
_RECENT = 16


def _store(v, d):
    """The 16-bit copy of v to cache: a recent copy of the same array when it holds the
    same bits (compared, never assumed: v may have been written in place since)."""
    h = lowp.from_float32(v, d)
    recent = getattr(_state, "recent", None)
    if recent is None:
        recent = _state.recent = []
    for ref, href in recent:
        old = href()
        if (ref() is v and old is not None and old.dtype == d and old.shape == h.shape
                and np.array_equal(old.view(np.uint16), h.view(np.uint16))):
            return old
    recent.append((weakref.ref(v), weakref.ref(h)))
    del recent[:-_RECENT]
    return h


class _Half:
    __slots__ = ("a",)

    def __init__(self, a):
        self.a = a


def unpack(cache):
    """Module._take's hook: a packed cache with its activations back in float32."""
    if type(cache) is not _Saved:
        _state.taken = None
        return cache
    kind, fields, d = cache
    _state.taken = d
    vals = [lowp.to_float32(v.a) if isinstance(v, _Half) else v for v in fields]
    out = kind(*vals) if hasattr(kind, "_fields") else kind(vals)
    return out

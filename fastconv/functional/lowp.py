"""16-bit floats at the edge of the ops: bfloat16 (ml_dtypes.bfloat16) and IEEE float16
(numpy.float16) arrays in, the same dtype out, float32 arithmetic in between.

`accepts_16bit(op)` wraps a functional op once (fastconv/functional/__init__.py applies
it to every exported op): when any floating-point array argument is 16-bit, every one
must be of that same dtype (a float32 or float64 array beside it is a TypeError naming
both), each is converted to float32 in C (exactly: every 16-bit value is a float32), the
float32 op runs, and each float32 array it returns is rounded once to the 16-bit dtype
(round to nearest even, in C). Arrays the op updates in place (`out`, `running_mean`,
`running_var`) are converted back into the caller's 16-bit array. Calls without a 16-bit
array go straight to the op.

ml_dtypes is optional: without it float16 still works, and bfloat16 arrays cannot exist.
It is imported only when asked for by name (`dtype_of("bfloat16")`, `BFLOAT16`): its
import takes about a second (most of `import fastconv` with it), and a bfloat16 array
passed in means its caller imported it already.
"""
import functools
import inspect
import sys

import numpy as np

from fastconv import _C

FLOAT16 = np.dtype(np.float16)

# Arguments some ops write in place: a 16-bit one receives the float32 result, rounded.
INPLACE = ("out", "running_mean", "running_var")

__all__ = ["accepts_16bit", "dtype_of", "kind_of", "to_float32", "from_float32", "round_to",
           "BFLOAT16", "FLOAT16"]


def _bfloat16(load):
    """ml_dtypes' bfloat16 dtype; None without ml_dtypes, or (load False) before anything
    imported it."""
    m = sys.modules.get("ml_dtypes")
    if m is None and load:
        try:
            import ml_dtypes as m
        except ImportError:  # pragma: no cover - exercised only without the extra
            return None
    return None if m is None else np.dtype(m.bfloat16)


def __getattr__(name):
    if name == "BFLOAT16":       # lazily: see the module docstring
        return _bfloat16(True)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def kind_of(dtype):
    """The C conversion's name for a 16-bit floating dtype ("float16", "bfloat16"), or
    None for any other dtype."""
    if dtype.itemsize != 2:
        return None
    if dtype == FLOAT16:
        return "float16"
    bf = _bfloat16(False)
    return "bfloat16" if bf is not None and dtype == bf else None


def dtype_of(name):
    """The numpy dtype for 'bfloat16' / 'float16' (or a dtype / type of either)."""
    if isinstance(name, str):
        if name in ("bfloat16", "bf16"):
            bf = _bfloat16(True)
            if bf is None:
                raise ImportError("bfloat16 needs the ml_dtypes package "
                                  "(pip install 'fastconv[bf16]')")
            return bf
        if name in ("float16", "half", "f16"):
            return FLOAT16
        raise ValueError(f"dtype must be 'bfloat16' or 'float16', got {name!r}")
    try:
        d = np.dtype(name)
    except TypeError:
        raise TypeError(f"dtype must be 'bfloat16' or 'float16', got {name!r}") from None
    if kind_of(d) is None:
        raise ValueError(f"dtype must be bfloat16 or float16, got {d}")
    return d


def is_16bit(a):
    return isinstance(a, np.ndarray) and kind_of(a.dtype) is not None


def to_float32(a, out=None):
    """The float32 values of a 16-bit array (exact): a new C-contiguous array, or `out`
    (C-contiguous float32 of a's shape)."""
    a = np.ascontiguousarray(a)
    y = np.empty(a.shape, np.float32) if out is None else out
    _C.convert_from_16(kind_of(a.dtype), a.view(np.uint16), y)
    return y


def from_float32(a, dtype, out=None):
    """`a` rounded to the 16-bit dtype (nearest even; NaN stays NaN; overflow to inf)."""
    dtype = dtype_of(dtype)
    a = np.ascontiguousarray(a, dtype=np.float32)
    direct = (out is not None and out.dtype == dtype and out.flags.c_contiguous
              and out.shape == a.shape)
    y = out if direct else np.empty(a.shape, dtype)
    _C.convert_to_16(kind_of(dtype), a, y.view(np.uint16))
    if out is not None and not direct:
        out[...] = y
        return out
    return y


# Elements per step of round_to: its 16-bit intermediate stays this small.
_ROUND_CHUNK = 1 << 18


def round_to(a, dtype, out=None):
    """float32 `a` rounded through the 16-bit dtype, as float32: a new array, or `out`
    (C-contiguous float32 of a's shape; it may be `a` itself, rounding in place). Done
    in chunks, so that the only other memory is a 16-bit chunk."""
    dtype = dtype_of(dtype)
    a = np.ascontiguousarray(a, dtype=np.float32)
    y = np.empty(a.shape, np.float32) if out is None else out
    src, dst = a.reshape(-1), y.reshape(-1)
    h = np.empty(min(src.size, _ROUND_CHUNK), dtype)
    kind = kind_of(dtype)
    for i in range(0, src.size, _ROUND_CHUNK):
        n = min(_ROUND_CHUNK, src.size - i)
        _C.convert_to_16(kind, src[i:i + n], h[:n].view(np.uint16))
        _C.convert_from_16(kind, h[:n].view(np.uint16), dst[i:i + n])
    return y


def _floating(a):
    return isinstance(a, np.ndarray) and (a.dtype.kind == "f" or kind_of(a.dtype) is not None)


def _round_result(r, dtype, back):
    """Each float32 array of a result (or of a tuple of them, one level) rounded to dtype;
    the float32 stand-ins of in-place arguments map back to the caller's arrays."""
    if isinstance(r, np.ndarray):
        if id(r) in back:
            return back[id(r)]
        if r.dtype == np.float32:
            return from_float32(r, dtype)
        return r
    if isinstance(r, tuple):
        items = [_round_result(v, dtype, back) if isinstance(v, np.ndarray) else v for v in r]
        return type(r)(*items) if hasattr(r, "_fields") else tuple(items)
    return r


def accepts_16bit(op):
    """op, also taking bfloat16 / float16 arrays (see the module docstring)."""
    sig = inspect.signature(op)
    name = op.__name__

    @functools.wraps(op)
    def wrapper(*args, **kwargs):
        if not any(is_16bit(a) for a in args) and not any(is_16bit(v)
                                                           for v in kwargs.values()):
            return op(*args, **kwargs)
        bound = sig.bind(*args, **kwargs)
        floats = [(k, v) for k, v in bound.arguments.items() if _floating(v)]
        dtype = next(v.dtype for _, v in floats if kind_of(v.dtype) is not None)
        lowp = [(k, v) for k, v in floats if v.dtype == dtype]
        others = [(k, v) for k, v in floats if v.dtype != dtype]
        if others:
            k16 = ", ".join(k for k, _ in lowp)
            kx = ", ".join(f"{k} ({v.dtype})" for k, v in others)
            raise TypeError(f"{name}: {k16} {'is' if len(lowp) == 1 else 'are'} {dtype} but "
                            f"{kx} {'is' if len(others) == 1 else 'are'} not: pass every "
                            f"floating-point array in one dtype (16-bit ops compute in "
                            f"float32 and return the 16-bit dtype)")
        back, writeback = {}, []
        for k, v in lowp:
            f = to_float32(v)
            bound.arguments[k] = f
            if k in INPLACE:
                if not v.flags.writeable:
                    raise ValueError(f"{name}: {k} is read-only")
                back[id(f)] = v
                writeback.append((f, v))
        r = op(*bound.args, **bound.kwargs)
        for f, v in writeback:
            from_float32(f, dtype, out=v)
        return _round_result(r, dtype, back)

    wrapper.__wrapped_16bit__ = True
    return wrapper

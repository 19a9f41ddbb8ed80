"""Matrix product on the packed SGEMM (fc_sgemm)."""
import numpy as np

from fastconv import _C
from fastconv.functional import _args


def _operand(a, name, fn):
    """`a` as a 2-D array, not yet converted (see _args.as_array)."""
    a = _args.as_array(a, name, fn)
    if a.ndim != 2:
        raise ValueError(f"{fn}: expected {name} to be 2-D, got shape {tuple(a.shape)}")
    return a


def _float32(a, name, fn):
    """(C-contiguous float32 array, transposed?) for a 2-D operand: a transposed view of
    a C-contiguous float32 array (F-contiguous) is passed as is, with the trans flag."""
    if a.dtype == np.float32 and not a.flags.c_contiguous and a.flags.f_contiguous:
        return a.T, True
    return _args.to_float32(a, name, fn), False


def matmul(a, b):
    """a (M, K) @ b (K, N) -> float32 (M, N), computed in float32.

    Operands of other real dtypes are converted (after the shapes are checked); a
    transposed view (such as W.T of a C-contiguous W) is read in place, without a copy."""
    fn = "matmul"
    a = _operand(a, "a", fn)
    b = _operand(b, "b", fn)
    (M, K), (K2, N) = a.shape, b.shape
    if K != K2:
        raise ValueError(f"{fn}: inner dimensions differ: a has shape ({M}, {K}) and b has "
                         f"shape ({K2}, {N}); expected b of shape ({K}, N)")
    for shape, name in (((M, K), "a"), ((K, N), "b")):
        _args.check_elements(shape, name, fn)
    out = _args.empty((M, N), "output", fn)
    if out.size == 0:
        return out
    if K == 0:
        out.fill(0.0)
        return out
    a_c, ta = _float32(a, "a", fn)
    b_c, tb = _float32(b, "b", fn)
    _C.sgemm(ta, tb, M, N, K, 1.0, a_c, a_c.shape[1], b_c, b_c.shape[1], 0.0, out, N)
    return out

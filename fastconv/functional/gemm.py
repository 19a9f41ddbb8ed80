"""Matrix product on the packed SGEMM (fc_sgemm)."""
import numpy as np

from fastconv import _C
from fastconv.functional import _args


def _operand(a, name, fn):
    """(C-contiguous float32 array, transposed?) for a 2-D operand: a transposed view of
    a C-contiguous float32 array (F-contiguous) is passed as is, with the trans flag."""
    if not isinstance(a, np.ndarray):
        a = _args.as_float32(a, name, fn)
    if a.ndim != 2:
        raise ValueError(f"{fn}: expected {name} to be 2-D, got shape {tuple(a.shape)}")
    if a.dtype == np.float32 and not a.flags.c_contiguous and a.flags.f_contiguous:
        return a.T, True
    return _args.as_float32(a, name, fn), False


def matmul(a, b):
    """a (M, K) @ b (K, N) -> float32 (M, N), computed in float32.

    Operands of other real dtypes are converted; a transposed view (such as W.T of a
    C-contiguous W) is read in place, without a copy."""
    fn = "matmul"
    a_c, ta = _operand(a, "a", fn)
    b_c, tb = _operand(b, "b", fn)
    M, K = a_c.shape[::-1] if ta else a_c.shape
    K2, N = b_c.shape[::-1] if tb else b_c.shape
    if K != K2:
        raise ValueError(f"{fn}: inner dimensions differ: a has shape ({M}, {K}) and b has "
                         f"shape ({K2}, {N}); expected b of shape ({K}, N)")
    for shape, name in (((M, K), "a"), ((K, N), "b"), ((M, N), "output")):
        _args.check_elements(shape, name, fn)
    out = np.empty((M, N), dtype=np.float32)
    if out.size == 0:
        return out
    if K == 0:
        out.fill(0.0)
        return out
    _C.sgemm(ta, tb, M, N, K, 1.0, a_c, a_c.shape[1], b_c, b_c.shape[1], 0.0, out, N)
    return out

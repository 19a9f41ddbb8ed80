"""Property tests (hypothesis) for matmul over shapes, transposed views, tiny and huge
magnitudes and NaN/Inf, against float64."""
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import fastconv
from property_helpers import SCALES, SETTINGS
from reference import assert_close


@SETTINGS
@given(st.integers(1, 70), st.integers(1, 70), st.integers(1, 90), st.booleans(), st.booleans(),
       SCALES, st.sampled_from([None, np.nan, np.inf]), st.integers(0, 2**31 - 1))
def test_matmul_matches_reference(M, N, K, ta, tb, scale, special, seed):
    rng = np.random.default_rng(seed)
    a = (rng.standard_normal((K, M) if ta else (M, K)) * scale).astype(np.float32)
    b = rng.standard_normal((N, K) if tb else (K, N)).astype(np.float32)
    if special is not None:
        a.flat[rng.integers(a.size)] = special
    av, bv = (a.T if ta else a), (b.T if tb else b)
    c = fastconv.matmul(av, bv)
    a64, b64 = av.astype(np.float64), bv.astype(np.float64)
    with np.errstate(invalid="ignore"):
        ref, absref = a64 @ b64, np.abs(a64) @ np.abs(b64)
    if special is None:
        assert_close(c, ref, absref, K)
    else:  # the row holding the special value is non-finite (or NaN), the rest exact-ish
        row = np.isfinite(a64).all(axis=1)
        assert not np.isfinite(c[~row]).any()
        assert_close(c[row], ref[row], absref[row], K)

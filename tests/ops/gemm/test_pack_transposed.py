"""The GEMM's transposing packs (registry gemm.pack_transposed: 16x16 blocks on avx512,
8x8 on avx2, the scalar loop on portable) through fc_sgemm with op(A) = A^T (MR-wide
panels) and op(B) = B^T (NR-wide panels): small integers make every product exact, so
the result must equal NumPy's bit for bit, and a misplaced element shows. Ragged K
(a last k block of 1-15 floats: masked loads), rows wider than K (lda, ldb > K) and
shapes past the unpacked small-product paths."""
import numpy as np
import pytest

from fastconv import _C

SHAPES = [(24, 64, 17), (40, 96, 33), (72, 100, 300), (16, 32, 1), (64, 48, 255),
          (130, 70, 515), (96, 363, 202), (17, 40, 31)]


def _ints(rng, shape):
    return rng.integers(-3, 4, size=shape).astype(np.float32)


@pytest.mark.parametrize("ta,tb", [(1, 0), (0, 1), (1, 1)])
@pytest.mark.parametrize("M,N,K", SHAPES)
@pytest.mark.parametrize("pad", [0, 5])
def test_transposed_operands_exact(isa, ta, tb, M, N, K, pad, rng):
    # stored transposed with `pad` extra floats per row: lda/ldb past the panel width
    a = _ints(rng, (K, M + pad) if ta else (M, K + pad))
    b = _ints(rng, (N, K + pad) if tb else (K, N + pad))
    av = a[:, :M].T if ta else a[:, :K]
    bv = b[:, :K].T if tb else b[:, :N]
    c = np.full((M, N), np.nan, np.float32)
    _C.sgemm(ta, tb, M, N, K, 1.0, a, a.shape[1], b, b.shape[1], 0.0, c, N)
    ref = av.astype(np.float64) @ bv.astype(np.float64)
    np.testing.assert_array_equal(c, ref.astype(np.float32))

"""fastconv.matmul and fc_sgemm against a float64 NumPy reference, every ISA path."""
import numpy as np
import pytest

import fastconv
from fastconv import _C
from reference import assert_close

SHAPES = [(1, 1, 1), (1, 37, 5), (29, 1, 7), (13, 17, 1), (3, 5, 7), (8, 32, 16),
          (33, 65, 129), (97, 31, 300), (130, 70, 515), (7, 300, 9), (300, 7, 260)]


def _ref(a, b):
    a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return a64 @ b64, np.abs(a64) @ np.abs(b64)


@pytest.mark.parametrize("M,N,K", SHAPES)
def test_matmul_matches_float64(isa, M, N, K, rng):
    a = rng.standard_normal((M, K)).astype(np.float32)
    b = rng.standard_normal((K, N)).astype(np.float32)
    c = fastconv.matmul(a, b)
    assert c.dtype == np.float32 and c.shape == (M, N)
    ref, absref = _ref(a, b)
    assert_close(c, ref, absref, K)


@pytest.mark.parametrize("ta,tb", [(0, 1), (1, 0), (1, 1)])
@pytest.mark.parametrize("M,N,K", [(1, 9, 4), (17, 33, 65), (70, 130, 300), (5, 1, 3)])
def test_matmul_transposed_views(isa, ta, tb, M, N, K, rng):
    a = rng.standard_normal((K, M) if ta else (M, K)).astype(np.float32)
    b = rng.standard_normal((N, K) if tb else (K, N)).astype(np.float32)
    av, bv = (a.T if ta else a), (b.T if tb else b)
    c = fastconv.matmul(av, bv)
    ref, absref = _ref(av, bv)
    assert_close(c, ref, absref, K)


def test_matmul_transposed_view_is_not_copied(monkeypatch, rng):
    w = rng.standard_normal((6, 4)).astype(np.float32)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    seen = {}

    def spy(ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc):
        seen.update(ta=ta, tb=tb, b_is_w=np.shares_memory(b, w))
        return _C.sgemm(ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc)

    monkeypatch.setattr("fastconv.functional.gemm._C", type("C", (), {"sgemm": staticmethod(spy)}))
    y = fastconv.matmul(x, w.T)
    assert seen == dict(ta=False, tb=True, b_is_w=True)
    np.testing.assert_allclose(y, x.astype(np.float64) @ w.T.astype(np.float64), rtol=1e-5, atol=1e-5)


def test_matmul_other_dtypes_and_non_contiguous(rng):
    a = rng.standard_normal((7, 9))
    b = rng.standard_normal((18, 5))[::2]
    c = fastconv.matmul(a, b)
    ref, absref = _ref(a.astype(np.float32), b.astype(np.float32))
    assert c.dtype == np.float32
    assert_close(c, ref, absref, 9)
    assert fastconv.matmul([[1, 2]], [[3], [4]]).tolist() == [[11.0]]


def test_matmul_empty_dims():
    assert fastconv.matmul(np.ones((0, 3), np.float32), np.ones((3, 4), np.float32)).shape == (0, 4)
    z = fastconv.matmul(np.ones((2, 0), np.float32), np.ones((0, 3), np.float32))
    assert z.shape == (2, 3) and (z == 0).all()


@pytest.mark.parametrize("a,b,match", [
    (np.ones(3), np.ones((3, 2)), r"a to be 2-D, got shape \(3,\)"),
    (np.ones((2, 3)), np.ones((1, 3, 2)), r"b to be 2-D, got shape \(1, 3, 2\)"),
    (np.ones((2, 3)), np.ones((4, 2)), r"a has shape \(2, 3\) and b has shape \(4, 2\)"),
])
def test_matmul_bad_shapes(a, b, match):
    with pytest.raises(ValueError, match=match):
        fastconv.matmul(a, b)


def test_matmul_bad_dtype():
    with pytest.raises(TypeError, match="a must hold real numbers"):
        fastconv.matmul(np.ones((2, 2), complex), np.ones((2, 2)))


def test_matmul_matches_torch(rng):
    torch = pytest.importorskip("torch")
    a = rng.standard_normal((45, 77)).astype(np.float32)
    b = rng.standard_normal((77, 38)).astype(np.float32)
    np.testing.assert_allclose(fastconv.matmul(a, b), (torch.from_numpy(a) @ torch.from_numpy(b)).numpy(),
                               rtol=1e-4, atol=1e-4)


# ------------------------------------------------- fc_sgemm itself (_C.sgemm)

@pytest.mark.parametrize("ta", [0, 1])
@pytest.mark.parametrize("tb", [0, 1])
@pytest.mark.parametrize("M,N,K,alpha,beta", [
    (5, 7, 3, 1.0, 0.0), (37, 45, 300, -0.5, 2.0), (70, 5, 33, 1.5, 0.5), (90, 49, 20, 1.0, 1.0), (9, 70, 17, 2.0, 1.0), (64, 33, 260, 1.5, -1.0),
])
def test_sgemm_leading_dims_alpha_beta(isa, ta, tb, M, N, K, alpha, beta, rng):
    pad = 3
    ar, ac = (K, M) if ta else (M, K)
    br, bc = (N, K) if tb else (K, N)
    lda, ldb, ldc = ac + pad, bc + pad + 1, N + pad + 2
    A = rng.standard_normal((ar, lda)).astype(np.float32)
    B = rng.standard_normal((br, ldb)).astype(np.float32)
    C = rng.standard_normal((M, ldc)).astype(np.float32)
    C0 = C.copy()
    _C.sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)
    opa = A[:, :ac].astype(np.float64)
    opb = B[:, :bc].astype(np.float64)
    opa, opb = (opa.T if ta else opa), (opb.T if tb else opb)
    ref = alpha * (opa @ opb) + beta * C0[:, :N].astype(np.float64)
    absref = abs(alpha) * (np.abs(opa) @ np.abs(opb)) + abs(beta) * np.abs(C0[:, :N])
    assert_close(C[:, :N], ref, absref, K + 1)
    # the padding columns of C are untouched
    np.testing.assert_array_equal(C[:, N:], C0[:, N:])


@pytest.mark.parametrize("M,N,K", [(3, 5, 2), (40, 70, 300), (17, 1, 9)])
def test_sgemm_beta_zero_never_reads_c(isa, M, N, K, rng):
    A = rng.standard_normal((M, K)).astype(np.float32)
    B = rng.standard_normal((K, N)).astype(np.float32)
    C = np.full((M, N), np.nan, np.float32)
    _C.sgemm(0, 0, M, N, K, 1.0, A, K, B, N, 0.0, C, N)
    assert np.isfinite(C).all()
    ref, absref = _ref(A, B)
    assert_close(C, ref, absref, K)


def test_sgemm_alpha_zero_scales_c(rng):
    A = np.full((4, 3), np.nan, np.float32)
    B = np.full((3, 5), np.nan, np.float32)
    C = rng.standard_normal((4, 5)).astype(np.float32)
    C0 = C.copy()
    _C.sgemm(0, 0, 4, 5, 3, 0.0, A, 3, B, 5, 0.5, C, 5)
    np.testing.assert_array_equal(C, C0 * np.float32(0.5))


def test_sgemm_nan_in_a_propagates():
    A = np.ones((2, 3), np.float32)
    A[1, 2] = np.nan
    C = np.zeros((2, 4), np.float32)
    _C.sgemm(0, 0, 2, 4, 3, 1.0, A, 3, np.ones((3, 4), np.float32), 4, 0.0, C, 4)
    assert np.isfinite(C[0]).all() and np.isnan(C[1]).all()


def test_sgemm_threads_give_same_answer(rng):
    A = rng.standard_normal((150, 200)).astype(np.float32)
    B = rng.standard_normal((200, 170)).astype(np.float32)
    before = fastconv.get_num_threads()
    try:
        outs = []
        for t in (1, 2, 3):
            fastconv.set_num_threads(t)
            outs.append(fastconv.matmul(A, B))
    finally:
        fastconv.set_num_threads(before)
    np.testing.assert_array_equal(outs[0], outs[1])
    np.testing.assert_array_equal(outs[0], outs[2])


@pytest.mark.parametrize("args,match", [
    ((0, 0, 2, 2, 2, 1.0, np.ones(4, np.float32), 1, np.ones(4, np.float32), 2, 0.0,
      np.ones(4, np.float32), 2), "needs ld >= 2"),
    ((0, 0, 2, 2, 2, 1.0, np.ones(3, np.float32), 2, np.ones(4, np.float32), 2, 0.0,
      np.ones(4, np.float32), 2), "needs 4 elements, got 3"),
])
def test_sgemm_bad_leading_dims(args, match):
    with pytest.raises(ValueError, match=match):
        _C.sgemm(*args)

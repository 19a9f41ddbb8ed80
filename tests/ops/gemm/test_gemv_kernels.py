"""The unpacked small-product kernels (gemm/gemv.c: dot, bcast, tile, axpy) against a
float64 reference, on every ISA and on 1 and 2 threads, over random shapes around their
thresholds: M = 1..33 (dot up to 4 rows, bcast up to 32 in chunks of up to 4 vectors,
tile up to 32 rows and at any M for K <= 4, axpy for one row), odd N and K crossing
vector widths, strips, thread splits and K blocks, all four transposes, alpha/beta
(beta = 0 with C full of NaN: C must not be read) and leading dimensions past the
width (the padding must stay untouched)."""
import numpy as np
import pytest

from fastconv import _C
from reference import assert_close


@pytest.fixture(params=[1, 2])
def threads(request):
    import fastconv
    before = fastconv.get_num_threads()
    fastconv.set_num_threads(request.param)
    yield request.param
    fastconv.set_num_threads(before)


def _case(rng, M, N, K, ta, tb, alpha, beta, pad):
    """One fc_sgemm call on padded buffers, checked against float64."""
    a = rng.standard_normal((K, M + pad) if ta else (M, K + pad)).astype(np.float32)
    b = rng.standard_normal((N, K + pad) if tb else (K, N + pad)).astype(np.float32)
    av = a[:, :M].T if ta else a[:, :K]
    bv = b[:, :K].T if tb else b[:, :N]
    a64, b64 = av.astype(np.float64), bv.astype(np.float64)
    c0 = rng.standard_normal((M, N + pad)).astype(np.float32)
    if beta == 0.0:
        c0[:, :N] = np.nan
    c = c0.copy()
    _C.sgemm(bool(ta), bool(tb), M, N, K, alpha, a, a.shape[1], b, b.shape[1], beta, c,
             c.shape[1])
    old = c0[:, :N].astype(np.float64) if beta else 0.0
    ref = alpha * (a64 @ b64) + beta * old
    absref = abs(alpha) * (np.abs(a64) @ np.abs(b64)) + abs(beta) * np.abs(old)
    assert_close(c[:, :N], ref, absref, K + 1,
                 what=f"ta={ta} tb={tb} alpha={alpha} beta={beta} pad={pad} {M, N, K}")
    np.testing.assert_array_equal(c[:, N:], c0[:, N:])  # padding untouched


@pytest.mark.parametrize("ta,tb", [(0, 0), (0, 1), (1, 0), (1, 1)])
def test_every_row_count(isa, threads, ta, tb):
    """M = 1..33 (past every row threshold) at odd N and K."""
    rng = np.random.default_rng(100 + 2 * ta + tb)
    for M in range(1, 34):
        N = int(rng.integers(1, 80)) | 1
        K = int(rng.integers(1, 90)) | 1
        beta = (0.0, 1.0, -0.5)[M % 3]
        _case(rng, M, N, K, ta, tb, 1.0 if M % 2 else -1.25, beta, int(rng.integers(0, 9)))


@pytest.mark.parametrize("ta,tb", [(0, 0), (0, 1), (1, 0), (1, 1)])
@pytest.mark.parametrize("seed", range(2))
def test_random_shapes(isa, threads, ta, tb, seed):
    """Random M <= 33 with N and K large enough to cross the strips, thread splits and
    K blocks (tile: 256; bcast: 512 floats of K at 32 rows)."""
    rng = np.random.default_rng(seed * 10 + 2 * ta + tb)
    for _ in range(6):
        M = int(rng.integers(1, 34))
        N = int(rng.integers(1, 400)) | 1
        K = int(rng.integers(200, 1300)) | 1
        _case(rng, M, N, K, ta, tb, float(rng.choice([1.0, 0.5, -2.0])),
              float(rng.choice([0.0, 1.0, 0.25])), int(rng.integers(0, 5)))


@pytest.mark.parametrize("M,N,K", [(5, 1, 1), (8, 2, 3), (17, 3, 1025), (32, 33, 513),
                                   (33, 9, 7), (31, 1000, 17), (24, 65, 2049)])
def test_edges_transposed_b(isa, threads, M, N, K):
    """bcast at single B rows, a partial last row block, the chunk of 4 vectors, K
    blocks, and M = 33 (packed)."""
    rng = np.random.default_rng(M * N + K)
    for ta in (0, 1):
        _case(rng, M, N, K, ta, 1, 1.0, 0.0, 3)
        _case(rng, M, N, K, ta, 1, 0.75, -1.0, 0)


@pytest.mark.parametrize("M,N,K", [(1, 4097, 33), (2, 7, 300), (6, 16, 257), (13, 40, 600),
                                   (32, 1001, 5), (100, 37, 4), (61, 2050, 3), (500, 9, 1)])
def test_edges_b_as_is(isa, threads, M, N, K):
    """tile at partial row blocks, one-vector and scalar column tails, K blocks, and the
    rank-k update at many rows (threads over rows of C); axpy at one row."""
    rng = np.random.default_rng(M + N * K)
    for ta in (0, 1):
        _case(rng, M, N, K, ta, 0, 1.0, 0.0, 2)
        _case(rng, M, N, K, ta, 0, -0.5, 2.0, 0)


def test_nan_reaches_only_its_outputs(isa):
    """bcast and tile: a NaN in one B element reaches exactly the outputs that read it."""
    rng = np.random.default_rng(3)
    M, N, K = 16, 37, 41
    x = rng.standard_normal((M, K)).astype(np.float32)
    w = rng.standard_normal((N, K)).astype(np.float32)
    w[5, 3] = np.nan
    y = np.empty((M, N), np.float32)
    _C.sgemm(False, True, M, N, K, 1.0, x, K, w, K, 0.0, y, N)
    want = np.zeros((M, N), bool)
    want[:, 5] = True
    np.testing.assert_array_equal(np.isnan(y), want)
    g = rng.standard_normal((M, N)).astype(np.float32)
    gx = np.empty((M, K), np.float32)
    _C.sgemm(False, False, M, K, N, 1.0, g, N, w, K, 0.0, gx, K)
    want = np.zeros((M, K), bool)
    want[:, 3] = True
    np.testing.assert_array_equal(np.isnan(gx), want)

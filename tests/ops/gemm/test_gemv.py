"""The unpacked small-product path (gemm/gemv.c: few rows of C, or short K) against a
float64 reference, on every ISA, with the packed SGEMM forced for the same shapes as
a second witness: Linear's three products (x W^T, g W, g^T x), transposed views,
leading dimensions past the row length, alpha/beta, threads, NaN/inf."""
import ctypes
import os

import numpy as np
import pytest

import fastconv
from fastconv import _C
from reference import assert_close

LIB = ctypes.CDLL(os.path.join(fastconv.get_library_dir(), "libfastconv.so"))


@pytest.fixture(params=["gemv", "packed"])
def path(request):
    """gemv: the default limits (M <= 32 or K <= 4 unpacked); packed: none."""
    LIB.fc_gemv_set_max_rows(ctypes.c_int64(-1 if request.param == "gemv" else 0))
    yield request.param
    LIB.fc_gemv_set_max_rows(ctypes.c_int64(-1))


@pytest.fixture(params=[1, 2])
def threads(request):
    before = fastconv.get_num_threads()
    fastconv.set_num_threads(request.param)
    yield request.param
    fastconv.set_num_threads(before)


def _ref(a, b):
    a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return a64 @ b64, np.abs(a64) @ np.abs(b64)


def _shapes(rng, count):
    """M in 1..16 with odd K and N (large enough to cross vector widths, the column
    chunks of 16 and the pairs of B rows), and short K at larger M."""
    out = [(1, 1, 1), (1, 3, 7), (2, 17, 33), (16, 31, 257), (5, 129, 1000), (4, 4097, 9)]
    for _ in range(count):
        out.append((int(rng.integers(1, 17)), int(rng.integers(1, 300)) | 1,
                    int(rng.integers(1, 600)) | 1))
    out += [(40, 77, 1), (33, 101, 3), (70, 9, 4), (19, 5000, 2)]
    return out


@pytest.mark.parametrize("seed", range(3))
def test_linear_products(isa, path, threads, seed):
    rng = np.random.default_rng(seed)
    for M, N, K in _shapes(rng, 8):
        x = rng.standard_normal((M, K)).astype(np.float32)
        w = rng.standard_normal((N, K)).astype(np.float32)
        g = rng.standard_normal((M, N)).astype(np.float32)
        for a, b, terms, what in ((x, w.T, K, "x W^T"), (g, w, N, "g W"),
                                  (g.T, x, M, "g^T x")):
            ref, absref = _ref(a, b)
            assert_close(fastconv.matmul(a, b), ref, absref, terms, what=f"{what} {M, N, K}")


@pytest.mark.parametrize("ta,tb", [(0, 0), (0, 1), (1, 0), (1, 1)])
def test_sgemm_strides_alpha_beta(isa, path, threads, ta, tb, rng):
    """fc_sgemm on buffers with ld > row length, alpha != 1 and beta in {0 (C holds
    NaN and must not be read), 1, -0.5}."""
    for M, N, K in [(1, 33, 65), (3, 70, 9), (16, 19, 130), (7, 300, 3), (50, 21, 2)]:
        pad = 5
        a = rng.standard_normal((K, M + pad) if ta else (M, K + pad)).astype(np.float32)
        b = rng.standard_normal((N, K + pad) if tb else (K, N + pad)).astype(np.float32)
        av = a[:, :M].T if ta else a[:, :K]
        bv = b[:, :K].T if tb else b[:, :N]
        ref, absref = _ref(av, bv)
        for beta in (0.0, 1.0, -0.5):
            c0 = rng.standard_normal((M, N + pad)).astype(np.float32)
            if beta == 0.0:
                c0[:] = np.nan
            c = c0.copy()
            _C.sgemm(bool(ta), bool(tb), M, N, K, 1.5, a, a.shape[1], b, b.shape[1], beta, c,
                     c.shape[1])
            old = np.nan_to_num(c0[:, :N].astype(np.float64)) if beta else 0.0
            assert_close(c[:, :N], 1.5 * ref + beta * old,
                         1.5 * absref + abs(beta) * np.abs(old), K + 1,
                         what=f"ta={ta} tb={tb} beta={beta} {M, N, K}")
            np.testing.assert_array_equal(c[:, N:], c0[:, N:])  # padding untouched


def test_nan_and_inf_propagate(isa, path, rng):
    """A NaN or inf in one operand element reaches exactly the outputs that read it."""
    M, N, K = 3, 37, 41
    x = rng.standard_normal((M, K)).astype(np.float32)
    w = rng.standard_normal((N, K)).astype(np.float32)
    x[1, 7] = np.nan
    w[5, 3] = np.inf
    w[6, 30] = -np.inf
    with np.errstate(invalid="ignore"):
        ref = x.astype(np.float64) @ w.T.astype(np.float64)
        got = fastconv.matmul(x, w.T)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
        np.testing.assert_array_equal(np.isposinf(got), np.isposinf(ref))
        np.testing.assert_array_equal(np.isneginf(got), np.isneginf(ref))
        g = rng.standard_normal((M, N)).astype(np.float32)
        g[0, 5] = np.inf
        ref = g.astype(np.float64) @ w.astype(np.float64)
        got = fastconv.matmul(g, w)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
        np.testing.assert_array_equal(np.isinf(got), np.isinf(ref))


def test_linear_layer_small_batch_matches_torch(isa):
    torch = pytest.importorskip("torch")
    from fastconv import nn
    rng = np.random.default_rng(7)
    layer = nn.Linear(257, 131)
    tl = torch.nn.Linear(257, 131)
    with torch.no_grad():
        tl.weight.copy_(torch.from_numpy(layer.weight.data))
        tl.bias.copy_(torch.from_numpy(layer.bias.data))
    for batch in (1, 3, 16):
        x = rng.standard_normal((batch, 257)).astype(np.float32)
        gy = rng.standard_normal((batch, 131)).astype(np.float32)
        layer.weight.grad = None
        y = layer.forward(x)
        gx = layer.backward(gy)
        tx = torch.from_numpy(x).requires_grad_(True)
        tl.zero_grad()
        ty = tl(tx)
        ty.backward(torch.from_numpy(gy))
        np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(layer.weight.grad, tl.weight.grad.numpy(), rtol=1e-4,
                                   atol=1e-4)

"""Max, average and global pooling, forward and backward, against the float64
references in reference_pool.py on every ISA path, and against PyTorch."""
import numpy as np
import pytest

import fastconv
from pool_cases import padding_arg, random_case
from reference import assert_close
from reference_pool import (avg_pool_backward_ref, avg_pool_ref, max_pool_backward_ref,
                            max_pool_ref)


# Pooling has a forward and a backward (-data) pass; the checks that cover both run
# once per pass, drawing the same data in the same order in each, so a failure names
# the pass.
PASSES = ["forward", "backward"]


def _x(rng, shape):
    return rng.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("pass_", PASSES)
@pytest.mark.parametrize("seed", range(12))
def test_max_pool_sweep(isa, seed, pass_):
    rng = np.random.default_rng(100 + seed)
    for _ in range(4):
        shape, k, s, pads, d, ceil = random_case(rng, max_op=True, wide=seed % 3 == 0)
        x = _x(rng, shape)
        args = dict(kernel_size=k, stride=s, padding=padding_arg(pads), dilation=d,
                    ceil_mode=ceil)
        want, want_idx = max_pool_ref(x, k, s, pads, d, ceil)
        what = f"{shape} k={k} s={s} pads={pads} d={d} ceil={ceil}"
        gy = _x(rng, want.shape)
        if pass_ == "forward":
            y = fastconv.max_pool2d(x, **args)
            y2, idx = fastconv.max_pool2d(x, return_indices=True, **args)
            np.testing.assert_array_equal(y, want.astype(np.float32), err_msg=what)
            np.testing.assert_array_equal(y2, y, err_msg=what)
            assert idx.dtype == np.int64
            np.testing.assert_array_equal(idx, want_idx, err_msg=what)
            continue

        _, idx = fastconv.max_pool2d(x, return_indices=True, **args)
        gref = max_pool_backward_ref(gy, shape, want_idx)
        gabs = max_pool_backward_ref(np.abs(gy), shape, want_idx)
        terms = k[0] * k[1]
        for given in (None, idx):
            gx = fastconv.max_pool2d_backward(gy, x, indices=given, **args)
            assert_close(gx, gref, gabs, terms, what=f"grad_x {what} indices={given is not None}")


@pytest.mark.parametrize("pass_", PASSES)
@pytest.mark.parametrize("seed", range(12))
def test_avg_pool_sweep(isa, seed, pass_):
    rng = np.random.default_rng(200 + seed)
    for _ in range(4):
        shape, k, s, pads, _, ceil = random_case(rng, max_op=False, wide=seed % 3 == 0)
        cip = bool(rng.integers(0, 2))
        x = _x(rng, shape)
        args = dict(kernel_size=k, stride=s, padding=padding_arg(pads), ceil_mode=ceil,
                    count_include_pad=cip)
        what = f"{shape} k={k} s={s} pads={pads} ceil={ceil} cip={cip}"
        want, wabs = avg_pool_ref(x, k, s, pads, ceil, cip)
        gy = _x(rng, want.shape)
        if pass_ == "forward":
            y = fastconv.avg_pool2d(x, **args)
            assert_close(y, want, wabs, k[0] * k[1], what=f"y {what}")
            continue
        gref, gabs = avg_pool_backward_ref(gy, shape, k, s, pads, ceil, cip)
        gx = fastconv.avg_pool2d_backward(gy, x, **args)
        assert_close(gx, gref, gabs, k[0] * k[1], what=f"grad_x {what}")


@pytest.mark.parametrize("pass_", PASSES)
@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (2, 3, 7, 7), (1, 5, 13, 37), (3, 2, 1, 70)])
def test_global_pools(isa, rng, shape, pass_):
    x = _x(rng, shape)
    x64 = x.astype(np.float64)
    hw = shape[2] * shape[3]
    if pass_ == "forward":
        y = fastconv.global_avg_pool2d(x)
        assert y.shape == shape[:2] + (1, 1)
        assert_close(y, x64.mean(axis=(2, 3), keepdims=True),
                     np.abs(x64).mean(axis=(2, 3), keepdims=True), hw)
        ym = fastconv.global_max_pool2d(x)
        np.testing.assert_array_equal(ym, x.max(axis=(2, 3), keepdims=True))
        return

    gy = _x(rng, shape[:2] + (1, 1))
    gx = fastconv.global_avg_pool2d_backward(gy, x)
    np.testing.assert_allclose(gx, np.broadcast_to(gy.astype(np.float64) / hw, shape),
                               rtol=2e-7)
    gxm = fastconv.global_max_pool2d_backward(gy, x)
    flat = x.reshape(shape[0], shape[1], -1)
    want = np.zeros_like(flat, dtype=np.float64)
    am = flat.argmax(axis=2)  # first maximum
    np.put_along_axis(want, am[..., None], gy.reshape(shape[0], shape[1], 1), axis=2)
    np.testing.assert_array_equal(gxm, want.reshape(shape))


def test_bench_like_shapes(isa, rng):
    """The benchmark layers' arguments (smaller batch): stride-2 paths on wide rows."""
    x = _x(rng, (1, 3, 112, 112))
    want, idx = max_pool_ref(x, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1), False)
    y, i = fastconv.max_pool2d(x, 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(y, want.astype(np.float32))
    np.testing.assert_array_equal(i, idx)
    x = _x(rng, (2, 3, 28, 28))
    want, wabs = avg_pool_ref(x, (2, 2), (2, 2), (0, 0, 0, 0), False, True)
    assert_close(fastconv.avg_pool2d(x, 2), want, wabs, 4)


# ----------------------------------------------------------------- NaN and ties

def test_max_pool_nan(isa):
    x = np.arange(2 * 36, dtype=np.float32).reshape(1, 2, 6, 6)
    x[0, 0, 1, 1] = np.nan
    x[0, 0, 4, 2] = np.nan
    x[0, 0, 4, 4] = np.nan   # the window (3..5, 3..5) holds one NaN; (3..5, 0..2) one too
    y, idx = fastconv.max_pool2d(x, 3, return_indices=True)
    want, widx = max_pool_ref(x, (3, 3), (3, 3), (0,) * 4, (1, 1), False)
    np.testing.assert_array_equal(y, want.astype(np.float32))  # NaN == NaN here
    np.testing.assert_array_equal(idx, widx)
    assert np.isnan(y[0, 0, 0, 0]) and idx[0, 0, 0, 0] == 1 * 6 + 1
    assert np.isnan(y[0, 0, 1, 0]) and idx[0, 0, 1, 0] == 4 * 6 + 2
    assert not np.isnan(y[0, 1]).any()
    # Two NaNs in one window: PyTorch's CPU scan keeps the last one.
    x2 = np.zeros((1, 1, 2, 3), np.float32)
    x2[0, 0, 0, 2] = x2[0, 0, 1, 0] = np.nan
    _, i2 = fastconv.max_pool2d(x2, (2, 3), return_indices=True)
    assert i2[0, 0, 0, 0] == 1 * 3 + 0
    gx = fastconv.max_pool2d_backward(np.ones((1, 1, 1, 1), np.float32), x2, (2, 3))
    assert gx[0, 0, 1, 0] == 1 and gx.sum() == 1
    assert np.isnan(fastconv.global_max_pool2d(x)[0, 0, 0, 0])
    assert not np.isnan(fastconv.global_max_pool2d(x)[0, 1, 0, 0])
    g = fastconv.global_max_pool2d_backward(np.full((1, 2, 1, 1), 5, np.float32), x)
    assert g[0, 0, 4, 4] == 5 and g[0, 0].sum() == 5     # the last NaN
    assert g[0, 1, 5, 5] == 5 and g[0, 1].sum() == 5


def test_max_pool_ties_first(isa):
    # Constant input: every window's maximum is its first element (row-major).
    x = np.ones((1, 1, 5, 7), np.float32)
    y, idx = fastconv.max_pool2d(x, (2, 3), stride=1, padding=(1, 2), return_indices=True)
    _, widx = max_pool_ref(x, (2, 3), (1, 1), (1, 1, 2, 2), (1, 1), False)
    np.testing.assert_array_equal(idx, widx)
    # A tie across rows and columns: (0, 2) comes before (1, 0) in row-major order.
    x = np.zeros((1, 1, 2, 3), np.float32)
    x[0, 0, 0, 2] = x[0, 0, 1, 0] = 4
    _, i = fastconv.max_pool2d(x, (2, 3), return_indices=True)
    assert i[0, 0, 0, 0] == 2
    gx = fastconv.max_pool2d_backward(np.ones((1, 1, 1, 1), np.float32), x, (2, 3))
    assert gx[0, 0, 0, 2] == 1 and gx.sum() == 1
    # All -inf with padding: the index is the first input element of the window.
    x = np.full((1, 1, 3, 3), -np.inf, np.float32)
    y, i = fastconv.max_pool2d(x, 3, stride=1, padding=2, return_indices=True)
    _, widx = max_pool_ref(x, (3, 3), (1, 1), (2, 2, 2, 2), (1, 1), False)
    np.testing.assert_array_equal(i, widx)
    assert np.all(y == -np.inf)
    g = fastconv.global_max_pool2d_backward(np.ones((1, 1, 1, 1), np.float32),
                                            np.ones((1, 1, 3, 3), np.float32))
    assert g[0, 0, 0, 0] == 1 and g.sum() == 1


def test_max_backward_overlap_accumulates(isa):
    x = np.zeros((1, 1, 3, 3), np.float32)
    x[0, 0, 1, 1] = 1   # the maximum of all four 2x2 windows
    gx = fastconv.max_pool2d_backward(np.full((1, 1, 2, 2), 0.5, np.float32), x, 2, stride=1)
    assert gx[0, 0, 1, 1] == 2.0 and gx.sum() == 2.0


# ----------------------------------------------------------------- PyTorch

def _torch_cases(rng, max_op, n):
    out = []
    while len(out) < n:
        shape, k, s, pads, d, ceil = random_case(rng, max_op=max_op, wide=True)
        ph, pw = pads[0], pads[2]
        # PyTorch: symmetric padding of at most half the kernel.
        if pads != (ph, ph, pw, pw) or 2 * ph > k[0] or 2 * pw > k[1]:
            continue
        out.append((shape, k, s, (ph, pw), d, ceil))
    return out


@pytest.mark.parametrize("pass_", PASSES)
def test_max_pool_matches_torch(isa, pass_):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(7)
    for shape, k, s, p, d, ceil in _torch_cases(rng, True, 20):
        x = _x(rng, shape)
        xt = torch.tensor(x, requires_grad=True)
        yt, it = F.max_pool2d(xt, k, s, p, d, ceil_mode=ceil, return_indices=True)
        gy = _x(rng, tuple(yt.shape))
        if pass_ == "forward":
            y, i = fastconv.max_pool2d(x, k, s, p, d, ceil_mode=ceil, return_indices=True)
            np.testing.assert_array_equal(y, yt.detach().numpy())
            np.testing.assert_array_equal(i, it.numpy())
            continue
        yt.backward(torch.tensor(gy))
        gx = fastconv.max_pool2d_backward(gy, x, k, s, p, d, ceil_mode=ceil)
        np.testing.assert_allclose(gx, xt.grad.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("pass_", PASSES)
def test_avg_pool_matches_torch(isa, pass_):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(8)
    for shape, k, s, p, _, ceil in _torch_cases(rng, False, 24):
        for cip in (True, False):
            x = _x(rng, shape)
            xt = torch.tensor(x, requires_grad=True)
            yt = F.avg_pool2d(xt, k, s, p, ceil_mode=ceil, count_include_pad=cip)
            gy = _x(rng, tuple(yt.shape))
            if pass_ == "forward":
                y = fastconv.avg_pool2d(x, k, s, p, ceil_mode=ceil, count_include_pad=cip)
                np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-5, atol=1e-6)
                continue
            yt.backward(torch.tensor(gy))
            gx = fastconv.avg_pool2d_backward(gy, x, k, s, p, ceil_mode=ceil,
                                              count_include_pad=cip)
            np.testing.assert_allclose(gx, xt.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_ceil_mode_edge_window_torch():
    """A ceil-mode window hanging past the padded edge: PyTorch's divisor rule."""
    torch = pytest.importorskip("torch")
    x = np.arange(25, dtype=np.float32).reshape(1, 1, 5, 5)
    for cip in (True, False):
        for p in (0, 1):
            want = torch.nn.functional.avg_pool2d(torch.tensor(x), 3, 2, p, ceil_mode=True,
                                                  count_include_pad=cip).numpy()
            got = fastconv.avg_pool2d(x, 3, 2, p, ceil_mode=True, count_include_pad=cip)
            np.testing.assert_allclose(got, want, rtol=1e-6)
    # 5 + 2*1 - 2 = 5 -> ceil(5 / 2) + 1 = 4 windows, but the 4th would start at padded
    # position 6, past the input (1 + 5): dropped.
    assert fastconv.max_pool2d(x, 2, 2, 1, ceil_mode=True).shape == (1, 1, 3, 3)
    for n in range(3, 9):
        for k, s, p in ((2, 2, 1), (3, 2, 1), (3, 3, 1), (2, 3, 0)):
            t = torch.nn.functional.max_pool2d(torch.zeros(1, 1, n, n), k, s, p, ceil_mode=True)
            ours = fastconv.max_pool2d(np.zeros((1, 1, n, n), np.float32), k, s, p,
                                       ceil_mode=True)
            assert ours.shape == tuple(t.shape), (n, k, s, p)


def test_global_matches_torch(rng):
    torch = pytest.importorskip("torch")
    x = _x(rng, (2, 7, 5, 9))
    np.testing.assert_allclose(fastconv.global_avg_pool2d(x),
                               torch.nn.functional.adaptive_avg_pool2d(torch.tensor(x), 1),
                               rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(fastconv.global_max_pool2d(x),
                                  torch.nn.functional.adaptive_max_pool2d(torch.tensor(x), 1))


def test_large_padding_beyond_torch(isa, rng):
    """ONNX rule: padding up to kernel - 1 (PyTorch stops at kernel / 2)."""
    x = _x(rng, (1, 2, 4, 5))
    y, idx = fastconv.max_pool2d(x, 4, stride=1, padding=3, return_indices=True)
    want, widx = max_pool_ref(x, (4, 4), (1, 1), (3,) * 4, (1, 1), False)
    np.testing.assert_array_equal(y, want.astype(np.float32))
    np.testing.assert_array_equal(idx, widx)
    a = fastconv.avg_pool2d(x, 4, stride=1, padding=3, count_include_pad=False)
    want, wabs = avg_pool_ref(x, (4, 4), (1, 1), (3,) * 4, False, False)
    assert_close(a, want, wabs, 16)


@pytest.mark.parametrize("pass_", PASSES)
def test_max_pool_tall_kernel_no_row_ring(isa, rng, pass_):
    """kernel_h * dilation_h above the row ring (32): the path without reuse."""
    x = _x(rng, (1, 2, 40, 9))
    k, s, pads, d = (17, 3), (2, 2), (3, 5, 1, 0), (2, 1)
    want, widx = max_pool_ref(x, k, s, pads, d, True)
    if pass_ == "forward":
        y, idx = fastconv.max_pool2d(x, k, s, padding_arg(pads), d, ceil_mode=True,
                                     return_indices=True)
        np.testing.assert_array_equal(y, want.astype(np.float32))
        np.testing.assert_array_equal(idx, widx)
        return
    gy = _x(rng, want.shape)
    gx = fastconv.max_pool2d_backward(gy, x, k, s, padding_arg(pads), d, ceil_mode=True)
    assert_close(gx, max_pool_backward_ref(gy, x.shape, widx),
                 max_pool_backward_ref(np.abs(gy), x.shape, widx), 51)


# A kernel larger than the padded input: ceil mode keeps the one window that starts
# inside (cut at the padded edge), as PyTorch does; without ceil mode it is an error.
@pytest.mark.parametrize("H, W, k, s, p", [(2, 2, (3, 3), (2, 2), 0), (4, 5, (5, 5), (2, 2), 0),
                                           (4, 4, (5, 5), (3, 3), 0), (3, 6, (5, 2), (3, 2), 0), (2, 7, (5, 3), (3, 2), 1),
                                           (1, 3, (2, 3), (2, 2), 0)])
def test_ceil_mode_keeps_a_window_larger_than_the_input(isa, rng, H, W, k, s, p):
    x = rng.standard_normal((2, 3, H, W)).astype(np.float32)
    pads = (p, p, p, p)
    y = fastconv.max_pool2d(x, k, s, p, ceil_mode=True)
    ref, idx = max_pool_ref(x, k, s, pads, (1, 1), True)
    assert y.shape == ref.shape and min(y.shape) >= 1
    np.testing.assert_array_equal(y, ref.astype(np.float32))
    gy = rng.standard_normal(y.shape).astype(np.float32)
    gx = fastconv.max_pool2d_backward(gy, x, k, s, p, ceil_mode=True)
    np.testing.assert_allclose(gx, max_pool_backward_ref(gy, x.shape, idx), rtol=1e-6,
                               atol=1e-6)
    for cip in (True, False):
        ya = fastconv.avg_pool2d(x, k, s, p, ceil_mode=True, count_include_pad=cip)
        r, ar = avg_pool_ref(x, k, s, pads, True, cip)
        assert_close(ya, r, ar, k[0] * k[1])
        ga = fastconv.avg_pool2d_backward(gy, x, k, s, p, ceil_mode=True,
                                          count_include_pad=cip)
        rg, arg = avg_pool_backward_ref(gy, x.shape, k, s, pads, True, cip)
        assert_close(ga, rg, arg, k[0] * k[1])
    with pytest.raises(ValueError, match="ceil_mode=True would keep one window"):
        fastconv.max_pool2d(x, k, s, p)

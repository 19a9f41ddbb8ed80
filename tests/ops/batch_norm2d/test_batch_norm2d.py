"""Batch normalization (and its fused ReLU), forward and backward, against the float64
references in reference_norm.py on every ISA path, and against torch. One test per
pass: the forward checks draw the same cases as the backward ones."""
import numpy as np
import pytest

import fastconv
from reference_norm import batch_norm_backward_ref, batch_norm_ref

EPS32 = np.finfo(np.float32).eps

# Odd sizes, batch 1, channels off the vector width, planes split into spans
# (H*W > 8192), 1x1 planes, and a ResNet-like one.
SHAPES = [(1, 3, 5, 7), (2, 17, 9, 11), (3, 1, 1, 2), (2, 5, 1, 1), (4, 33, 7, 7),
          (1, 2, 91, 97), (2, 64, 14, 14), (5, 3, 13, 1), (1, 1, 130, 130)]


def _case(rng, shape, offset=0.0):
    N, C, H, W = shape
    scale = rng.uniform(0.1, 3.0, C).astype(np.float32)
    x = (rng.standard_normal(shape) * scale[:, None, None]
         + rng.uniform(-2, 2, C)[:, None, None] + offset).astype(np.float32)
    gamma = rng.uniform(0.5, 1.5, C).astype(np.float32)
    beta = rng.uniform(-0.5, 0.5, C).astype(np.float32)
    rm = rng.standard_normal(C).astype(np.float32)
    rv = rng.uniform(0.5, 2.0, C).astype(np.float32)
    gy = rng.standard_normal(shape).astype(np.float32)
    return x, gamma, beta, rm, rv, gy


def _close(got, want, what, rtol=2e-5, atol_rel=2e-5, scale=None):
    """|got - want| <= rtol * |want| + atol_rel * scale (default max|want|): a
    normalized output or gradient is exact up to float32 rounding of its few terms
    and of the statistics."""
    want = np.asarray(want, np.float64)
    if scale is None:
        scale = float(np.max(np.abs(want))) if want.size else 0.0
    np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=rtol,
                               atol=atol_rel * scale + 1e-30, err_msg=what)


def _gx_scale(gy, gamma, invstd):
    k = np.abs(invstd if gamma is None else gamma * invstd).astype(np.float64)
    return float(np.max(k[:, None, None] * np.abs(gy)))


def _torch():
    try:
        import torch
        return torch
    except ImportError:
        return None


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape", SHAPES)
def test_forward_training(isa, shape, affine, relu):
    rng = np.random.default_rng(hash((shape, affine, relu)) % 2**32)
    x, gamma, beta, rm, rv, _ = _case(rng, shape)
    g, b = (gamma, beta) if affine else (None, None)
    want, mean, invstd, wrm, wrv = batch_norm_ref(x, g, b, rm, rv, True, 0.1, 1e-5, relu)
    rm2, rv2 = rm.copy(), rv.copy()
    y, sm, si = fastconv.batch_norm2d(x, g, b, rm2, rv2, training=True, momentum=0.1,
                                      eps=1e-5, relu=relu)
    what = f"{shape} affine={affine} relu={relu}"
    assert y.dtype == np.float32 and y.shape == x.shape
    _close(y, want, f"y {what}")
    _close(sm, mean, f"save_mean {what}", atol_rel=1e-6)
    _close(si, invstd, f"save_invstd {what}", atol_rel=1e-6)
    _close(rm2, wrm, f"running_mean {what}", atol_rel=1e-6)
    _close(rv2, wrv, f"running_var {what}", atol_rel=1e-6)


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape", SHAPES)
def test_backward(isa, shape, affine, relu):
    rng = np.random.default_rng(hash((shape, affine, relu)) % 2**32)
    x, gamma, beta, rm, rv, gy = _case(rng, shape)
    g, b = (gamma, beta) if affine else (None, None)
    y, sm, si = fastconv.batch_norm2d(x, g, b, None, None, relu=relu)
    gx, gg, gb = fastconv.batch_norm2d_backward(gy, x, g, sm, si, y=y, relu=relu)
    wgx, wgg, wgb = batch_norm_backward_ref(gy, x, g, relu, y=y)
    what = f"{shape} affine={affine} relu={relu}"
    m = shape[0] * shape[2] * shape[3]
    # gx cancels three terms of size |k * gy| (to nothing when m == 2): the tolerance
    # is relative to the largest.
    _close(gx, wgx, f"grad_x {what}", rtol=1e-4, atol_rel=1e-4, scale=_gx_scale(gy, g, si))
    tol = 8 * EPS32 * np.sqrt(m)
    np.testing.assert_allclose(gb, wgb, rtol=0, atol=tol * np.abs(gy).sum((0, 2, 3)).max(),
                               err_msg=f"grad_beta {what}")
    np.testing.assert_allclose(gg, wgg, rtol=0,
                               atol=tol * 4 * np.abs(gy).sum((0, 2, 3)).max(),
                               err_msg=f"grad_gamma {what}")


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("shape", [(1, 3, 5, 7), (2, 17, 9, 11), (3, 16, 1, 1)])
def test_forward_inference(isa, shape, relu):
    rng = np.random.default_rng(7)
    x, gamma, beta, rm, rv, _ = _case(rng, shape)
    want = batch_norm_ref(x, gamma, beta, rm, rv, False, 0.1, 1e-3, relu)[0]
    rm0, rv0 = rm.copy(), rv.copy()
    y, sm, si = fastconv.batch_norm2d(x, gamma, beta, rm, rv, training=False, eps=1e-3,
                                      relu=relu)
    assert sm is None and si is None
    _close(y, want, f"eval {shape}")
    np.testing.assert_array_equal(rm, rm0)
    np.testing.assert_array_equal(rv, rv0)


def test_forward_large_offset(isa):
    """A channel mean far from zero relative to its spread: the shifted one-pass
    variance keeps its digits (a plain sum of squares would lose them all)."""
    rng = np.random.default_rng(3)
    x = (1000.0 + 0.01 * rng.standard_normal((4, 3, 31, 29))).astype(np.float32)
    want, mean, invstd, _, _ = batch_norm_ref(x, None, None, None, None, True, 0.1, 1e-5,
                                              False)
    y, sm, si = fastconv.batch_norm2d(x)
    _close(si, invstd, "invstd", rtol=1e-4, atol_rel=0)
    # y from (x - mean) in two floats: y = x * scale + shift would be off by ~1e-2.
    _close(y, want, "y", rtol=1e-4, atol_rel=1e-4)


def test_forward_in_place(isa):
    rng = np.random.default_rng(4)
    x, gamma, beta, rm, rv, _ = _case(rng, (2, 5, 6, 7))
    want = fastconv.batch_norm2d(x, gamma, beta, relu=True).y
    x2 = x.copy()
    y = fastconv.batch_norm2d(x2, gamma, beta, relu=True, out=x2).y
    assert y is x2
    np.testing.assert_array_equal(y, want)


def test_thread_count_does_not_change_bits():
    rng = np.random.default_rng(5)
    x, gamma, beta, rm, rv, gy = _case(rng, (3, 7, 100, 90))
    before = fastconv.get_num_threads()
    outs = []
    try:
        for n in (1, 2, 3):
            fastconv.set_num_threads(n)
            y, sm, si = fastconv.batch_norm2d(x, gamma, beta)
            outs.append((y, sm, si) + fastconv.batch_norm2d_backward(gy, x, gamma, sm, si))
    finally:
        fastconv.set_num_threads(before)
    for o in outs[1:]:
        for a, b in zip(outs[0], o):
            np.testing.assert_array_equal(a, b)


def test_empty_batch():
    x = np.zeros((0, 3, 4, 4), np.float32)
    rm, rv = np.zeros(3, np.float32), np.ones(3, np.float32)
    y, sm, si = fastconv.batch_norm2d(x, None, None, rm, rv)
    assert y.shape == x.shape
    np.testing.assert_array_equal(rm, 0)
    np.testing.assert_array_equal(rv, 1)
    gx, gg, gb = fastconv.batch_norm2d_backward(x, x, None, sm, si)
    assert gx.shape == x.shape
    np.testing.assert_array_equal(gg, 0)
    np.testing.assert_array_equal(gb, 0)


# The backward is the training-mode gradient: no (backward, eval) pair.
@pytest.mark.parametrize("pass_, training", [("forward", True), ("forward", False),
                                             ("backward", True)])
@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("shape", [(1, 3, 5, 7), (4, 19, 8, 9), (2, 1, 91, 97)])
def test_against_torch(isa, shape, training, relu, pass_):
    torch = _torch()
    if torch is None:
        pytest.skip("torch not installed")
    import torch.nn.functional as F
    rng = np.random.default_rng(11)
    x, gamma, beta, rm, rv, gy = _case(rng, shape)
    trm, trv = torch.from_numpy(rm.copy()), torch.from_numpy(rv.copy())
    tx = torch.from_numpy(x.copy()).requires_grad_(True)
    tg = torch.from_numpy(gamma.copy()).requires_grad_(True)
    tb = torch.from_numpy(beta.copy()).requires_grad_(True)
    ty = F.batch_norm(tx, trm, trv, tg, tb, training=training, momentum=0.2, eps=1e-4)
    if relu:
        ty = F.relu(ty)
    rm2, rv2 = rm.copy(), rv.copy()
    y, sm, si = fastconv.batch_norm2d(x, gamma, beta, rm2, rv2, training=training,
                                      momentum=0.2, eps=1e-4, relu=relu)
    what = f"{shape} training={training} relu={relu}"
    if pass_ == "forward":
        _close(y, ty.detach().numpy(), f"y vs torch {what}", rtol=1e-5, atol_rel=1e-5)
        _close(rm2, trm.numpy(), f"running_mean vs torch {what}", rtol=1e-6, atol_rel=1e-6)
        _close(rv2, trv.numpy(), f"running_var vs torch {what}", rtol=1e-5, atol_rel=1e-6)
        return
    ty.backward(torch.from_numpy(gy))
    gx, gg, gb = fastconv.batch_norm2d_backward(gy, x, gamma, sm, si, y=y, relu=relu)
    _close(gx, tx.grad.numpy(), f"grad_x vs torch {what}", rtol=1e-4, atol_rel=1e-4,
           scale=_gx_scale(gy, gamma, si))
    _close(gg, tg.grad.numpy(), f"grad_gamma vs torch {what}", rtol=1e-4, atol_rel=1e-4)
    _close(gb, tb.grad.numpy(), f"grad_beta vs torch {what}", rtol=1e-4, atol_rel=1e-4)

"""Fused softmax cross-entropy vs a float64 NumPy reference and torch, forward and
backward, every reduction, on every ISA path (the row max and exp sum are per-ISA
vector kernels)."""
import numpy as np
import pytest

import fastconv

try:
    import torch
except ImportError:
    torch = None

SHAPES = [(1, 1), (1, 10), (3, 7), (17, 33), (128, 10), (5, 1000), (64, 257), (0, 4),
          (16, 1000), (3, 1003), (2, 15), (2, 17)]
REDUCTIONS = ["mean", "sum", "none"]


def _case(rng, N, K, scale=3.0):
    z = (rng.standard_normal((N, K)) * scale).astype(np.float32)
    t = rng.integers(0, K, size=N)
    return z, t


def _ref(z, t, reduction):
    z = z.astype(np.float64)
    m = z.max(axis=1, keepdims=True)
    lse = np.log(np.exp(z - m).sum(axis=1)) + m[:, 0]
    per = lse - z[np.arange(len(t)), t]
    p = np.exp(z - lse[:, None])
    if reduction == "none":
        return per, p
    return (per.mean() if reduction == "mean" else per.sum()), p


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", SHAPES)
def test_forward(isa, rng, shape, reduction):
    z, t = _case(rng, *shape)
    loss, cache = fastconv.softmax_cross_entropy(z, t, reduction=reduction)
    if shape[0] == 0:
        assert np.isnan(loss) if reduction == "mean" else np.sum(loss) == 0
        return
    want, p = _ref(z, t, reduction)
    np.testing.assert_allclose(loss, want, rtol=2e-6, atol=1e-6)
    np.testing.assert_allclose(cache.probs, p, rtol=1e-5, atol=1e-7)
    if reduction == "none":
        assert loss.dtype == np.float32 and loss.shape == (shape[0],)
    if torch is not None:
        tl = torch.nn.functional.cross_entropy(torch.from_numpy(z), torch.from_numpy(t),
                                               reduction=reduction)
        np.testing.assert_allclose(loss, tl.numpy(), rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", SHAPES)
def test_backward(isa, rng, shape, reduction):
    N, K = shape
    z, t = _case(rng, N, K)
    loss, cache = fastconv.softmax_cross_entropy(z, t, reduction=reduction)
    g = rng.standard_normal(N).astype(np.float32) if reduction == "none" else 0.7
    gz = fastconv.softmax_cross_entropy_backward(g, cache)
    assert gz.shape == (N, K) and gz.dtype == np.float32
    if N == 0:
        return
    _, p = _ref(z, t, reduction)
    onehot = np.zeros((N, K))
    onehot[np.arange(N), t] = 1.0
    scale = (np.asarray(g, np.float64)[:, None] if reduction == "none"
             else g / N if reduction == "mean" else g)
    want = (p - onehot) * scale
    np.testing.assert_allclose(gz, want, rtol=1e-5, atol=1e-7)
    if torch is not None and N:
        tz = torch.from_numpy(z).requires_grad_()
        tl = torch.nn.functional.cross_entropy(tz, torch.from_numpy(t), reduction=reduction)
        tl.backward(torch.from_numpy(np.asarray(g, np.float32)) if reduction == "none"
                    else torch.tensor(g))
        np.testing.assert_allclose(gz, tz.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_extreme_logits_stable(isa):
    """Max subtraction: logits of 1e4 neither overflow nor lose the loss."""
    z = np.array([[1e4, 0.0, -1e4], [-88.0, 88.0, 0.0]], np.float32)
    t = np.array([1, 1])
    loss, cache = fastconv.softmax_cross_entropy(z, t, reduction="none")
    want, _ = _ref(z, t, "none")
    np.testing.assert_allclose(loss, want, rtol=1e-6)
    assert np.isfinite(cache.probs).all()


def test_labels_any_integer_dtype(rng):
    z, t = _case(rng, 9, 5)
    a, _ = fastconv.softmax_cross_entropy(z, t.astype(np.uint8))
    b, _ = fastconv.softmax_cross_entropy(z, t.astype(np.int32).tolist())
    assert a == b


@pytest.mark.parametrize("labels, err", [
    ([0, 5], ValueError), ([-1, 0], ValueError), ([0.0, 1.0], TypeError),
    ([0], ValueError), ([[0, 1]], ValueError)])
def test_bad_labels(labels, err):
    z = np.zeros((2, 5), np.float32)
    with pytest.raises(err, match="labels"):
        fastconv.softmax_cross_entropy(z, np.array(labels))


def test_bad_arguments():
    z = np.zeros((2, 5), np.float32)
    t = np.array([0, 1])
    with pytest.raises(ValueError, match="reduction"):
        fastconv.softmax_cross_entropy(z, t, reduction="avg")
    with pytest.raises(ValueError, match="logits"):
        fastconv.softmax_cross_entropy(z[0], t)
    with pytest.raises(ValueError, match="K = 0"):
        fastconv.softmax_cross_entropy(np.zeros((2, 0), np.float32), t)
    _, cache = fastconv.softmax_cross_entropy(z, t)
    with pytest.raises(ValueError, match="grad_loss"):
        fastconv.softmax_cross_entropy_backward(np.ones(2), cache)
    with pytest.raises(TypeError, match="cache"):
        fastconv.softmax_cross_entropy_backward(1.0, (cache.probs, t))
    _, cache = fastconv.softmax_cross_entropy(z, t, reduction="none")
    with pytest.raises(ValueError, match="grad_loss"):
        fastconv.softmax_cross_entropy_backward(1.0, cache)


def test_threads_agree(rng):
    """Row-split threads give the same bits as one thread."""
    z, t = _case(rng, 257, 300)
    before = fastconv.get_num_threads()
    try:
        fastconv.set_num_threads(1)
        a, ca = fastconv.softmax_cross_entropy(z, t, reduction="none")
        fastconv.set_num_threads(2)
        b, cb = fastconv.softmax_cross_entropy(z, t, reduction="none")
    finally:
        fastconv.set_num_threads(before)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ca.probs, cb.probs)


def test_nan_and_inf_logits(isa):
    """As the float64 reference: a NaN logit makes its row's loss and softmax NaN; -inf
    logits get probability 0; other rows are untouched."""
    z = np.zeros((3, 21), np.float32)
    z[0, 4] = np.nan
    z[1, :] = np.linspace(-3, 3, 21)
    z[1, [2, 19]] = -np.inf
    z[2, 20] = 5.0
    t = np.array([0, 7, 20])
    loss, cache = fastconv.softmax_cross_entropy(z, t, reduction="none")
    with np.errstate(invalid="ignore"):
        want, p = _ref(z, t, "none")
    assert np.isnan(loss[0]) and np.isnan(cache.probs[0]).all()
    np.testing.assert_allclose(loss[1:], want[1:], rtol=1e-6)
    np.testing.assert_allclose(cache.probs[1:], p[1:], rtol=1e-6, atol=1e-30)
    assert (cache.probs[1, [2, 19]] == 0).all()


def test_label_term_keeps_precision(isa):
    """p[label] near 1: the gradient's 1 - p[label] cancels, so the exp sum must be
    right to well under a float32 ulp: the error left is p[label]'s own float32
    rounding (K = 1000 and 7, one dominant logit)."""
    for K in (1000, 7):
        z = np.full((1, K), -14.0, np.float32)
        z[0, 3] = 0.0
        t = np.array([3])
        _, cache = fastconv.softmax_cross_entropy(z, t, reduction="sum")
        gz = fastconv.softmax_cross_entropy_backward(1.0, cache)
        _, p = _ref(z, t, "sum")
        assert abs(gz[0, 3] - (p[0, 3] - 1.0)) <= 1.2e-7

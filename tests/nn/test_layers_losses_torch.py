"""LeakyReLU, GELU, Softmax, LogSoftmax, BatchNorm1d and the class losses
(CrossEntropyLoss with weight / ignore_index / label_smoothing, NLLLoss,
BCEWithLogitsLoss): forward and backward against torch."""
import numpy as np
import pytest

from fastconv import nn
from nn_check import check_against_torch, rel_err

torch = pytest.importorskip("torch")


def _x(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("make,shape", [
    (lambda: (nn.LeakyReLU(), torch.nn.LeakyReLU()), (3, 5, 4)),
    (lambda: (nn.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2)), (2, 3, 3, 3)),
    (lambda: (nn.GELU(), torch.nn.GELU()), (4, 7)),
    (lambda: (nn.GELU("tanh"), torch.nn.GELU(approximate="tanh")), (2, 3, 5)),
    (lambda: (nn.Softmax(1), torch.nn.Softmax(1)), (4, 9)),
    (lambda: (nn.Softmax(-1), torch.nn.Softmax(-1)), (2, 3, 5)),
    (lambda: (nn.Softmax(0), torch.nn.Softmax(0)), (3, 4)),
    (lambda: (nn.LogSoftmax(1), torch.nn.LogSoftmax(1)), (4, 9, 2)),
    (lambda: (nn.LogSoftmax(-1), torch.nn.LogSoftmax(-1)), (5, 11)),
    (lambda: (nn.BatchNorm1d(5), torch.nn.BatchNorm1d(5)), (6, 5)),
    (lambda: (nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)), (4, 3, 7)),
    (lambda: (nn.BatchNorm1d(3, momentum=None, affine=False),
              torch.nn.BatchNorm1d(3, momentum=None, affine=False)), (2, 3, 5)),
])
def test_layer_vs_torch(make, shape, rng):
    ours, theirs = make()
    x = _x(rng, *shape) * 3
    check_against_torch(ours, theirs, x, rng)
    if isinstance(ours, nn.BatchNorm1d):
        for _ in range(2):   # running statistics, then eval mode
            check_against_torch(ours, theirs, _x(rng, *shape), rng, copy=False)
        np.testing.assert_allclose(ours.running_var, theirs.running_var.numpy(), rtol=1e-5)
        ours.eval()
        theirs.eval()
        x = _x(rng, *shape)
        np.testing.assert_allclose(ours(x), theirs(torch.tensor(x)).detach().numpy(),
                                   rtol=1e-5, atol=1e-6)


def test_softmax_extremes_and_errors():
    x = np.array([[1000.0, 0.0, -1000.0]], np.float32)
    y = nn.Softmax(1)(x)
    assert np.isfinite(y).all() and y[0, 0] == 1.0
    assert np.isfinite(nn.LogSoftmax(1)(x)).all()
    with pytest.raises(ValueError, match="dim"):
        nn.Softmax()(x)
    with pytest.raises(ValueError, match="dim=2"):
        nn.LogSoftmax(2)(x)
    with pytest.raises(ValueError, match="BatchNorm1d"):
        nn.BatchNorm1d(3)(np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("fast")


def _loss_pair(ours, theirs, x, t, rng, tol=1e-5):
    """Forward value and input gradient (for a random upstream gradient when the
    reduction is 'none') of a fastconv loss and its torch twin."""
    xt = torch.tensor(x, requires_grad=True)
    lt = theirs(xt, torch.tensor(t))
    lo = ours(x, t)
    if ours.reduction == "none":
        np.testing.assert_allclose(lo, lt.detach().numpy(), rtol=tol, atol=1e-6)
        g = rng.standard_normal(lt.shape).astype(np.float32)
        lt.backward(torch.tensor(g))
        gx = ours.backward(g)
    else:
        assert abs(lo - lt.item()) <= tol * max(1.0, abs(lt.item())), (lo, lt.item())
        lt.backward(torch.tensor(0.7))
        gx = ours.backward(0.7)
    assert gx.shape == x.shape and gx.dtype == np.float32
    assert rel_err(gx, xt.grad.numpy()) <= 1e-5


CE = [
    dict(), dict(reduction="sum"), dict(reduction="none"),
    dict(weight=True), dict(weight=True, reduction="sum"), dict(ignore_index=2),
    dict(ignore_index=-100, reduction="none"), dict(label_smoothing=0.1),
    dict(label_smoothing=0.3, weight=True, ignore_index=1),
    dict(label_smoothing=0.2, reduction="sum", ignore_index=0),
    dict(label_smoothing=0.25, weight=True, reduction="none", ignore_index=3),
]


@pytest.mark.parametrize("shape", [(7, 5), (1, 5), (3, 5, 4), (2, 5, 3, 2)])
@pytest.mark.parametrize("kw", CE)
def test_cross_entropy_vs_torch(kw, shape, rng):
    kw = dict(kw)
    if kw.get("weight"):
        kw["weight"] = rng.uniform(0.2, 2.0, shape[1]).astype(np.float32)
    x = _x(rng, *shape) * 2
    t = rng.integers(0, shape[1], (shape[0],) + shape[2:])
    if "ignore_index" in kw:
        t.flat[::3] = kw["ignore_index"]
        if t.size == 1:
            t.flat[0] = 4                 # keep one target counted in the mean
    tkw = dict(kw, weight=None if kw.get("weight") is None else torch.tensor(kw["weight"]))
    _loss_pair(nn.CrossEntropyLoss(**kw), torch.nn.CrossEntropyLoss(**tkw), x, t, rng)
    nkw = {k: v for k, v in tkw.items() if k != "label_smoothing"}
    okw = {k: v for k, v in kw.items() if k != "label_smoothing"}
    logp = torch.log_softmax(torch.tensor(x), 1).numpy()
    _loss_pair(nn.NLLLoss(**okw), torch.nn.NLLLoss(**nkw), logp, t, rng)


def test_cross_entropy_fast_path_and_all_ignored(rng, monkeypatch):
    import fastconv.nn.loss as L
    calls = []
    real = L.softmax_cross_entropy
    monkeypatch.setattr(L, "softmax_cross_entropy", lambda *a: calls.append(1) or real(*a))
    x, t = _x(rng, 4, 3), rng.integers(0, 3, 4)
    nn.CrossEntropyLoss()(x, t)
    nn.CrossEntropyLoss(label_smoothing=0.1)(x, t)
    assert calls == [1]               # default arguments take the fused C kernel
    t[:] = -100
    loss = nn.CrossEntropyLoss()
    ref = torch.nn.CrossEntropyLoss()(torch.tensor(x), torch.tensor(t)).item()
    assert np.isnan(loss(x, t)) and np.isnan(ref)


def test_class_loss_errors(rng):
    x = _x(rng, 4, 3)
    with pytest.raises(ValueError, match="target values"):
        nn.CrossEntropyLoss()(x, np.array([0, 1, 3, 0]))
    with pytest.raises(ValueError, match="target values"):
        nn.NLLLoss(ignore_index=5)(x, np.array([0, 1, -100, 0]))
    with pytest.raises(ValueError, match="weight has 2 values"):
        nn.CrossEntropyLoss(weight=np.ones(2))(x, np.array([0, 1, 2, 0]))
    with pytest.raises(ValueError, match="label_smoothing"):
        nn.CrossEntropyLoss(label_smoothing=1.5)
    with pytest.raises(ValueError, match="reduction"):
        nn.NLLLoss(reduction="avg")
    with pytest.raises(ValueError, match="pos_weight"):
        nn.BCEWithLogitsLoss(pos_weight=np.ones(5))(x, x)
    with pytest.raises(ValueError, match="grad of shape"):
        loss = nn.CrossEntropyLoss(reduction="none", label_smoothing=0.1)
        loss(x, np.array([0, 1, 2, 0]))
        loss.backward(np.ones(3))


@pytest.mark.parametrize("kw", [
    dict(), dict(reduction="sum"), dict(reduction="none"), dict(pos_weight="class"),
    dict(pos_weight="class", weight="class", reduction="sum"),
    dict(weight="full", reduction="none"), dict(pos_weight="class", reduction="none"),
])
@pytest.mark.parametrize("shape", [(6, 4), (3, 2, 4), (5, 1)])
def test_bce_with_logits_vs_torch(kw, shape, rng):
    ours_kw, th_kw = {}, {}
    for k, v in kw.items():
        if v == "class":
            a = rng.uniform(0.3, 3.0, shape[-1]).astype(np.float32)
        elif v == "full":
            a = rng.uniform(0.3, 3.0, shape).astype(np.float32)
        else:
            ours_kw[k] = th_kw[k] = v
            continue
        ours_kw[k], th_kw[k] = a, torch.tensor(a)
    x = _x(rng, *shape) * 4
    x.flat[0] = 60.0                 # stable for large logits
    t = rng.uniform(0, 1, shape).astype(np.float32)
    t.flat[1::2] = np.round(t.flat[1::2])
    _loss_pair(nn.BCEWithLogitsLoss(**ours_kw), torch.nn.BCEWithLogitsLoss(**th_kw), x, t,
               rng, tol=1e-5)

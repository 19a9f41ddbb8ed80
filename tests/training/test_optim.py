"""fastconv.optim against torch.optim: the same parameters and gradients, several steps."""
import numpy as np
import pytest

from fastconv import nn, optim


def _pair(rng, shapes=((3, 4), (5,), (2, 3, 2, 2))):
    torch = pytest.importorskip("torch")
    ours, theirs = [], []
    for s in shapes:
        a = rng.standard_normal(s).astype(np.float32)
        ours.append(nn.Parameter(a))
        theirs.append(torch.nn.Parameter(torch.tensor(a)))
    return ours, theirs


def _run(make_ours, make_theirs, rng, steps=5):
    import torch
    ours, theirs = _pair(rng)
    o, t = make_ours(ours), make_theirs(theirs)
    for _ in range(steps):
        for p, q in zip(ours, theirs):
            g = rng.standard_normal(p.shape).astype(np.float32)
            p.grad = g
            q.grad = torch.tensor(g)
        o.step()
        t.step()
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kw", [
    dict(lr=0.1),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.05, momentum=0.9, weight_decay=1e-2),
    dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4),
    dict(lr=0.05, momentum=0.5, dampening=0.3),
])
def test_sgd_vs_torch(kw, rng):
    torch = pytest.importorskip("torch")
    _run(lambda p: optim.SGD(p, **kw), lambda p: torch.optim.SGD(p, **kw), rng)


@pytest.mark.parametrize("kw", [
    dict(lr=1e-2),
    dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=1e-2),
    dict(lr=1e-2, amsgrad=True),
])
def test_adam_vs_torch(kw, rng):
    torch = pytest.importorskip("torch")
    _run(lambda p: optim.Adam(p, **kw), lambda p: torch.optim.Adam(p, **kw), rng)


def test_sgd_by_hand():
    p = nn.Parameter(np.array([1.0, -2.0], np.float32))
    o = optim.SGD([p], lr=0.5, momentum=0.9)
    p.grad = np.array([1.0, 1.0], np.float32)
    o.step()                                 # buf = g
    np.testing.assert_allclose(p.data, [0.5, -2.5])
    o.step()                                 # buf = 0.9 * 1 + 1 = 1.9
    np.testing.assert_allclose(p.data, [0.5 - 0.95, -2.5 - 0.95])


def test_skips_parameters_without_grad():
    p = nn.Parameter(np.ones(3, np.float32))
    for o in (optim.SGD([p], lr=1.0, weight_decay=0.1), optim.Adam([p], lr=1.0)):
        o.step()
        np.testing.assert_array_equal(p.data, 1.0)


def test_bad_arguments():
    p = [nn.Parameter(np.ones(2, np.float32))]
    with pytest.raises(ValueError, match="lr"):
        optim.SGD(p, lr=-1)
    with pytest.raises(ValueError, match="nesterov"):
        optim.SGD(p, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas"):
        optim.Adam(p, betas=(1.0, 0.9))
    with pytest.raises(ValueError, match="empty"):
        optim.Adam([])

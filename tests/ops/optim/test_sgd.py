"""fastconv.functional.sgd_update vs torch.optim.SGD and a float64 NumPy reference:
5 steps over a list of tensors (odd sizes, size 1, 0-d, empty), every option combo,
every ISA path."""
import itertools

import numpy as np
import pytest

import fastconv
from fastconv.functional import sgd_update

from ._helpers import grads_for, tensors

try:
    import torch
except ImportError:
    torch = None

STEPS = 5
COMBOS = [dict(momentum=m, dampening=d, weight_decay=wd, nesterov=n)
          for m, d, wd, n in itertools.product((0.0, 0.9), (0.0, 0.3), (0.0, 1e-2),
                                               (False, True))
          if not (n and (m == 0.0 or d != 0.0))]


def _ref64(params, grads, lr, momentum, dampening, weight_decay, nesterov):
    ps = [p.astype(np.float64) for p in params]
    bufs = [None] * len(ps)
    for gs in grads:
        for i, (p, g) in enumerate(zip(ps, gs)):
            d = g + weight_decay * p
            if momentum:
                bufs[i] = d.copy() if bufs[i] is None else momentum * bufs[i] + (1 - dampening) * d
                d = d + momentum * bufs[i] if nesterov else bufs[i]
            p -= lr * d
    return ps, bufs


def _run(params, grads, lr, **kw):
    ps = [p.copy() for p in params]
    bufs = [np.empty_like(p) for p in ps]
    for s, gs in enumerate(grads):
        sgd_update(ps, gs, bufs, lr=lr, first_step=s == 0, **kw)
    return ps, bufs


@pytest.mark.parametrize("kw", COMBOS, ids=lambda k: "-".join(f"{a}{b}" for a, b in k.items()))
def test_sgd_steps(isa, rng, kw):
    params = tensors(rng)
    grads = grads_for(rng, params, STEPS)
    lr = 0.05
    ps, bufs = _run(params, grads, lr, **kw)
    want, wbufs = _ref64(params, grads, lr, **kw)
    for p, w in zip(ps, want):
        np.testing.assert_allclose(p, w, rtol=1e-5, atol=2e-6)
    if kw["momentum"]:
        for b, w in zip(bufs, wbufs):
            np.testing.assert_allclose(b, w, rtol=1e-5, atol=2e-6)
    if torch is None:
        return
    tp = [torch.tensor(p, requires_grad=True) for p in params]
    opt = torch.optim.SGD(tp, lr=lr, **kw)
    for gs in grads:
        for t, g in zip(tp, gs):
            t.grad = torch.from_numpy(g)
        opt.step()
    for p, t in zip(ps, tp):
        np.testing.assert_allclose(p, t.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_sgd_empty_list_and_no_momentum_buffers(rng):
    sgd_update([], [], lr=0.1)
    sgd_update([], [], [], lr=0.1, momentum=0.9, first_step=True)
    p = tensors(rng, [(5,)])
    g = tensors(rng, [(5,)])
    want = p[0] - np.float32(0.1) * g[0]
    sgd_update(p, g, lr=0.1)
    np.testing.assert_allclose(p[0], want, rtol=1e-6)


def test_sgd_threads_agree(rng):
    params = tensors(rng, [(3,), (50001,), (7, 7), (30000,)])
    grads = grads_for(rng, params, 2)
    before = fastconv.get_num_threads()
    out = []
    try:
        for n in (1, 2):
            fastconv.set_num_threads(n)
            out.append(_run(params, grads, 0.1, momentum=0.9, nesterov=True)[0])
    finally:
        fastconv.set_num_threads(before)
    for a, b in zip(*out):
        np.testing.assert_array_equal(a, b)

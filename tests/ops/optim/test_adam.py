"""fastconv.functional.adam_update vs torch.optim.Adam / AdamW and a float64 NumPy
reference: 5 steps over a list of tensors, with and without weight decay and amsgrad,
every ISA path."""
import itertools
import math

import numpy as np
import pytest

import fastconv
from fastconv.functional import adam_update

from ._helpers import grads_for, tensors

try:
    import torch
except ImportError:
    torch = None

STEPS = 5
COMBOS = [dict(weight_decay=wd, decoupled=d, amsgrad=a)
          for wd, d, a in itertools.product((0.0, 0.1), (False, True), (False, True))]


def _ref64(params, grads, lr, b1, b2, eps, weight_decay, decoupled, amsgrad):
    ps = [p.astype(np.float64) for p in params]
    m = [np.zeros_like(p) for p in ps]
    v = [np.zeros_like(p) for p in ps]
    vmax = [np.zeros_like(p) for p in ps]
    for t, gs in enumerate(grads, 1):
        for i, (p, g) in enumerate(zip(ps, gs)):
            if decoupled:
                p *= 1 - lr * weight_decay
            else:
                g = g + weight_decay * p
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            vmax[i] = np.maximum(vmax[i], v[i])
            s = vmax[i] if amsgrad else v[i]
            p -= lr / (1 - b1 ** t) * m[i] / (np.sqrt(s) / math.sqrt(1 - b2 ** t) + eps)
    return ps


def _run(params, grads, lr, betas, eps, **kw):
    ps = [p.copy() for p in params]
    m = [np.zeros_like(p) for p in ps]
    v = [np.zeros_like(p) for p in ps]
    vmax = [np.zeros_like(p) for p in ps] if kw["amsgrad"] else None
    for t, gs in enumerate(grads, 1):
        adam_update(ps, gs, m, v, step=t, lr=lr, betas=betas, eps=eps, max_exp_avg_sqs=vmax,
                    **kw)
    return ps


@pytest.mark.parametrize("kw", COMBOS, ids=lambda k: "-".join(f"{a}{b}" for a, b in k.items()))
def test_adam_steps(isa, rng, kw):
    params = tensors(rng)
    grads = grads_for(rng, params, STEPS)
    lr, betas, eps = 1e-2, (0.9, 0.999), 1e-8
    ps = _run(params, grads, lr, betas, eps, **kw)
    want = _ref64(params, grads, lr, *betas, eps, **kw)
    for p, w in zip(ps, want):
        np.testing.assert_allclose(p, w, rtol=1e-5, atol=1e-6)
    if torch is None:
        return
    tp = [torch.tensor(p, requires_grad=True) for p in params]
    cls = torch.optim.AdamW if kw["decoupled"] else torch.optim.Adam
    opt = cls(tp, lr=lr, betas=betas, eps=eps, weight_decay=kw["weight_decay"],
              amsgrad=kw["amsgrad"])
    for gs in grads:
        for t, g in zip(tp, gs):
            t.grad = torch.from_numpy(g)
        opt.step()
    for p, t in zip(ps, tp):
        np.testing.assert_allclose(p, t.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_adam_small_beta1(isa, rng):
    """beta1 > 0.5 and < 0.5 take torch's two lerp formulas."""
    params = tensors(rng, [(5, 9), (1,)])
    grads = grads_for(rng, params, STEPS)
    kw = dict(weight_decay=0.0, decoupled=False, amsgrad=False)
    ps = _run(params, grads, 1e-2, (0.3, 0.9), 1e-6, **kw)
    for p, w in zip(ps, _ref64(params, grads, 1e-2, 0.3, 0.9, 1e-6, **kw)):
        np.testing.assert_allclose(p, w, rtol=1e-5, atol=1e-6)


def test_adam_empty_list():
    adam_update([], [], [], [], step=1)


def test_adam_threads_agree(rng):
    params = tensors(rng, [(3,), (50001,), (7, 7), (30000,)])
    grads = grads_for(rng, params, 2)
    kw = dict(weight_decay=0.01, decoupled=True, amsgrad=True)
    before = fastconv.get_num_threads()
    out = []
    try:
        for n in (1, 2):
            fastconv.set_num_threads(n)
            out.append(_run(params, grads, 1e-3, (0.9, 0.999), 1e-8, **kw))
    finally:
        fastconv.set_num_threads(before)
    for a, b in zip(*out):
        np.testing.assert_array_equal(a, b)

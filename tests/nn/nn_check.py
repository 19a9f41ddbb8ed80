"""Shared checks for the layer tests: a fastconv.nn module against its torch.nn twin
(outputs, input gradient, parameter gradients) and a finite-difference check."""
import numpy as np
from reference import rel_err  # noqa: F401  (the layer tests import it from here)


def copy_params_to_torch(ours, theirs):
    import torch
    sd = {k: torch.from_numpy(np.array(v)) for k, v in ours.state_dict().items()}
    theirs.load_state_dict(sd, strict=True)


def check_against_torch(ours, theirs, x, rng, out_tol=1e-5, grad_tol=1e-4, copy=True):
    """Runs both modules on x in their current modes, back-propagates the same random
    grad_out, and compares output, input gradient and every parameter gradient."""
    import torch
    if copy:
        copy_params_to_torch(ours, theirs)
    xt = torch.tensor(x, requires_grad=True)
    yt = theirs(xt)
    y = ours(x)
    assert y.shape == tuple(yt.shape)
    assert rel_err(y, yt.detach().numpy()) <= out_tol
    g = rng.standard_normal(y.shape).astype(np.float32)
    theirs.zero_grad()
    yt.backward(torch.from_numpy(g))
    ours.zero_grad()
    gx = ours.backward(g)
    assert gx.shape == x.shape
    assert rel_err(gx, xt.grad.numpy()) <= grad_tol
    tp = dict(theirs.named_parameters())
    names = [n for n, _ in ours.named_parameters()]
    assert names == list(tp)
    for n, p in ours.named_parameters():
        assert rel_err(p.grad, tp[n].grad.numpy()) <= grad_tol, n
    return y, gx


def finite_difference(module, x, rng, eps=1e-2, tol=2e-3):
    """Directional derivative of L = <module(x), r> along a random v, against <gx, v>
    and <g_param, v_param> from backward (float32 central differences)."""
    r = rng.standard_normal(module(x).shape).astype(np.float32)
    module(x)
    module.zero_grad()
    gx = module.backward(r)

    def L(xx):
        return float(np.sum(module(xx).astype(np.float64) * r))

    v = rng.standard_normal(x.shape).astype(np.float32)
    num = (L(x + eps * v) - L(x - eps * v)) / (2 * eps)
    ana = float(np.sum(gx.astype(np.float64) * v))
    assert abs(num - ana) <= tol * max(1.0, abs(ana)), (num, ana)
    for name, p in module.named_parameters():
        vp = rng.standard_normal(p.shape).astype(np.float32)
        base = p.data.copy()
        p.data = base + eps * vp
        lp = L(x)
        p.data = base - eps * vp
        lm = L(x)
        p.data = base
        num = (lp - lm) / (2 * eps)
        ana = float(np.sum(p.grad.astype(np.float64) * vp))
        assert abs(num - ana) <= tol * max(1.0, abs(ana)), (name, num, ana)

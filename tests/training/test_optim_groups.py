"""Parameter groups, AdamW, RMSprop and optimizer state dicts against torch.optim:
the same parameters and gradients, step for step."""
import numpy as np
import pytest

from fastconv import nn, optim

torch = pytest.importorskip("torch")

SHAPES = ((3, 4), (5,), (2, 3, 2, 2), (7,))


def _params(rng, shapes=SHAPES):
    ours, theirs = [], []
    for s in shapes:
        a = rng.standard_normal(s).astype(np.float32)
        ours.append(nn.Parameter(a))
        theirs.append(torch.nn.Parameter(torch.tensor(a)))
    return ours, theirs


def _grads(rng, ours, theirs, skip=()):
    for i, (p, q) in enumerate(zip(ours, theirs)):
        if i in skip:
            p.grad = q.grad = None
            continue
        g = rng.standard_normal(p.shape).astype(np.float32)
        p.grad = g
        q.grad = torch.tensor(g)


def _close(ours, theirs):
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-5, atol=1e-6)


def _groups(ps, extra):
    """Two groups: the first parameters with the defaults, the others with `extra`."""
    return [{"params": ps[:2]}, dict({"params": ps[2:]}, **extra)]


CASES = [
    ("SGD", dict(lr=0.01), dict(lr=0.05)),
    ("SGD", dict(lr=0.01, momentum=0.9), dict(lr=0.05, nesterov=True, weight_decay=1e-2)),
    ("SGD", dict(lr=0.02, momentum=0.5, dampening=0.2), dict(momentum=0.0)),
    ("Adam", dict(lr=1e-2), dict(lr=3e-2, betas=(0.8, 0.9))),
    ("Adam", dict(lr=1e-2, weight_decay=1e-2), dict(amsgrad=True, eps=1e-6)),
    ("AdamW", dict(lr=1e-2), dict(weight_decay=0.1)),
    ("AdamW", dict(lr=1e-2, amsgrad=True), dict(lr=1e-3, weight_decay=0.0)),
    ("RMSprop", dict(lr=1e-2), dict(lr=3e-3, alpha=0.9)),
    ("RMSprop", dict(lr=1e-2, momentum=0.9, centered=True), dict(weight_decay=1e-2)),
    ("RMSprop", dict(lr=1e-3, centered=True, eps=1e-4), dict(momentum=0.5, alpha=0.3)),
]


@pytest.mark.parametrize("name,kw,extra", CASES)
def test_groups_vs_torch(name, kw, extra, rng):
    ours, theirs = _params(rng)
    o = getattr(optim, name)(_groups(ours, extra), **kw)
    t = getattr(torch.optim, name)(_groups(theirs, extra), **kw)
    for step in range(6):
        # parameter 3 misses the first two steps: its state starts later (as torch's)
        _grads(rng, ours, theirs, skip=(3,) if step < 2 else ())
        o.step()
        t.step()
        _close(ours, theirs)


@pytest.mark.parametrize("name,kw", [
    ("AdamW", dict(lr=1e-2)), ("AdamW", dict(lr=5e-3, betas=(0.5, 0.6), weight_decay=0.3)),
    ("RMSprop", dict()), ("RMSprop", dict(lr=1e-3, alpha=0.5, weight_decay=0.1)),
    ("RMSprop", dict(momentum=0.9)), ("RMSprop", dict(centered=True)),
    ("RMSprop", dict(centered=True, momentum=0.3, alpha=0.2)),
])
def test_new_optimizers_vs_torch(name, kw, rng):
    ours, theirs = _params(rng)
    o, t = getattr(optim, name)(ours, **kw), getattr(torch.optim, name)(theirs, **kw)
    for _ in range(8):
        _grads(rng, ours, theirs)
        o.step()
        t.step()
    _close(ours, theirs)


def test_rmsprop_by_hand():
    p = nn.Parameter(np.array([1.0], np.float32))
    o = optim.RMSprop([p], lr=0.1, alpha=0.5, eps=0.0)
    p.grad = np.array([2.0], np.float32)
    o.step()                 # v = 0.5 * 4 = 2;  p -= 0.1 * 2 / sqrt(2)
    np.testing.assert_allclose(p.data, [1.0 - 0.1 * 2 / np.sqrt(2)], rtol=1e-6)


def _state_equal(ours, theirs):
    """Our state dict equals torch's: the same structure, options and arrays."""
    assert set(ours) == {"state", "param_groups"}
    assert len(ours["param_groups"]) == len(theirs["param_groups"])
    for a, b in zip(ours["param_groups"], theirs["param_groups"]):
        assert a["params"] == b["params"]
        for k, v in a.items():
            if k != "params":
                assert (tuple(v) if isinstance(v, (tuple, list)) else v) == \
                    (tuple(b[k]) if isinstance(b[k], (tuple, list)) else b[k]), k
    assert sorted(ours["state"]) == sorted(theirs["state"])
    for i, st in ours["state"].items():
        tst = theirs["state"][i]
        assert set(k for k, v in st.items() if v is not None) == \
            set(k for k, v in tst.items() if v is not None)
        for k, v in st.items():
            if k == "step":
                assert v == int(tst[k])
            elif v is not None:
                np.testing.assert_allclose(v, tst[k].numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,kw,extra", CASES)
def test_state_dict_matches_torch_and_resumes(name, kw, extra, rng):
    ours, theirs = _params(rng)
    o = getattr(optim, name)(_groups(ours, extra), **kw)
    t = getattr(torch.optim, name)(_groups(theirs, extra), **kw)
    for step in range(3):
        _grads(rng, ours, theirs, skip=(3,) if step < 2 else ())
        o.step()
        t.step()
    sd = o.state_dict()
    _state_equal(sd, t.state_dict())
    # a fresh optimizer over copies of the parameters continues bit for bit
    copies = [nn.Parameter(p.data.copy()) for p in ours]
    o2 = getattr(optim, name)(_groups(copies, {}), lr=123.0)   # options come from sd
    o2.load_state_dict(sd)
    # ... and so does one loaded from torch's state dict (tensors, float steps)
    copies3 = [nn.Parameter(p.data.copy()) for p in ours]
    o3 = getattr(optim, name)(_groups(copies3, {}), lr=123.0)
    o3.load_state_dict(t.state_dict())
    for _ in range(3):
        _grads(rng, ours, theirs)
        for c, c3, p in zip(copies, copies3, ours):
            c.grad = c3.grad = p.grad
        o.step()
        o2.step()
        o3.step()
        t.step()
    for p, c in zip(ours, copies):
        np.testing.assert_array_equal(p.data, c.data)
    _close(copies3, theirs)
    _close(ours, theirs)


def test_state_dict_is_a_copy(rng):
    ours, _ = _params(rng)
    o = optim.SGD(ours, lr=0.1, momentum=0.9)
    for p in ours:
        p.grad = np.ones(p.shape, np.float32)
    o.step()
    sd = o.state_dict()
    before = sd["state"][0]["momentum_buffer"].copy()
    o.step()
    np.testing.assert_array_equal(sd["state"][0]["momentum_buffer"], before)
    sd["param_groups"][0]["lr"] = 5.0
    assert o.param_groups[0]["lr"] == 0.1


def test_load_state_dict_errors_change_nothing(rng):
    ours, _ = _params(rng)
    o = optim.Adam(ours, lr=0.1)
    for p in ours:
        p.grad = np.ones(p.shape, np.float32)
    o.step()
    sd = o.state_dict()
    o2 = optim.Adam(ours[:3], lr=0.5)
    with pytest.raises(ValueError, match="parameter group 0 has 4 parameters"):
        o2.load_state_dict(sd)
    bad = o.state_dict()
    bad["state"][1]["exp_avg"] = np.zeros((9,), np.float32)
    o3 = optim.Adam(ours, lr=0.5)
    with pytest.raises(ValueError, match=r"state\[1\]\['exp_avg'\] has shape"):
        o3.load_state_dict(bad)
    assert o3.param_groups[0]["lr"] == 0.5 and not o3.state
    with pytest.raises(ValueError, match="param_groups"):
        o3.load_state_dict({"state": {}})
    two = optim.Adam([{"params": ours[:2]}, {"params": ours[2:]}])
    with pytest.raises(ValueError, match="2 parameter groups|1 parameter groups"):
        two.load_state_dict(sd)


def test_group_errors(rng):
    ours, _ = _params(rng)
    with pytest.raises(ValueError, match="more than one group"):
        optim.SGD([{"params": ours[:2]}, {"params": ours[1:]}], lr=0.1)
    with pytest.raises(ValueError, match="unknown option"):
        optim.SGD([{"params": ours, "betas": (0.9, 0.9)}], lr=0.1)
    with pytest.raises(ValueError, match="lr"):
        optim.SGD([{"params": ours[:2]}, {"params": ours[2:], "lr": -1.0}], lr=0.1)
    with pytest.raises(TypeError, match=r"params\[0\]"):
        optim.Adam([np.zeros(3, np.float32)])
    with pytest.raises(ValueError, match="alpha"):
        optim.RMSprop(ours, alpha=-0.5)
    with pytest.raises(ValueError, match="betas"):
        optim.AdamW(ours, betas=(0.9, 1.0))
    o = optim.SGD(ours[:2], lr=0.1)
    o.add_param_group({"params": ours[2:], "lr": 0.5})
    assert [g["lr"] for g in o.param_groups] == [0.1, 0.5]
    assert o.param_groups[1]["momentum"] == 0.0


def test_frozen_parameter_is_not_updated(rng):
    ours, _ = _params(rng)
    ours[1].requires_grad = False
    before = ours[1].data.copy()
    for o in (optim.SGD(ours, lr=0.1, momentum=0.9, weight_decay=0.1), optim.Adam(ours),
              optim.AdamW(ours), optim.RMSprop(ours, momentum=0.5)):
        for p in ours:
            p.grad = np.ones(p.shape, np.float32)   # a stale gradient must not apply
        o.step()
        assert ours[1] not in o.state
    np.testing.assert_array_equal(ours[1].data, before)

"""fastconv.optim.lr_scheduler against torch.optim.lr_scheduler: both stepped side by
side for many steps, the learning rates (and OneCycleLR's momentum / beta1) equal."""
import warnings

import numpy as np
import pytest

from fastconv import nn, optim
from fastconv.optim import lr_scheduler as ours_sched

torch = pytest.importorskip("torch")


def _pair(opt_name, opt_kw, groups_lr=(None, 0.05)):
    """An optimizer of ours and torch's over two groups (the second with its own lr)."""
    a = [nn.Parameter(np.ones(3, np.float32)), nn.Parameter(np.ones(2, np.float32))]
    b = [torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(2))]

    def groups(ps):
        return [dict({"params": [p]}, **({} if lr is None else {"lr": lr}))
                for p, lr in zip(ps, groups_lr)]
    return (getattr(optim, opt_name)(groups(a), **opt_kw),
            getattr(torch.optim, opt_name)(groups(b), **opt_kw))


def _momenta(opt):
    return [g["betas"][0] if "betas" in g else g.get("momentum") for g in opt.param_groups]


def _same(o, t):
    assert [g["lr"] for g in o.param_groups] == [g["lr"] for g in t.param_groups]
    assert _momenta(o) == _momenta(t)


CASES = [
    ("StepLR", dict(step_size=3), 40),
    ("StepLR", dict(step_size=1, gamma=0.5), 30),
    ("MultiStepLR", dict(milestones=[2, 5, 5, 11], gamma=0.3), 30),
    ("CosineAnnealingLR", dict(T_max=10), 45),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=1e-3), 60),
    ("OneCycleLR", dict(max_lr=0.5, total_steps=50), 50),
    ("OneCycleLR", dict(max_lr=[0.5, 0.2], epochs=4, steps_per_epoch=9, pct_start=0.25,
                        anneal_strategy="linear", div_factor=10.0), 36),
    ("OneCycleLR", dict(max_lr=0.3, total_steps=40, three_phase=True,
                        final_div_factor=100.0), 40),
    ("OneCycleLR", dict(max_lr=0.3, total_steps=20, cycle_momentum=False), 20),
]


@pytest.mark.parametrize("opt_name,opt_kw", [("SGD", dict(lr=0.1, momentum=0.9)),
                                             ("Adam", dict(lr=0.01))])
@pytest.mark.parametrize("name,kw,steps", CASES)
def test_sequence_vs_torch(name, kw, steps, opt_name, opt_kw):
    o, t = _pair(opt_name, opt_kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")       # torch's "optimizer.step() first" warning
        so, st = getattr(ours_sched, name)(o, **kw), getattr(torch.optim.lr_scheduler, name)(t, **kw)
        _same(o, t)
        for _ in range(steps):
            o.step()
            t.step()
            so.step()
            st.step()
            _same(o, t)
            assert so.get_last_lr() == st.get_last_lr()


@pytest.mark.parametrize("kw", [
    dict(), dict(mode="max", factor=0.5, patience=2, cooldown=1),
    dict(patience=0, threshold=0.1, threshold_mode="abs", min_lr=[1e-3, 2e-2]),
    dict(mode="max", threshold_mode="abs", patience=1, eps=1e-2),
])
def test_reduce_on_plateau_vs_torch(kw):
    rng = np.random.default_rng(0)
    metrics = np.concatenate([np.linspace(1, 0.5, 10), np.full(20, 0.5),
                              rng.uniform(0.4, 0.6, 40)])
    o, t = _pair("SGD", dict(lr=0.1))
    so = ours_sched.ReduceLROnPlateau(o, **kw)
    st = torch.optim.lr_scheduler.ReduceLROnPlateau(t, **kw)
    changes = 0
    for m in metrics:
        before = o.param_groups[0]["lr"]
        so.step(float(m))
        st.step(float(m))
        _same(o, t)
        changes += o.param_groups[0]["lr"] != before
    assert changes >= 1                   # the sequence did reduce


@pytest.mark.parametrize("name,kw,steps", CASES[:8])
def test_state_dict_resumes(name, kw, steps):
    """Stopped halfway, saved and loaded into a fresh optimizer and scheduler, the
    sequence continues as the uninterrupted one."""
    o, _ = _pair("SGD", dict(lr=0.1, momentum=0.9))
    s = getattr(ours_sched, name)(o, **kw)
    lrs = []
    for i in range(steps):
        if i == steps // 2:
            osd, ssd = o.state_dict(), s.state_dict()
        o.step()
        s.step()
        lrs.append(s.get_last_lr())
    o2, _ = _pair("SGD", dict(lr=0.1, momentum=0.9))
    s2 = getattr(ours_sched, name)(o2, **kw)
    o2.load_state_dict(osd)
    s2.load_state_dict(ssd)
    for i in range(steps // 2, steps):
        o2.step()
        s2.step()
        assert s2.get_last_lr() == lrs[i]


def test_plateau_state_dict_resumes():
    o, _ = _pair("SGD", dict(lr=0.1))
    s = ours_sched.ReduceLROnPlateau(o, patience=1)
    metrics = [1.0, 0.9, 0.95, 0.97, 0.99, 0.8, 0.85, 0.9, 0.91, 0.92]
    for m in metrics[:4]:
        s.step(m)
    ssd, osd = s.state_dict(), o.state_dict()
    for m in metrics[4:]:
        s.step(m)
    o2, _ = _pair("SGD", dict(lr=0.1))
    s2 = ours_sched.ReduceLROnPlateau(o2, patience=1)
    o2.load_state_dict(osd)
    s2.load_state_dict(ssd)
    for m in metrics[4:]:
        s2.step(m)
    assert s2.get_last_lr() == s.get_last_lr()
    assert s.get_last_lr()[0] < 0.1


def test_errors():
    o, _ = _pair("SGD", dict(lr=0.1))
    with pytest.raises(TypeError, match="optimizer"):
        ours_sched.StepLR(object(), 3)
    with pytest.raises(ValueError, match="step_size"):
        ours_sched.StepLR(o, 0)
    with pytest.raises(ValueError, match="total_steps"):
        ours_sched.OneCycleLR(o, max_lr=0.1)
    with pytest.raises(ValueError, match="max_lr"):
        ours_sched.OneCycleLR(o, max_lr=[0.1], total_steps=5)
    with pytest.raises(ValueError, match="factor"):
        ours_sched.ReduceLROnPlateau(o, factor=1.0)
    s = ours_sched.OneCycleLR(o, max_lr=0.1, total_steps=2)
    s.step()
    s.step()
    with pytest.raises(ValueError, match="total_steps"):
        s.step()
    with pytest.raises(ValueError, match="unknown entries"):
        ours_sched.StepLR(o, 3).load_state_dict({"T_max": 3})

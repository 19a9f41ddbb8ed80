"""fastconv.train.fit: the same weights as the hand-written loop it replaces, history
and printed lines, schedulers stepped as torch's are, checkpoints and exact resume."""
import os

import numpy as np
import pytest

import fastconv as fc
from fastconv.data import ArrayDataset, DataLoader
from fastconv.train import evaluate, fit, load_checkpoint


def _data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centres = np.array([[2, 0, 0, 1], [0, 2, 0, -1], [0, 0, 2, 0]], np.float32)
    x = (centres[y] + rng.standard_normal((n, 4)).astype(np.float32)).reshape(n, 1, 2, 2)
    return x, y.astype(np.int64)


def _model(seed=1):
    fc.nn.init.manual_seed(seed)
    return fc.nn.Sequential(fc.nn.Flatten(), fc.nn.Linear(4, 8), fc.nn.Tanh(),
                            fc.nn.Linear(8, 3))


def _weights(model):
    return {k: np.array(v) for k, v in model.state_dict().items()}


def test_fit_is_the_plain_loop(capsys):
    x, y = _data()
    loader = DataLoader(ArrayDataset(x, y), batch_size=10, shuffle=True, seed=4)
    model = _model()
    opt = fc.optim.SGD(model.parameters(), lr=0.1)
    hist = fit(model, fc.nn.CrossEntropyLoss(), opt, loader, val_loader=[(x, y)], epochs=3)

    ref = _model()
    ref_opt = fc.optim.SGD(ref.parameters(), lr=0.1)
    loss_fn = fc.nn.CrossEntropyLoss()
    for epoch in range(3):
        order = np.random.default_rng([4, epoch]).permutation(len(x))   # the documented order
        total = correct = 0.0
        ref.train()
        for i in range(0, len(x), 10):
            xb, yb = x[order[i:i + 10]], y[order[i:i + 10]]
            out = ref(xb)
            total += loss_fn(out, yb) * len(xb)
            correct += (out.argmax(1) == yb).sum()
            ref.zero_grad()
            ref.backward(loss_fn.backward())
            ref_opt.step()
        assert hist[epoch]["loss"] == pytest.approx(total / len(x), rel=1e-6)
        assert hist[epoch]["accuracy"] == pytest.approx(correct / len(x))
    for k, v in _weights(ref).items():
        np.testing.assert_array_equal(_weights(model)[k], v)
    ref.eval()
    out = ref(x)
    assert hist[-1]["val_loss"] == pytest.approx(loss_fn(out, y), rel=1e-6)
    assert hist[-1]["val_accuracy"] == pytest.approx((out.argmax(1) == y).mean())
    assert [h["epoch"] for h in hist] == [1, 2, 3] and all(h["lr"] == 0.1 for h in hist)
    assert hist[-1]["loss"] < hist[0]["loss"] and hist[-1]["val_accuracy"] > 0.6
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("epoch")]
    assert len(lines) == 3 and "val_accuracy" in lines[-1] and lines[0].startswith("epoch 1/3")


def test_quiet_and_non_classification_targets(capsys):
    x, _ = _data(20)
    target = np.zeros((20, 3), np.float32)
    model = _model()
    hist = fit(model, fc.nn.MSELoss(), fc.optim.SGD(model.parameters(), lr=0.05),
               [(x[:10], target[:10]), (x[10:], target[10:])], epochs=2, progress=False)
    assert capsys.readouterr().out == ""
    assert "accuracy" not in hist[0] and hist[1]["loss"] < hist[0]["loss"]
    assert evaluate(model, fc.nn.MSELoss(), [(x, target)]).keys() == {"loss"}


class CountingScheduler:
    def __init__(self, opt, factor=0.5):
        self.opt, self.factor, self.calls, self.metrics = opt, factor, 0, []

    def step(self, metric=None):
        self.calls += 1
        self.metrics.append(metric)
        for group in getattr(self.opt, "param_groups", None) or [self.opt.__dict__]:
            group["lr"] *= self.factor

    def state_dict(self):
        return {"calls": self.calls}

    def load_state_dict(self, d):
        self.calls = d["calls"]


class OneCycleLR(CountingScheduler):
    pass


class ReduceLROnPlateau(CountingScheduler):
    pass


def test_schedulers_step_per_epoch_per_batch_or_on_a_metric():
    x, y = _data(40)
    batches = [(x[i:i + 10], y[i:i + 10]) for i in range(0, 40, 10)]
    model = _model()
    opt = fc.optim.SGD(model.parameters(), lr=0.8)
    s = CountingScheduler(opt)
    hist = fit(model, fc.nn.CrossEntropyLoss(), opt, batches, epochs=3, scheduler=s,
               progress=False)
    assert s.calls == 3 and [h["lr"] for h in hist] == [0.8, 0.4, 0.2]
    s = OneCycleLR(opt)
    fit(model, fc.nn.CrossEntropyLoss(), opt, batches, epochs=2, scheduler=s, progress=False)
    assert s.calls == 8
    s = CountingScheduler(opt)
    fit(model, fc.nn.CrossEntropyLoss(), opt, batches, epochs=2, scheduler=s,
        scheduler_step="batch", progress=False)
    assert s.calls == 8
    s = ReduceLROnPlateau(opt)
    hist = fit(model, fc.nn.CrossEntropyLoss(), opt, batches, val_loader=batches[:1],
               epochs=2, scheduler=s, progress=False)
    assert s.metrics == [h["val_loss"] for h in hist]


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_checkpoint_and_resume_give_the_uninterrupted_run(tmp_path, momentum):
    if momentum and not hasattr(fc.optim.SGD, "state_dict"):
        pytest.skip("the optimizer has no state_dict yet: momentum cannot be checkpointed")
    x, y = _data()
    ds = ArrayDataset(x, y)

    def run(epochs, path, model=None):
        model = model or _model()
        opt = fc.optim.SGD(model.parameters(), lr=0.1, momentum=momentum)
        # the learning rate lives in the optimizer's state: constant, unless it has one
        sched = CountingScheduler(opt, 0.5 if hasattr(opt, "state_dict") else 1.0)
        hist = fit(model, fc.nn.CrossEntropyLoss(), opt,
                   DataLoader(ds, batch_size=16, shuffle=True, seed=9), epochs=epochs,
                   scheduler=sched, checkpoint=path, progress=False)
        return model, hist, sched

    straight, hist_all, _ = run(4, None)
    path = str(tmp_path / "run.npz")
    run(2, path)
    ck = load_checkpoint(path)
    assert ck["epoch"] == 2 and len(ck["history"]) == 2 and ck["scheduler"] == {"calls": 2}
    resumed, hist, sched = run(4, path, model=_model(seed=99))   # other initial weights
    assert sched.calls == 4                                        # 2 restored + 2 new
    assert [h["epoch"] for h in hist] == [1, 2, 3, 4]
    for k, v in _weights(straight).items():
        np.testing.assert_array_equal(_weights(resumed)[k], v)
    assert [h["loss"] for h in hist] == pytest.approx([h["loss"] for h in hist_all])
    assert load_checkpoint(path)["epoch"] == 4
    again, _, _ = run(4, path, model=_model(seed=5))               # nothing left to train
    for k, v in _weights(straight).items():
        np.testing.assert_array_equal(_weights(again)[k], v)


def test_checkpoint_of_weights_only_is_refused(tmp_path):
    model = _model()
    path = str(tmp_path / "w.npz")
    fc.save(model, path)
    with pytest.raises(ValueError, match="not a training checkpoint"):
        fit(model, fc.nn.CrossEntropyLoss(), fc.optim.SGD(model.parameters(), lr=0.1), [],
            checkpoint=path, progress=False)
    assert os.path.exists(path)


def test_bad_arguments():
    model = _model()
    opt = fc.optim.SGD(model.parameters(), lr=0.1)
    loss = fc.nn.CrossEntropyLoss()
    with pytest.raises(ValueError, match="epochs"):
        fit(model, loss, opt, [], epochs=-1)
    with pytest.raises(TypeError, match="loss"):
        fit(model, lambda a, b: 0.0, opt, [])
    with pytest.raises(ValueError, match="scheduler_step"):
        fit(model, loss, opt, [], scheduler_step="sometimes")
    with pytest.raises(TypeError, match="pair"):
        fit(model, loss, opt, [np.zeros((2, 1, 2, 2), np.float32)], progress=False)

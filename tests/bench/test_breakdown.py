"""`bench --breakdown`: the conv timing wrappers are transparent, count every conv call
and are removed afterwards; the parts add up to the step."""
import numpy as np
import pytest

import fastconv.models as fm
from fastconv import nn
from fastconv.bench import breakdown, ops
from fastconv.bench.cli import main as bench_main


class TickClock:
    """Advances one second per reading: each timed call then lasts exactly 1 s."""

    def __init__(self):
        self.t = 0.0

    def __call__(self):
        self.t += 1.0
        return self.t


def _lenet_batch(n=2):
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, 1, 32, 32), dtype=np.float32), rng.integers(0, 10, n)


def test_wrappers_are_transparent_and_removed():
    model = fm.lenet5()
    x, labels = _lenet_batch()
    model.eval()
    want = model(x)
    timer = breakdown._ConvTimer()
    with breakdown.timed_fastconv_convs(model, timer) as n:
        assert n == 3  # LeNet-5's C1, C3, C5
        np.testing.assert_array_equal(model(x), want)
    convs = [m for m in model.modules() if type(m) is nn.Conv2d]
    assert all("forward" not in vars(m) and "backward" not in vars(m) for m in convs)


def test_every_conv_forward_and_backward_is_counted():
    model = fm.lenet5()
    x, labels = _lenet_batch()
    step = ops._fc_model_step(model, x, labels, "train")
    timer = breakdown._ConvTimer(clock=TickClock())
    with breakdown.timed_fastconv_convs(model, timer):
        step()
    # Three convs, one forward and one backward each, each read as lasting 1 s.
    assert timer.total == {"conv fwd": 3.0, "conv bwd": 3.0}
    assert set(timer.by_shape) == {"1->6 5x5/1 @32x32", "6->16 5x5/1 @14x14",
                                   "16->120 5x5/1 @5x5"}
    assert all(d["calls"] == 1 for d in timer.by_shape.values())


def test_parts_add_up_to_the_step():
    res = breakdown.breakdown("lenet5", batch=2, steps=2, warmup=1, with_torch=False)
    fc = res["fastconv"]
    assert res["torch"] is None and res["convs"] == 3
    assert fc["conv fwd"] > 0 and fc["conv bwd"] > 0 and fc["other"] >= 0
    assert fc["conv fwd"] + fc["conv bwd"] + fc["other"] == pytest.approx(fc["step_s"])
    text = breakdown.format_breakdown(res)
    for part in breakdown.PARTS + ("step",):
        assert part in text
    assert "torch" not in text


def test_torch_twin_is_split_by_the_same_conv_shapes():
    torch = pytest.importorskip("torch")
    from fastconv.bench import torch_models
    x, labels = _lenet_batch()
    tm = torch_models.lenet5()
    step = ops._torch_model_step(torch, tm, x, labels, "train")
    timer = breakdown._ConvTimer(clock=TickClock())
    with breakdown.timed_torch_convs(torch, tm, timer):
        step()
    assert timer.total == {"conv fwd": 3.0, "conv bwd": 3.0}
    assert set(timer.by_shape) == {"1->6 5x5/1 @32x32", "6->16 5x5/1 @14x14",
                                   "16->120 5x5/1 @5x5"}
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in tm.modules())


def test_cli_breakdown(capsys):
    assert bench_main(["--breakdown", "lenet5", "--steps", "1", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "training step of lenet5, batch 64" in out and "conv bwd" in out
    assert bench_main(["--breakdown", "vgg99"]) == 2
    assert "unknown model 'vgg99'" in capsys.readouterr().err
    assert bench_main(["--breakdown", "lenet5", "--steps", "0"]) == 2

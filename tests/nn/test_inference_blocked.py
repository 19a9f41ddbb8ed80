"""The inference plan at batch 1 runs its convolutions on the blocked layout (NCHW8c),
keeping it between consecutive convolutions and reordering once at each end of a chain;
at larger batches every layer with AVX-512's table, elsewhere NCHW but for the layers
AUTO's forward itself runs blocked (fc_conv2d_plan_blocked), or blocked on small maps when
BLOCKED_BATCHED_MAX_PIXELS is set."""
import importlib

import numpy as np
import pytest

from batchnorm_stats import randomize_fc_bn
from library_hooks import forced
from reference import rel_err

import fastconv as fc
from fastconv import nn

inf = importlib.import_module("fastconv.nn.inference")
# a blocked convolution runs the direct kernel or, on 3x3 stride-1 layers of 64+
# channels, Winograd F(2x2,3x3) or F(4x4,3x3) (fc_conv2d_plan_blocked_winograd)
BLOCKED = {"nchw8c", "nchw8c_winograd_f23", "nchw8c_winograd_f43"}


@pytest.fixture
def classic_rule():
    """AUTO's 3x3 rule without the kernel table's all_3x3 and plan_any_batch (conv2d.c):
    the AVX2 table where the CPU has it, so that the batch > 1 tests below see the layers
    that rule picks whatever the best ISA (AVX-512's table runs every layer blocked:
    tested last)."""
    before = fc.get_isa()
    if before == "avx512":
        fc.set_isa("avx2")
    yield
    fc.set_isa(before)


def test_resnet_keeps_the_layout_between_blocks(isa):
    model = randomize_fc_bn(fc.models.resnet18(num_classes=10), 1)
    model.eval()
    x = np.random.default_rng(2).standard_normal((1, 3, 64, 64)).astype(np.float32)
    plan = nn.inference(model)
    y = plan(x)
    algos = plan.algorithms()
    assert algos[0] not in BLOCKED and set(algos[1:]) <= BLOCKED   # 3-channel conv1 is not
    # stage 1's four 3x3 layers (64 channels, 16x16: 64 2x2 tiles, 16 4x4 ones) by
    # F(2x2), stage 2's (8x8 maps, 16 tiles) too, not the strided ones nor stages 3-4
    # (4x4, 2x2: < 16 tiles)
    assert [i for i, a in enumerate(algos) if a == "nchw8c_winograd_f23"] == \
        [1, 2, 3, 4, 7, 8, 9]
    ops = [s.op for s in plan._last.steps]
    assert ops.count("to_nchw8c") == 1 and ops.count("from_nchw8c") == 1
    assert rel_err(y, model(x)) <= 1e-4


def test_equal_to_the_nchw_plan(isa, monkeypatch, rng):
    model = randomize_fc_bn(fc.models.resnet18(num_classes=7), 3)
    model.eval()
    x = rng.standard_normal((1, 3, 48, 40)).astype(np.float32)
    blocked = nn.inference(model)(x)
    monkeypatch.setattr(inf, "BLOCKED_MAX_BATCH", 0)
    monkeypatch.setattr(inf, "BLOCKED_BATCHED_MAX_PIXELS", 0)
    with forced("fc_conv_blocked_nchw_set_mode", 0):    # nor AUTO's own blocked forwards
        plan = nn.inference(model)
        plain = plan(x)
    assert not BLOCKED & set(plan.algorithms())
    assert rel_err(blocked, plain) <= 1e-5


def test_layouts_meet_at_other_steps(rng):
    """A max pool between blocked convolutions (pools blocked), a grouped one (plain) and
    channel counts that are not multiples of 8: each value is reordered where a step
    needs the other layout."""
    model = nn.Sequential(
        nn.Conv2d(3, 20, 3, padding=1), nn.ReLU(),            # 3 channels: plain
        nn.Conv2d(20, 21, 3, padding=1), nn.BatchNorm2d(21), nn.ReLU(),   # blocked
        nn.MaxPool2d(2),                                      # blocked: its input is
        nn.Conv2d(21, 17, 1), nn.ReLU(),                      # blocked
        nn.Conv2d(17, 34, 3, padding=1, groups=17),           # grouped: plain
        nn.Conv2d(34, 19, 3, stride=2, padding=1),            # blocked
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(19, 5))
    randomize_fc_bn(model, 4)
    model.eval()
    x = rng.standard_normal((1, 3, 13, 11)).astype(np.float32)
    plan = nn.inference(model)
    y = plan(x)
    assert plan.algorithms().count("nchw8c") == 3
    steps = plan._last.steps
    ops = [s.op for s in steps]
    assert ops.count("to_nchw8c") == 2 and ops.count("from_nchw8c") == 2
    assert [s.a.get("blocked", False) for s in steps if s.op == "maxpool"] == [True]
    assert rel_err(y, model(x)) <= 1e-4


def test_alexnet_pools_between_blocked_layers(isa, rng):
    """AlexNet at batch 1: the pools after conv2 and conv5 read blocked values and pool
    in that layout (no reorder around them); conv2 (5x5, 96 -> 256 on 11x11) runs
    F(2x2,5x5), the 3x3 layers on 5x5 maps (9 tiles) the direct kernel; the plan equals
    the NCHW one."""
    model = fc.models.alexnet(num_classes=10)
    model.eval()
    x = rng.standard_normal((1, 3, 99, 99)).astype(np.float32)
    plan = nn.inference(model)
    y = plan(x)
    steps = plan._last.steps
    assert [s.a.get("blocked", False) for s in steps if s.op == "maxpool"] == \
        [False, True, True]
    ops = [s.op for s in steps]
    assert ops.count("to_nchw8c") == 1 and ops.count("from_nchw8c") == 1
    assert plan.algorithms()[1:] == ["nchw8c_winograd_f23"] + ["nchw8c"] * 3
    assert rel_err(y, model(x)) <= 1e-4


@pytest.mark.parametrize("batch", [2, 3])
def test_larger_batches_blocked_on_small_maps(batch, monkeypatch, rng, classic_rule):
    """With BLOCKED_BATCHED_MAX_PIXELS set (196; 0 by default), above BLOCKED_MAX_BATCH
    the convolutions reading maps of at most that many pixels run blocked: ResNet-18 on 64x64 keeps its stem and first
    stage (16x16 maps) NCHW, and the second stage's first convolution and shortcut (both
    reading 16x16); from there on it is blocked, entered by reordering the two values its
    second convolution reads (its input and the shortcut) and left before the pool."""
    monkeypatch.setattr(inf, "BLOCKED_BATCHED_MAX_PIXELS", 196)
    model = randomize_fc_bn(fc.models.resnet18(num_classes=6), 5)
    model.eval()
    x = rng.standard_normal((batch, 3, 64, 64)).astype(np.float32)
    plan = nn.inference(model)
    y = plan(x)
    algos = plan.algorithms()
    assert len(algos) == 20
    assert not BLOCKED & set(algos[:7]) and set(algos[7:]) <= BLOCKED
    ops = [s.op for s in plan._last.steps]
    assert ops.count("to_nchw8c") == 2 and ops.count("from_nchw8c") == 1
    assert rel_err(y, model(x)) <= 1e-4
    monkeypatch.setattr(inf, "BLOCKED_BATCHED_MAX_PIXELS", 0)
    plain_plan = nn.inference(model)
    plain = plain_plan(x)
    assert not BLOCKED & set(plain_plan.algorithms())
    assert rel_err(y, plain) <= 1e-5


def test_larger_batches_equal_the_torch_twin(monkeypatch, rng, classic_rule):
    """The mixed plan (NCHW, then blocked with the residual reordered) against the torch
    twin in float64, at batch 2."""
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(inf, "BLOCKED_BATCHED_MAX_PIXELS", 196)
    from torch_batchnorm import randomize_bn
    from torch_twins_loader import load_torch_twins
    twin = load_torch_twins().resnet(18, 5)
    randomize_bn(twin, 2)
    model = fc.models.resnet18(num_classes=5)
    model.load_state_dict(twin.state_dict())
    twin = twin.double().eval()
    x = rng.standard_normal((2, 3, 72, 56)).astype(np.float32)    # stage 1 at 18x14
    plan = nn.inference(model)
    y = plan(x)
    assert "nchw8c" in plan.algorithms() and plan.algorithms()[1] != "nchw8c"
    with torch.no_grad():
        ref = twin(torch.tensor(x, dtype=torch.float64)).numpy()
    assert rel_err(y, ref) <= 1e-4


@pytest.mark.parametrize("batch", [2, 4])
def test_larger_batches_stay_nchw_by_default(batch, rng, classic_rule):
    model = fc.models.resnet18(num_classes=3)
    model.eval()
    x = rng.standard_normal((batch, 3, 32, 32)).astype(np.float32)
    plan = nn.inference(model)
    y = plan(x)
    assert not BLOCKED & set(plan.algorithms())
    assert rel_err(y, model(x)) <= 1e-4


@pytest.mark.parametrize("batch", [2, 3])
def test_larger_batches_blocked_where_auto_is(batch, monkeypatch, rng, classic_rule):
    """ResNet-18 on 112x112: stage 2's three stride-1 3x3 layers (128 channels, 14x14,
    more than 256 output positions) are the ones AUTO's forward runs blocked, and the
    plan runs just those on NCHW8c, reordering around each; equal to the model and to
    the plan without them."""
    model = randomize_fc_bn(fc.models.resnet18(num_classes=4), 6)
    model.eval()
    x = rng.standard_normal((batch, 3, 112, 112)).astype(np.float32)
    plan = nn.inference(model)
    y = plan(x)
    algos = plan.algorithms()
    # 0 conv1, 1-4 stage 1, 5 the shortcut, 6 the strided 3x3, 7-9 stage 2's stride-1 3x3s
    assert [i for i, a in enumerate(algos) if a in BLOCKED] == [7, 8, 9]
    assert rel_err(y, model(x)) <= 1e-4
    monkeypatch.setattr(inf._C, "conv2d_plan_blocked", lambda *a: False)
    plain_plan = nn.inference(model)
    assert not BLOCKED & set(plain_plan.algorithms(x.shape))
    assert rel_err(y, plain_plan(x)) <= 1e-5


@pytest.mark.skipif(fc._C.cpu_isa() != "avx512",
                    reason="the AVX-512 table's plan_any_batch rule")
@pytest.mark.parametrize("batch", [2, 5])
def test_larger_batches_all_blocked_with_avx512(batch, rng):
    """With AVX-512's table (plan_any_batch) the plan runs every convolution of 16+
    input channels blocked at any batch: ResNet-18 on 112x112 at batch 2 and 5, all
    but the 3-channel conv1 (stride-2 3x3 layers and 1x1 shortcuts included), entered
    once after the stem's pool and left once before the global pool; equal to the
    model. AUTO's functional rule (reorders per call) takes the stride-2 3x3 layers
    too (conv2d.c, blocked_takes_strided_3x3)."""
    before = fc.get_isa()
    fc.set_isa("avx512")
    try:
        model = randomize_fc_bn(fc.models.resnet18(num_classes=4), 6)
        model.eval()
        x = rng.standard_normal((batch, 3, 112, 112)).astype(np.float32)
        plan = nn.inference(model)
        y = plan(x)
        algos = plan.algorithms()
        ops = [s.op for s in plan._last.steps]
        strided = fc._C.conv2d_auto_forward_blocked((batch, 64, 28, 28), 128, 3, 3, (2, 2),
                                                    (1, 1, 1, 1), (1, 1), 1)
        shortcut = fc._C.conv2d_plan_blocked((batch, 64, 28, 28), 128, 1, 1, (2, 2),
                                             (0, 0, 0, 0), (1, 1), 1)
    finally:
        fc.set_isa(before)
    assert len(algos) == 20 and algos[0] not in BLOCKED and set(algos[1:]) <= BLOCKED
    # Winograd: the stride-1 3x3 layers of stages 1-3, F(4x4) on 28x28 and (batch > 1)
    # 14x14 maps, on 7x7 from 16 tiles in the batch (batch 4), F(2x2) below; not stage
    # 4's (4x4 maps: 4 tiles of 2x2)
    f43 = [1, 2, 3, 4, 7, 8, 9] + ([12, 13, 14] if batch >= 4 else [])
    assert [i for i, a in enumerate(algos) if a == "nchw8c_winograd_f43"] == f43
    assert [i for i, a in enumerate(algos) if a == "nchw8c_winograd_f23"] == \
        ([] if batch >= 4 else [12, 13, 14])
    assert ops.count("to_nchw8c") == 1 and ops.count("from_nchw8c") == 1
    assert strided and shortcut
    assert rel_err(y, model(x)) <= 1e-4


def test_weights_are_arranged_once_for_every_input_shape(monkeypatch, rng):
    calls = []
    real = inf._C.conv2d_blocked_transform_weights

    def counting(w):
        calls.append(w.shape)
        return real(w)
    model = nn.Sequential(nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
                          nn.Conv2d(16, 8, 3, padding=1))
    model.eval()
    plan = nn.inference(model)
    monkeypatch.setattr(inf._C, "conv2d_blocked_transform_weights", counting)
    for hw in (9, 12):
        x = rng.standard_normal((1, 16, hw, hw)).astype(np.float32)
        assert rel_err(plan(x), model(x)) <= 1e-5
    assert len(calls) == 2 and plan.algorithms((1, 16, 9, 9)) == ["nchw8c", "nchw8c"]


def test_winograd_weights_are_transformed_once_for_every_input_shape(monkeypatch, rng):
    """A 64-channel 3x3 layer runs Winograd on 8x8 and 10x10 maps (16 and 25 tiles),
    its filters transformed on first need and shared by both shapes' programs; equal to
    the model; under set_precision("highest") the direct kernel instead."""
    calls = []
    real = inf._C.conv2d_blocked_winograd_transform_weights

    def counting(w, algo):
        calls.append(w.shape)
        return real(w, algo)
    model = nn.Sequential(nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(),
                          nn.Conv2d(64, 72, 3, padding=1))
    randomize_fc_bn(model, 7)
    model.eval()
    plan = nn.inference(model)
    monkeypatch.setattr(inf._C, "conv2d_blocked_winograd_transform_weights", counting)
    for hw in (8, 10):
        x = rng.standard_normal((1, 64, hw, hw)).astype(np.float32)
        assert rel_err(plan(x), model(x)) <= 1e-5
        assert plan.algorithms(x.shape) == ["nchw8c_winograd_f23"] * 2
    assert calls == [(64, 64, 3, 3), (72, 64, 3, 3)]
    fc.set_precision("highest")
    try:
        x = rng.standard_normal((1, 64, 8, 8)).astype(np.float32)
        plan = nn.inference(model)
        assert rel_err(plan(x), model(x)) <= 1e-5
        assert plan.algorithms(x.shape) == ["nchw8c"] * 2
    finally:
        fc.set_precision("high")

"""fastconv.nn.inference with im2col weights packed once at plan compile: every
im2col-chosen convolution (3x3, strided, 1x1, grouped, dilated) runs through the
pre-packed crossing, never the plain one, with the plan's results those of the model
(float64 reference through the unfused layers); a change of ISA after compiling packs
again instead of failing."""
import importlib

import numpy as np
import pytest

import fastconv as fc
from fastconv import _C, nn
from reference import conv2d_ref, rel_err


def _model():
    nn.init.manual_seed(3)
    return nn.Sequential(
        nn.Conv2d(5, 12, 3, padding=1, algorithm="im2col"), nn.ReLU(),
        nn.Conv2d(12, 18, 3, stride=2, padding=(1, 0), algorithm="im2col"), nn.ReLU(),
        nn.Conv2d(18, 18, 1, groups=3, algorithm="im2col"),
        nn.Conv2d(18, 13, 1, algorithm="im2col"), nn.ReLU(),
        nn.Conv2d(13, 11, 3, padding=2, dilation=2, bias=False, algorithm="im2col"),
        nn.Conv2d(11, 9, (2, 3), stride=(1, 2), padding=1, algorithm="auto"))


def _spy(monkeypatch):
    inf = importlib.import_module("fastconv.nn.inference")
    calls = []

    class Spy:
        def __getattr__(self, name):
            real = getattr(_C, name)
            if not name.startswith("conv2d_"):
                return real

            def call(*a, **k):
                calls.append(name)
                return real(*a, **k)
            return call
    monkeypatch.setattr(inf, "_C", Spy())
    return calls


def _ref(model, x):
    """The model's convolutions in float64 (conv2d_ref), ReLUs between them as built."""
    y = np.asarray(x, np.float64)
    for m in model:
        if isinstance(m, nn.ReLU):
            y = np.maximum(y, 0.0)
            continue
        t, l = m.padding if isinstance(m.padding, tuple) else (m.padding, m.padding)
        y = conv2d_ref(y, m.weight.data.astype(np.float64),
                       None if m.bias is None else m.bias.data.astype(np.float64),
                       stride=m.stride, pads=(t, t, l, l), dilation=m.dilation, groups=m.groups)
    return y


@pytest.mark.parametrize("batch", [1, 3])
def test_im2col_convolutions_run_prepacked(monkeypatch, batch):
    model = _model()
    x = np.random.default_rng(batch).standard_normal((batch, 5, 15, 14)).astype(np.float32)
    calls = _spy(monkeypatch)
    plan = nn.inference(model)
    y = plan(x)
    algos = plan.algorithms()
    assert algos[:5] == ["im2col"] * 5
    packs = calls.count("conv2d_pack_weights")
    assert packs == algos.count("im2col")                 # once each, at compile
    runs = calls.count("conv2d_forward_prepacked_ex")
    assert runs == algos.count("im2col")
    assert calls.count("conv2d_forward_ex") == len(algos) - runs
    calls.clear()
    y2 = plan(x)                                          # later calls: no packing
    assert calls.count("conv2d_pack_weights") == 0
    assert calls.count("conv2d_forward_prepacked_ex") == runs
    np.testing.assert_array_equal(y, y2)
    assert rel_err(y, _ref(model, x)) <= 1e-5
    assert rel_err(y, model(x)) <= 1e-5


def test_isa_change_after_compile_packs_again(monkeypatch):
    isas = fc.available_isas()
    if len(isas) < 2:
        pytest.skip("one ISA path only")
    model = _model()
    x = np.random.default_rng(5).standard_normal((1, 5, 15, 14)).astype(np.float32)
    want = _ref(model, x)
    before = fc.get_isa()
    try:
        fc.set_isa(isas[0])
        plan = nn.inference(model)
        assert rel_err(plan(x), want) <= 1e-5
        calls = _spy(monkeypatch)
        fc.set_isa(isas[1])
        assert rel_err(plan(x), want) <= 1e-5
        assert calls.count("conv2d_pack_weights") == plan.algorithms().count("im2col")
    finally:
        fc.set_isa(before)


def test_resnet_block_at_batch_one(isa, monkeypatch):
    """ResNet's deep layers at batch 1 (narrow 4x4 and 2x2 outputs, the strided 1x1
    downsample) with BatchNorm folded and the residual in the epilogue (on NCHW: at
    batch 1, and on small maps at any batch, the plan otherwise runs them on the blocked
    layout)."""
    import importlib
    inf = importlib.import_module("fastconv.nn.inference")
    monkeypatch.setattr(inf, "BLOCKED_MAX_BATCH", 0)
    monkeypatch.setattr(inf, "BLOCKED_BATCHED_MAX_PIXELS", 0)
    # nor every layer above batch 1 (AVX-512's plan_any_batch): AUTO's own choices
    monkeypatch.setattr(inf._C, "conv2d_plan_blocked", inf._C.conv2d_auto_forward_blocked)
    model = fc.models.resnet18(num_classes=7)
    model.eval()
    x = np.random.default_rng(2).standard_normal((1, 3, 64, 64)).astype(np.float32)
    plan = nn.inference(model)
    assert "im2col" in plan.algorithms((1, 3, 64, 64))
    assert rel_err(plan(x), model(x)) <= 1e-4

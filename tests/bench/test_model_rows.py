"""The whole-model rows: the issues' batch sizes, the training step's optimizer, and the
onnxruntime / fastconv.onnx inference peers (same work as torch, or absent with a reason)."""
import builtins

import numpy as np
import pytest

import fastconv
from fastconv.bench import ops, runner, table

MACHINE = {"cpu": "Test CPU", "cores": 2, "isa": "avx2", "peak_gflops_1t": 100.0,
           "peak_gflops": 200.0, "copy_gbps": 30.0, "llc_bytes": 32 << 20}


def test_rows_at_the_issues_batch_sizes():
    names = {c.name for c in ops.cases() if c.op == "model"}
    want = {"model/resnet18/train/n16", "model/resnet50/train/n8", "model/alexnet/train/n16",
            "model/lenet5/train/n64", "model/resnet18/infer/n1", "model/resnet18/infer/n16",
            "model/resnet50/infer/n1", "model/resnet50/infer/n8", "model/resnet50/infer/n16",
            "model/alexnet/infer/n1", "model/alexnet/infer/n16"}
    assert want <= names
    by = {c.name: c for c in ops.cases()}
    assert by["model/resnet50/train/n8"].work == 8.0 and by["model/resnet50/train/n8"].unit == "img"


def test_quick_keeps_only_the_small_model_rows():
    quick = {c.name for c in ops.cases() if c.op == "model" and c.quick}
    assert quick == {"model/lenet5/infer/n64", "model/lenet5/train/n64", "model/resnet18/infer/n1"}


def test_torch_twins_have_the_models_parameter_counts():
    pytest.importorskip("torch")
    import fastconv.models as fm
    from fastconv.bench import torch_models
    for name in ops.MODELS:
        twin = sum(p.numel() for p in torch_models.__dict__[name]().parameters())
        assert twin == getattr(fm, name)().num_parameters(), name


def test_inference_uses_fastconv_nn_inference_when_it_exists(monkeypatch):
    calls = []

    class Plan:
        def __call__(self, x):
            calls.append(x.shape)
            return np.zeros((x.shape[0], 10), np.float32)
    monkeypatch.setattr(fastconv.nn, "inference", lambda model: Plan(), raising=False)
    step = ops._fc_model_step(object(), np.zeros((3, 1, 32, 32), np.float32), None, "infer")
    step()
    assert calls == [(3, 1, 32, 32)]


def test_without_nn_inference_the_model_runs_in_eval_mode(monkeypatch):
    monkeypatch.delattr(fastconv.nn, "inference", raising=False)
    import fastconv.models as fm
    model = fm.lenet5()
    x = np.random.default_rng(0).standard_normal((2, 1, 32, 32), dtype=np.float32)
    step = ops._fc_model_step(model, x, None, "infer")
    assert not model.training
    np.testing.assert_array_equal(step(), model(x))


def test_training_step_uses_sgd_with_momentum(monkeypatch):
    seen = {}
    real = fastconv.optim.SGD

    def spy(params, lr, momentum=0.0, **kw):
        seen.update(lr=lr, momentum=momentum)
        return real(params, lr=lr, momentum=momentum, **kw)
    monkeypatch.setattr(fastconv.optim, "SGD", spy)
    import fastconv.models as fm
    model = fm.lenet5()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 1, 32, 32), dtype=np.float32)
    w0 = model.parameters()[0].data.copy()
    ops._fc_model_step(model, x, rng.integers(0, 10, 2), "train")()
    assert seen == {"lr": ops.LR, "momentum": 0.9}
    assert not np.array_equal(model.parameters()[0].data, w0)  # the step moved the weights



def test_onnx_peers_compute_the_torch_twins_output():
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from fastconv.bench import torch_models
    torch.manual_seed(0)
    # A narrow ResNet-18: every op it exports (Conv, BatchNormalization, Relu, MaxPool,
    # Add, GlobalAveragePool, Flatten, Gemm) is one fastconv.onnx runs.
    tm = torch_models.resnet18(10, widths=(4, 8, 8, 8)).eval()
    x = np.random.default_rng(0).standard_normal((3, 3, 32, 32), dtype=np.float32)
    peers = ops._onnx_peers(torch, tm, x)
    assert set(peers) == {"onnxruntime", "fastconv.onnx"}
    with torch.no_grad():
        want = tm(torch.from_numpy(x)).numpy()
    for name, f in peers.items():
        assert callable(f), (name, f)
        (got,) = f()
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, err_msg=name)


def _hide_module(monkeypatch, prefix):
    real_import = builtins.__import__

    def fake_import(name, *a, **k):
        if name == prefix or name.startswith(prefix + "."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *a, **k)
    monkeypatch.setattr(builtins, "__import__", fake_import)


def test_missing_onnxruntime_is_absent_with_a_reason(monkeypatch):
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from fastconv.bench import torch_models
    _hide_module(monkeypatch, "onnxruntime")
    x = np.zeros((1, 1, 32, 32), np.float32)
    peers = ops._onnx_peers(torch, torch_models.lenet5(), x)
    assert isinstance(peers["onnxruntime"], ops.Absent)
    assert "onnxruntime is not installed" in peers["onnxruntime"].reason
    assert not isinstance(peers["fastconv.onnx"], ops.Absent) or \
        "not supported" in peers["fastconv.onnx"].reason  # (LeNet-5's Tanh, on some builds)


def test_an_op_fastconv_onnx_lacks_leaves_only_its_column_absent(monkeypatch):
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    import fastconv.onnx as fc_onnx
    from fastconv.bench import torch_models

    def refuse(path):
        raise fastconv.UnsupportedError("op Frob is not supported")
    monkeypatch.setattr(fc_onnx, "InferenceSession", refuse)
    peers = ops._onnx_peers(torch, torch_models.lenet5(), np.zeros((1, 1, 32, 32), np.float32))
    assert peers["fastconv.onnx"].reason == "op Frob is not supported"


def test_without_torch_every_peer_is_absent_and_the_row_still_runs(monkeypatch):
    monkeypatch.setattr(ops, "_torch_mod", False)
    case = ops._model_case("lenet5", "infer", 2)
    res = runner.run_case(case, 0.001, MACHINE)
    assert res["status"] == "ok" and set(res["results"]) == {"fastconv"}
    assert set(res["absent"]) == {"torch", "onnxruntime", "fastconv.onnx"}
    assert "torch is not installed" in res["absent"]["onnxruntime"]
    text = table.format_results([res], MACHINE, {"fastconv": "0.1"}, 2, torch_present=False)
    head, rest = text.split("\n== ", 1)
    assert "torch" not in head and "onnxruntime" not in head
    assert "not measured:" in rest and "onnxruntime: torch is not installed" in rest


def test_model_table_states_the_ratios():
    def timed(s):
        return {"median_s": s, "min_s": s, "reps": 3, "spread": 0.0, "rate": 1 / s}
    r = {"name": "model/resnet18/infer/n1", "op": "model", "unit": "img", "status": "ok",
         "results": {"fastconv": timed(0.05), "torch": timed(0.06), "onnxruntime": timed(0.04),
                     "fastconv.onnx": timed(0.08)},
         "vs_torch": 1.2, "vs_onnxruntime": 0.8, "onnx_vs_onnxruntime": 0.5}
    t = {"name": "model/resnet18/train/n16", "op": "model", "unit": "img", "status": "ok",
         "results": {"fastconv": timed(1.0), "torch": timed(1.5)}, "vs_torch": 1.5}
    text = table.format_results([r, t], MACHINE, {"fastconv": "0.1", "torch": "2"}, 2)
    for col in table.MODEL_COLUMNS:
        assert col in text
    row = next(line for line in text.splitlines() if line.startswith("resnet18/infer/n1"))
    assert "1.20x" in row and "0.80x" in row and "0.50x" in row and "80.000" in row
    train = next(line for line in text.splitlines() if line.startswith("resnet18/train/n16"))
    assert "1.50x" in train and train.rstrip().endswith("-")
    assert "x ort = onnxruntime time / fastconv time" in text
    assert "% peak" not in text  # no peak for whole models, nor its legend


def test_runner_records_absent_peers_and_ort_ratios():
    def build():
        return {"fastconv": lambda: None, "onnxruntime": lambda: None,
                "fastconv.onnx": lambda: None, "torch": ops.Absent("torch is not installed")}
    case = ops.Case("model/m/infer/n1", "model", "m", "infer", "", "img", 1.0, build)
    res = runner.run_case(case, 0.001, MACHINE)
    assert res["absent"] == {"torch": "torch is not installed"}
    ort, fco, fc = (res["results"][k]["median_s"] for k in ("onnxruntime", "fastconv.onnx",
                                                            "fastconv"))
    assert res["vs_onnxruntime"] == pytest.approx(ort / fc)
    assert res["onnx_vs_onnxruntime"] == pytest.approx(ort / fco)
    assert "vs_torch" not in res

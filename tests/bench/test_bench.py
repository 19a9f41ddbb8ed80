"""The benchmark machinery (fastconv.bench): peak loop, registry, timing, table, JSON,
compare and the `bench` command on a tiny subset. Fast: no real benchmark runs here."""
import json
import os
import time

import numpy as np
import pytest

import fastconv
from fastconv import _C
from fastconv.bench import ops, report, runner, shapes, table, timing
from fastconv.bench.cli import main as bench_main
from reference import conv2d_backward_ref, conv2d_ref

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# ------------------------------------------------------------------- peak loop

def test_fma_peak_positive_on_every_isa(isa):
    # Timed in thread CPU time, so other processes on the machine do not drag it down.
    g1 = _C.measure_fma_gflops(1, 0.02)
    assert 0.1 < g1 < 1e5
    g2 = _C.measure_fma_gflops(2, 0.02)
    assert 0.5 * g1 < g2 < 1e5


@pytest.mark.parametrize("threads, seconds", [(0, 0.1), (-1, 0.1), (1, 0.0), (1, -1.0),
                                              (1, 61.0), (1, float("nan"))])
def test_fma_peak_rejects_bad_arguments(threads, seconds):
    with pytest.raises(ValueError, match="measure_fma_gflops"):
        _C.measure_fma_gflops(threads, seconds)


def test_info_reports_peak_and_bandwidth():
    d = fastconv.info()
    assert d["peak_gflops_1t"] > 0 and d["peak_gflops"] > 0 and d["copy_gbps"] > 0
    assert "peak_gflops" not in fastconv.info(measure=False)


# ----------------------------------------------------------------- shape set

@pytest.mark.parametrize("path", shapes.DEFAULT_PATHS)
def test_packaged_shapes_match_benchmarks_copy(path):
    with open(os.path.join(ROOT, "benchmarks", os.path.basename(path))) as f:
        repo = json.load(f)
    with open(path) as f:
        packaged = json.load(f)
    assert repo == packaged


def test_load_shapes_rejects_bad_entries(tmp_path):
    p = tmp_path / "s.json"
    p.write_text(json.dumps({"shapes": [{"op": "conv3d", "name": "a"}]}))
    with pytest.raises(ValueError, match="unknown op 'conv3d'"):
        shapes.load_shapes(str(p))
    p.write_text(json.dumps({"shapes": [{"op": "global_avg_pool2d", "name": "a", "N": 1}]}))
    with pytest.raises(ValueError, match=r"lacks \['C', 'H', 'W'\]"):
        shapes.load_shapes(str(p))


# ------------------------------------------------------------------ registry

def test_registry_names_unique_and_complete():
    cs = ops.cases()
    names = [c.name for c in cs]
    assert len(names) == len(set(names))
    for s in shapes.load_shapes():
        if s["op"] == "conv2d":
            for p in ops.CONV_PASSES:
                for a in ops.CONV_ALGORITHMS:
                    assert f"conv2d/{s['name']}/{p}/{a}" in names
    assert "gemm/gemm_1024" in names and "model/resnet18/train/n16" in names
    assert any(c.quick for c in cs) and not all(c.quick for c in cs)


def test_registry_work_counts():
    by = {c.name: c for c in ops.cases()}
    # 2*N*K*OH*OW*(C/groups)*R*S, worked by hand for resnet_56_n1 (56x56 out).
    assert by["conv2d/resnet_56_n1/fwd/direct"].work == 2 * 64 * 56 * 56 * 64 * 9
    assert by["conv2d/resnet_down_n16/bwd_data/direct"].work == 2 * 16 * 128 * 28 * 28 * 64 * 9
    # Depthwise counts bytes: x + w + y (dw_14_n16: 16x512x14x14 in and out, 512x1x3x3).
    dw = by["conv2d/dw_14_n16/fwd/direct"]
    assert dw.unit == "byte" and dw.work == 4 * (2 * 16 * 512 * 14 * 14 + 512 * 9)
    # Max pooling 3x3/2 pad 0 on 55x55 -> 27x27.
    mp = by["pool/maxpool_alexnet_n16/fwd"]
    assert mp.unit == "byte" and mp.work == 4 * 16 * 96 * (55 * 55 + 27 * 27)
    assert by["gemm/gemm_1024"].work == 2 * 1024 ** 3
    # The im2col GEMM of resnet_56_n1: M=64, N=56*56, K=64*9.
    assert by["gemm/gemm_resnet_56_n1"].params == {"M": 64, "N": 3136, "K": 576}


def test_unknown_algorithm_is_not_served():
    case = ops._conv_case(dict(op="conv2d", name="t", N=1, C=2, H=5, W=5, K=3, R=3, S=3,
                               stride=1, padding=1, groups=1), "fwd", "no_such_algo", False)
    with pytest.raises(ops.NotServed, match="no_such_algo"):
        case.build()


def test_missing_function_is_not_served(monkeypatch):
    monkeypatch.delattr(fastconv, "matmul", raising=False)
    with pytest.raises(ops.NotServed, match="fastconv.matmul does not exist"):
        ops._gemm_case("g", 4, 4, 4).build()


@pytest.mark.parametrize("N,C,H,W,K,R,S,stride,pad,groups", [
    (2, 3, 7, 6, 4, 3, 3, 1, 1, 1), (1, 4, 9, 8, 6, 3, 2, 2, 0, 2), (2, 5, 6, 7, 5, 3, 3, 2, 1, 5)])
def test_numpy_baselines_compute_the_convolution(rng, N, C, H, W, K, R, S, stride, pad, groups):
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    w = rng.standard_normal((K, C // groups, R, S)).astype(np.float32)
    st, pads = (stride, stride), (pad,) * 4
    y = conv2d_ref(x, w, None, st, pads, groups=groups)
    gy = rng.standard_normal(y.shape).astype(np.float32)
    gx, gw, gb = conv2d_backward_ref(gy, x, w, st, pads, groups=groups)
    tol = dict(rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ops._np_conv_fwd(x, w, stride, pad, groups), y, **tol)
    np.testing.assert_allclose(ops._np_conv_bwd_data(gy, w, x.shape, stride, pad, groups), gx,
                               **tol)
    ngw, ngb = ops._np_conv_bwd_weights(gy, x, w.shape, stride, pad, groups)
    np.testing.assert_allclose(ngw, gw, **tol)
    np.testing.assert_allclose(ngb, gb, **tol)


def test_torch_backward_passes_compute_the_gradients(rng):
    pytest.importorskip("torch")
    x = rng.standard_normal((2, 4, 7, 7)).astype(np.float32)
    w = rng.standard_normal((6, 2, 3, 3)).astype(np.float32)
    y = conv2d_ref(x, w, None, (2, 2), (1,) * 4, groups=2)
    gy = rng.standard_normal(y.shape).astype(np.float32)
    gx, gw, gb = conv2d_backward_ref(gy, x, w, (2, 2), (1,) * 4, groups=2)
    got_x = ops._torch_conv_pass(x, w, gy, 2, 1, 2, "bwd_data")()[0]
    _, got_w, got_b = ops._torch_conv_pass(x, w, gy, 2, 1, 2, "bwd_weights")()
    np.testing.assert_allclose(got_x.numpy(), gx, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got_w.numpy(), gw, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got_b.numpy(), gb, rtol=1e-4, atol=1e-4)


def test_numpy_pool_baselines(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 3, 9, 8)).astype(np.float32)
    tx = torch.from_numpy(x)
    F = torch.nn.functional
    np.testing.assert_allclose(ops._np_pool(x, 3, 2, 1, "max"), F.max_pool2d(tx, 3, 2, 1).numpy())
    np.testing.assert_allclose(ops._np_pool(x, 3, 2, 1, "avg"), F.avg_pool2d(tx, 3, 2, 1).numpy(),
                               rtol=1e-5, atol=1e-6)
    gy = rng.standard_normal((2, 3, 5, 4)).astype(np.float32)
    ref = torch.ops.aten.avg_pool2d_backward(torch.from_numpy(gy), tx, [3, 3], [2, 2], [1, 1],
                                             False, True, None)
    np.testing.assert_allclose(ops._np_avg_pool_bwd(gy, x.shape, 3, 2, 1), ref.numpy(),
                               rtol=1e-5, atol=1e-6)


# ------------------------------------------------------- timing with a fake clock

class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_time_alternating_rotates_and_bounds_reps():
    clock, calls = FakeClock(), []

    def make(name, cost):
        def f():
            calls.append(name)
            clock.t += cost
        return f
    fns = {"a": make("a", 0.01), "b": make("b", 0.03), "c": make("c", 0.02)}
    times = timing.time_alternating(fns, budget=0.6, min_reps=3, max_reps=50, warmup=1,
                                    clock=clock)
    assert {k: len(v) for k, v in times.items()} == {"a": 10, "b": 10, "c": 10}  # 0.6 / 0.06
    assert times["b"] == pytest.approx([0.03] * 10)
    rounds = calls[3:]  # after one warm-up call each
    assert rounds[:9] == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]
    calls.clear()
    times = timing.time_alternating(fns, budget=1e-6, min_reps=3, clock=clock)
    assert len(times["a"]) == 3
    s = timing.summarize([1.0, 2.0, 3.0, 4.0, 100.0])
    assert s["median_s"] == 3.0 and s["min_s"] == 1.0 and s["reps"] == 5


# ---------------------------------------------------- run, table, JSON, compare

def _fake_case(name, build, unit="flop", work=2e9, op="conv2d"):
    return ops.Case(name=name, op=op, shape=name.split("/")[1], pass_="fwd", algorithm="x",
                    unit=unit, work=work, build=build)


def _not_served():
    raise ops.NotServed("fastconv.frobnicate does not exist in this build")


def _broken():
    raise RuntimeError("boom")


FAKE = [
    _fake_case("conv2d/tiny/fwd/x", lambda: {"fastconv": lambda: None, "torch": lambda: None,
                                             "numpy": None}),
    _fake_case("pool/tiny/fwd", lambda: {"fastconv": lambda: None}, unit="byte", op="pool"),
    _fake_case("conv2d/absent/fwd/x", _not_served),
    _fake_case("conv2d/broken/fwd/x", _broken),
]
MACHINE = {"cpu": "Test CPU", "cores": 2, "isa": "avx512", "threads": 2, "peak_gflops_1t": 100.0,
           "peak_gflops": 200.0, "copy_gbps": 30.0}


def test_run_cases_statuses_and_figures():
    res = runner.run_cases(FAKE, budget=0.001, machine=MACHINE)
    st = {r["name"]: r["status"] for r in res}
    assert st == {"conv2d/tiny/fwd/x": "ok", "pool/tiny/fwd": "ok",
                  "conv2d/absent/fwd/x": "skipped", "conv2d/broken/fwd/x": "error"}
    ok = res[0]
    assert set(ok["results"]) == {"fastconv", "torch"}
    fc = ok["results"]["fastconv"]
    assert fc["rate"] == pytest.approx(2.0 / fc["median_s"])
    assert ok["pct_peak"] == pytest.approx(100.0 * fc["rate"] / 200.0)
    assert ok["vs_torch"] == pytest.approx(ok["results"]["torch"]["median_s"] / fc["median_s"])
    assert "vs_numpy" not in ok
    assert res[1]["pct_peak"] == pytest.approx(100.0 * res[1]["results"]["fastconv"]["rate"] / 30)
    assert "boom" in res[3]["reason"]
    late = runner.run_cases(FAKE[:1], machine=MACHINE, max_time=-1.0)
    assert late[0]["status"] == "skipped" and "time limit" in late[0]["reason"]


def _synthetic(name, fc_s, torch_s=None, unit="flop", op="conv2d"):
    r = {"name": name, "op": op, "shape": name.split("/")[1], "pass": "fwd", "algorithm": "",
         "unit": unit, "work": 1e9, "status": "ok", "reason": "",
         "results": {"fastconv": {"median_s": fc_s, "min_s": fc_s, "reps": 3, "spread": 0.0,
                                  "rate": 1.0 / fc_s}}, "pct_peak": 12.5}
    if torch_s:
        r["results"]["torch"] = {"median_s": torch_s, "min_s": torch_s, "reps": 3,
                                 "spread": 0.0, "rate": 1.0 / torch_s}
        r["vs_torch"] = torch_s / fc_s
    return r


def test_table_has_columns_and_sections():
    res = [_synthetic("conv2d/a/fwd/direct", 0.002, 0.004),
           _synthetic("pool/p/fwd", 0.001, unit="byte", op="pool"),
           {"name": "conv2d/a/fwd/im2col", "op": "conv2d", "status": "skipped",
            "reason": "conv2d algorithm='im2col': cannot serve", "results": {}},
           {"name": "gemm/g", "op": "gemm", "status": "error", "reason": "RuntimeError: boom",
            "results": {}}]
    text = table.format_results(res, MACHINE, {"fastconv": "0.1.0", "torch": "2.0"}, 2,
                                torch_present=True)
    for col in ("case", "fastconv ms", "+-", "rate", "% peak", "torch ms", "x torch"):
        assert col in text
    assert "numpy ms" not in text  # no row has a NumPy time
    assert "== conv2d" in text and "== pool" in text
    assert "a/fwd/direct" in text and "2.000" in text and "2.00x" in text
    assert "GB/s" in text and "GFLOP/s" in text and "12%" in text
    assert "200 GFLOP/s on 2 threads" in text and "30.0 GB/s" in text
    assert "x torch = torch time / fastconv time" in text
    assert "1 x conv2d algorithm='im2col'" in text
    assert "ERRORS in 1 cases" in text and "gemm/g: RuntimeError: boom" in text


def test_json_round_trip_and_compare(tmp_path):
    old = report.make_record([_synthetic("conv2d/a/fwd/direct", 0.010),
                              _synthetic("conv2d/b/fwd/direct", 0.010),
                              _synthetic("conv2d/c/fwd/direct", 0.010),
                              _synthetic("conv2d/gone/fwd/direct", 0.010)], MACHINE, 2, {})
    p = tmp_path / "old.json"
    report.save(old, str(p))
    back = report.load(str(p))
    assert back == json.loads(json.dumps(old))
    assert back["machine"]["cpu"] == "Test CPU" and back["versions"]["numpy"] == np.__version__
    assert back["threads"]["fastconv"] == 2
    new = report.make_record([_synthetic("conv2d/a/fwd/direct", 0.005),
                              _synthetic("conv2d/b/fwd/direct", 0.020),
                              _synthetic("conv2d/c/fwd/direct", 0.0105),
                              _synthetic("conv2d/new/fwd/direct", 0.01)], MACHINE, 2, {})
    cmp = report.compare(back, new, threshold=0.10)
    assert [e[0] for e in cmp["faster"]] == ["conv2d/a/fwd/direct"]
    assert cmp["faster"][0][3] == pytest.approx(2.0)
    assert [e[0] for e in cmp["slower"]] == ["conv2d/b/fwd/direct"]
    assert cmp["same"] == 1
    assert cmp["only_old"] == ["conv2d/gone/fwd/direct"]
    assert cmp["only_new"] == ["conv2d/new/fwd/direct"]
    text = report.format_compare(cmp, "old.json")
    assert "faster: 1" in text and "slower: 1" in text and "2.00x" in text
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="not a fastconv bench JSON"):
        report.load(str(tmp_path / "bad.json"))


# ------------------------------------------------------------------- the command

def test_cli_quick_one_shape_end_to_end(tmp_path, capsys):
    out = tmp_path / "run.json"
    threads_before = fastconv.get_num_threads()
    t0 = time.perf_counter()
    rc = bench_main(["--quick", "--ops", "conv2d/lenet_c3/fwd", "--json", str(out),
                     "--time-per-case", "0.02", "--threads", "1"])
    took = time.perf_counter() - t0
    assert rc == 0
    assert took < 8.0
    cap = capsys.readouterr()
    assert "== conv2d" in cap.out and "lenet_c3/fwd/direct" in cap.out
    assert "GFLOP/s on 1 thread;" in cap.out
    assert "] 4/4" in cap.err  # the progress bar: auto, direct, im2col, winograd
    rec = report.load(str(out))
    names = {r["name"]: r for r in rec["results"]}
    assert set(names) == {f"conv2d/lenet_c3/fwd/{a}" for a in ops.CONV_ALGORITHMS}
    direct = names["conv2d/lenet_c3/fwd/direct"]
    assert direct["status"] == "ok" and direct["results"]["fastconv"]["median_s"] > 0
    assert "numpy" in direct["results"]
    assert rec["threads"]["fastconv"] == 1 and rec["machine"]["peak_gflops"] > 0
    assert fastconv.get_num_threads() == threads_before  # restored afterwards
    rc = bench_main(["--quick", "--ops", "conv2d/lenet_c3/fwd/direct", "--compare", str(out),
                     "--time-per-case", "0.02", "--no-progress"])
    assert rc == 0
    assert "compared with" in capsys.readouterr().out


def test_cli_without_torch(monkeypatch, capsys):
    monkeypatch.setattr(ops, "_torch_mod", False)
    rc = bench_main(["--ops", "conv2d/lenet_c1/fwd/direct", "--time-per-case", "0.02",
                     "--no-progress"])
    assert rc == 0
    text = capsys.readouterr().out
    head, rest = text.split("\n== ", 1)
    assert "torch" not in head.lower()  # no torch wording where torch is absent
    table_part = rest.split("\nnot measured:")[0]
    assert "torch" not in table_part and "lenet_c1/fwd/direct" in table_part
    assert "x numpy = numpy time / fastconv time" in head
    assert "torch: not installed" in rest


def test_cli_plot_without_matplotlib(monkeypatch, tmp_path, capsys):
    import builtins
    real_import = builtins.__import__

    def fake_import(name, *a, **k):
        if name.startswith("matplotlib"):
            raise ImportError("no matplotlib")
        return real_import(name, *a, **k)
    monkeypatch.setattr(builtins, "__import__", fake_import)
    rc = bench_main(["--ops", "conv2d/lenet_c1/fwd/direct", "--time-per-case", "0.02",
                     "--no-progress", "--plot", str(tmp_path / "p.png")])
    assert rc == 1
    assert "--plot needs matplotlib" in capsys.readouterr().err


def test_cli_bad_arguments(capsys, tmp_path):
    assert bench_main(["--threads", "0"]) == 2
    assert "--threads must be >= 1" in capsys.readouterr().err
    assert bench_main(["--ops", "no_such_case_anywhere"]) == 2
    assert "no case matches" in capsys.readouterr().err
    assert bench_main(["--compare", str(tmp_path / "missing.json")]) == 2
    assert "--compare" in capsys.readouterr().err
    assert bench_main(["--list", "--quick", "--ops", "gemm"]) == 0
    assert "gemm/gemm_1024" in capsys.readouterr().out


# ------------------------------------ ops other branches build, here as stand-ins

TINY_SHAPES = [
    dict(op="conv2d", name="t_conv", N=2, C=3, H=9, W=8, K=4, R=3, S=3, stride=1, padding=1,
         groups=1),
    dict(op="conv2d", name="t_dw", N=2, C=4, H=9, W=8, K=4, R=3, S=3, stride=2, padding=1,
         groups=4),
    dict(op="conv_transpose2d", name="t_tconv", N=2, C=4, H=5, W=5, K=3, R=2, S=2, stride=2,
         padding=0, output_padding=0, groups=1),
    dict(op="max_pool2d", name="t_max", N=2, C=3, H=9, W=9, kernel_size=3, stride=2, padding=1),
    dict(op="avg_pool2d", name="t_avg", N=2, C=3, H=8, W=8, kernel_size=2, stride=2, padding=0),
    dict(op="global_avg_pool2d", name="t_gap", N=2, C=3, H=5, W=5),
]


class _FakeNet:
    def __call__(self, x):
        return np.zeros((x.shape[0], 10), np.float32)

    def backward(self, g, input_grad=True):
        return None

    def train(self):
        pass

    def zero_grad(self):
        pass

    def parameters(self):
        return []


class _FakeLoss:
    def __call__(self, y, labels):
        return 0.0

    def backward(self):
        return np.zeros(1, np.float32)


class _FakeSGD:
    def __init__(self, params, lr, momentum=0.0):
        assert momentum == ops.MOMENTUM

    def step(self):
        pass


def _install_stand_ins(monkeypatch):
    """NumPy versions of the ops other branches build, with the DESIGN.md signatures,
    so that every case builder is exercised before those ops are merged."""
    import types

    def conv_bwd(gy, x, w, stride, pad, groups):
        gw, gb = ops._np_conv_bwd_weights(gy, x, w.shape, stride, pad, groups)
        return ops._np_conv_bwd_data(gy, w, x.shape, stride, pad, groups), gw, gb
    fakes = {
        "matmul": np.matmul,
        "max_pool2d": lambda x, k, s, p: ops._np_pool(x, k, s, p, "max"),
        "max_pool2d_backward": lambda gy, x, k, s, p: np.zeros_like(x),
        "avg_pool2d": lambda x, k, s, p: ops._np_pool(x, k, s, p, "avg"),
        "avg_pool2d_backward": lambda gy, x, k, s, p: ops._np_avg_pool_bwd(gy, x.shape, k, s, p),
        "global_avg_pool2d": lambda x: x.mean(axis=(2, 3), keepdims=True),
        "global_avg_pool2d_backward": lambda gy, x: np.broadcast_to(gy, x.shape).copy(),
        "depthwise_conv2d": lambda x, w, b, s, p: ops._np_conv_fwd(x, w, s, p, x.shape[1]),
        "depthwise_conv2d_backward": lambda gy, x, w, s, p: conv_bwd(gy, x, w, s, p, x.shape[1]),
        "conv_transpose2d": lambda x, w, b, s, p, op, g: None,
        "conv_transpose2d_backward": lambda gy, x, w, s, p, op, g: None,
    }
    for name, fn in fakes.items():
        monkeypatch.setattr(fastconv, name, fn, raising=False)
    monkeypatch.setattr(fastconv, "models", types.SimpleNamespace(lenet5=_FakeNet),
                        raising=False)
    monkeypatch.setattr(fastconv, "nn", types.SimpleNamespace(CrossEntropyLoss=_FakeLoss),
                        raising=False)
    monkeypatch.setattr(fastconv, "optim", types.SimpleNamespace(SGD=_FakeSGD), raising=False)


def test_every_case_builder_runs_with_stand_ins(monkeypatch):
    _install_stand_ins(monkeypatch)
    monkeypatch.setattr(ops, "MODEL_ROWS", (("lenet5", "infer", 2), ("lenet5", "train", 2)))
    cs = ops.cases(TINY_SHAPES)
    ops_seen = {c.op for c in cs}
    assert ops_seen == {"conv2d", "depthwise", "conv_transpose2d", "pool", "gemm", "model"}
    cs = [c for c in cs if c.op != "gemm"] + [ops._gemm_case("g", 8, 8, 8)]
    with runner.fixed_threads(1):  # one thread: quick even on a loaded machine
        res = runner.run_cases(cs, budget=0.001, machine=MACHINE)
    errors = [(r["name"], r["reason"]) for r in res if r["status"] == "error"]
    assert not errors
    ok = {r["name"] for r in res if r["status"] == "ok"}
    for name in ("depthwise/t_dw/fwd", "depthwise/t_dw/bwd", "conv_transpose2d/t_tconv/fwd",
                 "conv_transpose2d/t_tconv/bwd", "pool/t_max/fwd", "pool/t_max/bwd",
                 "pool/t_avg/bwd", "pool/t_gap/fwd", "pool/t_gap/bwd", "gemm/g",
                 "model/lenet5/infer/n2", "model/lenet5/train/n2",
                 "conv2d/t_dw/bwd_weights/direct"):
        assert name in ok, name
    by = {r["name"]: r for r in res}
    assert "numpy" in by["pool/t_avg/bwd"]["results"]
    if ops.torch_or_none() is not None:
        assert all("torch" in by[n]["results"] for n in ok)


def test_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    from fastconv.bench.plot import plot
    path = tmp_path / "r.png"
    plot([_synthetic("conv2d/a/fwd/direct", 0.002, 0.004)], str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

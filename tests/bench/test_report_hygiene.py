"""Issue 18: the report explains its case names, says nothing of peers it did not
measure, and marks % peak figures of cache-resident cases."""
import pytest

from fastconv.bench import ops, runner, table
from fastconv.bench.plot import series_of

MACHINE = {"cpu": "Test CPU", "cores": 2, "isa": "avx2", "peak_gflops_1t": 100.0,
           "peak_gflops": 200.0, "copy_gbps": 30.0, "llc_bytes": 1 << 20}


def _byte_case(name, nbytes):
    return ops.Case(name, "pool", name.split("/")[1], "fwd", "", "byte", float(nbytes),
                    lambda: {"fastconv": lambda: None, "numpy": lambda: None})


def test_cache_resident_byte_cases_are_marked():
    small, big = _byte_case("pool/small/fwd", 1 << 19), _byte_case("pool/big/fwd", 1 << 22)
    res = runner.run_cases([small, big], budget=0.001, machine=MACHINE)
    assert res[0].get("cache_resident") is True and "cache_resident" not in res[1]
    text = table.format_results(res, MACHINE, {"fastconv": "0.1"}, 2, torch_present=False)
    row = {line.split()[0]: line for line in text.splitlines() if line.startswith(("small", "big"))}
    assert f"%{table.CACHE_MARK}" in row["small/fwd"] and f"%{table.CACHE_MARK}" not in row["big/fwd"]
    assert "fit in the last-level cache" in text and "last-level cache 1 MiB" in text


def test_flop_cases_are_never_marked():
    case = ops.Case("conv2d/t/fwd/x", "conv2d", "t", "fwd", "x", "flop", 10.0,
                    lambda: {"fastconv": lambda: None})
    res = runner.run_case(case, 0.001, MACHINE)
    assert "cache_resident" not in res
    text = table.format_results([res], MACHINE, {"fastconv": "0.1"}, 2, torch_present=False)
    assert "fit in the last-level cache" not in text


def test_head_has_a_legend_of_case_names():
    text = "\n".join(table.head(MACHINE, {"fastconv": "0.1"}, 2, True))
    for word in ("<shape>/<pass>[/<algorithm>]", "_nB = batch B", "bwd_data", "bwd_weights",
                 "winograd", "model/<net>/<infer|train>/nB", "momentum 0.9"):
        assert word in text, word


def test_head_names_only_measured_peers():
    no_torch = "\n".join(table.head(MACHINE, {"fastconv": "0.1", "torch": "2.0"}, 2, False,
                                    peers=["numpy"]))
    assert "torch" not in no_torch.lower() and "x numpy" in no_torch
    everyone = "\n".join(table.head(MACHINE, {"fastconv": "0.1", "torch": "2.0"}, 2, True,
                                    peers=["torch", "numpy", "onnxruntime", "fastconv.onnx"]))
    assert "torch 2.0" in everyone and "x ort" in everyone and "fc.onnx" in everyone
    assert "fastconv, torch, onnxruntime and NumPy's BLAS" in everyone


@pytest.mark.parametrize("keys, labels", [
    (("vs_numpy",), ["x NumPy"]),
    (("vs_torch", "vs_numpy"), ["x PyTorch", "x NumPy"]),
    (("vs_torch", "vs_onnxruntime"), ["x PyTorch", "x onnxruntime"]),
])
def test_plot_shows_only_the_peers_measured(keys, labels):
    res = [dict({"name": "a", "status": "ok"}, **{k: 1.5 for k in keys})]
    assert [label for _, label in series_of(res)] == labels

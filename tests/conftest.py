"""Fixtures for every test, and the test layout:

  ops/<op>/   one folder per op family (conv2d and its algorithms, conv_transpose2d,
              depthwise_conv2d, pool, gemm); multi-pass checks are split by pass
  runtime/    threads, fork, settings races, workspaces, thread pools, precision, autotune
  interop/    torch adapter, ONNX, zero-copy, the C API and the C example
  robustness/ hostile input and user defects      training/  data and optim
  bench/      the benchmark registry              nn/ models/  layers and networks
  support/    float64 references and shared case generators (importable by name from
              every test: this file puts support/ on sys.path) and their self-tests
  c/          C tests and sanitizer/fuzz/valgrind checks (bash tests/c/run_checks.sh)

The folders under ops/, runtime/ ... are packages (__init__.py), so files in different
folders may share a basename (test_errors.py, test_properties.py)."""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
# assertions in shared helpers report like those in test modules
pytest.register_assert_rewrite("property_helpers")

import fastconv  # noqa: E402


def pytest_report_header(config):
    i = fastconv.info(measure=False)
    return f"fastconv {i['version']}: isa={i['isa']} threads={i['threads']} openmp={i['openmp']}"


@pytest.fixture(params=fastconv.available_isas())
def isa(request):
    """Runs the test on every ISA path this CPU has (portable, avx2, avx512)."""
    before = fastconv.get_isa()
    fastconv.set_isa(request.param)
    yield request.param
    fastconv.set_isa(before)


@pytest.fixture(params=[1, 2, 3])
def threads(request):
    """fastconv's thread count for the test (1, 2, 3), restored after it."""
    before = fastconv.get_num_threads()
    fastconv.set_num_threads(request.param)
    yield request.param
    fastconv.set_num_threads(before)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(autouse=True)
def _torch_one_thread():
    """PyTorch's OpenMP pool and fastconv's share two cores here: the cross-checks
    compare values, not speed, so torch runs on one thread and never competes."""
    try:
        import torch
    except ImportError:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

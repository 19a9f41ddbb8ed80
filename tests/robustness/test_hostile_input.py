"""Hostile arguments through the Python API, every op family: arguments whose output,
padded input or workspace would overflow 64-bit indexing raise ValueError (from the
Python validation or, through the crossing, from the C library's FC_SIZE_OVERFLOW);
an allocation that fails inside C raises MemoryError naming the size; nothing
crashes."""
import numpy as np
import pytest

import fastconv
from fastconv import _C

BIG = 2**63 - 4
X1 = np.ones((1, 1, 1, 1), np.float32)
X3 = np.ones((1, 1, 3, 3), np.float32)
W1 = np.ones((1, 1, 1, 1), np.float32)


@pytest.mark.parametrize("kwargs", [
    dict(padding=2**62), dict(padding=BIG), dict(stride=BIG, padding=2**61),
    dict(padding=((BIG, BIG), (0, 0))),
])
def test_conv2d_overflow_is_value_error(kwargs):
    with pytest.raises(ValueError):
        fastconv.conv2d(X1, W1, **kwargs)
    with pytest.raises(ValueError):
        fastconv.conv2d_backward(X1, X1, W1, **kwargs)


def test_conv2d_shape_overflow_is_value_error():
    with pytest.raises(ValueError, match="elements"):
        fastconv.conv2d_output_shape((2**20, 2**20, 2**20, 2**20), (1, 2**20, 1, 1))


@pytest.mark.parametrize("kwargs", [
    dict(stride=BIG), dict(stride=2**62), dict(dilation=BIG), dict(padding=BIG),
    dict(stride=2**40, dilation=2**40),
])
def test_conv_transpose2d_overflow_is_value_error(kwargs):
    x = np.ones((1, 1, 2, 2), np.float32)
    w = np.ones((1, 1, 2, 2), np.float32)
    with pytest.raises(ValueError):
        fastconv.conv_transpose2d(x, w, **kwargs)


@pytest.mark.parametrize("kwargs", [
    dict(padding=BIG), dict(padding=((BIG, BIG), (BIG, BIG))), dict(stride=BIG, padding=2**62),
])
def test_depthwise_overflow_is_value_error(kwargs):
    with pytest.raises(ValueError):
        fastconv.depthwise_conv2d(X1, W1, **kwargs)
    with pytest.raises(ValueError):
        fastconv.depthwise_conv2d_backward(X1, X1, W1, **kwargs)


@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=BIG), dict(kernel_size=2**62, padding=2**62 - 1),
    dict(kernel_size=2, stride=BIG), dict(kernel_size=2, dilation=BIG),
    dict(kernel_size=2**31, padding=2**31 - 1, stride=1),
])
@pytest.mark.parametrize("op", ["max", "avg"])
def test_pool_overflow_is_value_error(op, kwargs):
    if op == "avg":
        kwargs = {k: v for k, v in kwargs.items() if k != "dilation"}
        if len(kwargs) == 1 and "kernel_size" not in kwargs:
            return
    f = fastconv.max_pool2d if op == "max" else fastconv.avg_pool2d
    with pytest.raises(ValueError):
        f(X1, **kwargs)


def test_c_level_overflow_is_value_error():
    # the crossing itself, with checks in Python skipped: C refuses, _check raises
    with pytest.raises(ValueError, match="conv2d: "):
        _C.conv2d_output_shape((1, 1, 1, 1), 1, 1, 1, (1, 1), (BIG, BIG, 0, 0), (1, 1), 1)
    a = np.ones(16, np.float32)
    for lda, ldb, ldc in ((BIG, 2, 2), (2, BIG, 2), (2, 2, BIG)):
        with pytest.raises(ValueError):
            _C.sgemm(False, False, 2, 2, 2, 1.0, a, lda, a, ldb, 0.0, a.copy(), ldc)


def test_allocation_failure_is_memory_error_with_size():
    # A legal 1x1 convolution whose direct algorithm pads the input into a workspace
    # of ~2^60 bytes: the allocation fails in C and surfaces with its size.
    p = 2**28
    with pytest.raises(MemoryError, match=r"failed to allocate a workspace of \d{15,} bytes"):
        fastconv.conv2d(X1, W1, stride=2 * p, padding=p, algorithm="direct")
    # the process is fine afterwards and the same call through im2col works
    y = fastconv.conv2d(X1, W1, stride=2 * p, padding=p, algorithm="im2col")
    # (the windows sit at padded rows 0 and 2p: both miss the one input pixel at p)
    np.testing.assert_array_equal(y, np.zeros((1, 1, 2, 2), np.float32))
    np.testing.assert_array_equal(fastconv.conv2d(X3, np.ones((1, 1, 3, 3), np.float32)),
                                  np.full((1, 1, 1, 1), 9, np.float32))


def test_matmul_mismatch_is_value_error():
    with pytest.raises(ValueError):
        fastconv.matmul(np.ones((2, 3), np.float32), np.ones((4, 2), np.float32))


def test_no_c_path_prints_or_aborts():
    import pathlib
    import re
    root = pathlib.Path(__file__).resolve().parents[2] / "src_c"
    bad = re.compile(r"\b(printf|fprintf|puts|perror|abort|exit|assert)\s*\(")
    hits = [f"{f}:{i}" for f in root.rglob("*") if f.suffix in (".c", ".h", ".inc")
            for i, line in enumerate(f.read_text().splitlines(), 1) if bad.search(line)]
    assert not hits, hits

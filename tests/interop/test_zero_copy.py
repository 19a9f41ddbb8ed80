"""Zero-copy exchange: C-contiguous float32 CPU data is read in place, whatever holds it
(NumPy, the buffer protocol, DLPack/PyTorch). Proven two ways: the converted array
shares memory with the source, and an op on a large input allocates (tracemalloc sees
NumPy's allocations) far less than a copy of that input would take."""
import array
import tracemalloc

import numpy as np
import pytest

import fastconv as fc
from fastconv.functional import _args


def _peak_bytes(f):
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        f()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_ndarray_and_buffer_protocol_are_not_copied():
    a = np.arange(12, dtype=np.float32)
    assert _args.as_float32(a, "x", "t") is a
    mv = memoryview(a)
    assert np.shares_memory(_args.as_float32(mv, "x", "t"), a)
    buf = array.array("f", range(6))
    v = _args.as_float32(buf, "x", "t")
    buf[2] = 42.0                       # the view reads the array.array's own memory
    assert v[2] == 42.0


def test_non_float32_or_strided_input_is_copied_and_left_alone():
    a = np.arange(12, dtype=np.float64)
    v = _args.as_float32(a, "x", "t")
    assert v.dtype == np.float32 and not np.shares_memory(v, a)
    b = np.arange(12, dtype=np.float32).reshape(3, 4).T
    v = _args.as_float32(b, "x", "t")
    assert v.flags.c_contiguous and not np.shares_memory(v, b)
    np.testing.assert_array_equal(v, b)


def test_torch_tensor_is_read_in_place():
    torch = pytest.importorskip("torch")
    t = torch.arange(24, dtype=torch.float32).reshape(2, 3, 4)
    v = _args.as_float32(t, "x", "t")
    assert np.shares_memory(v, t.numpy())
    t[0, 0, 0] = -7.0
    assert v[0, 0, 0] == -7.0
    # Non-contiguous or other dtypes: converted (a copy), the tensor untouched.
    tt = t.transpose(1, 2)
    v = _args.as_float32(tt, "x", "t")
    assert not np.shares_memory(v, t.numpy())
    np.testing.assert_array_equal(v, tt.numpy())
    v = _args.as_float32(t.double(), "x", "t")
    assert v.dtype == np.float32


def test_tensor_requiring_grad_is_a_clear_type_error():
    torch = pytest.importorskip("torch")
    t = torch.ones(1, 1, 4, 4, requires_grad=True)
    with pytest.raises(TypeError, match=r"requires grad.*detach\(\)"):
        fc.max_pool2d(t, 2)
    # Detached, the same memory goes through.
    np.testing.assert_array_equal(fc.max_pool2d(t.detach(), 2), np.ones((1, 1, 2, 2)))


def test_unsupported_dlpack_dtype_is_a_type_error():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="x could not be exchanged through DLPack"):
        fc.global_avg_pool2d(torch.ones(1, 1, 2, 2, dtype=torch.bfloat16))


def _sources():
    """Makers of a (N, C, H, W) float32 input held by different kinds of objects."""
    out = [("numpy", lambda a: a), ("memoryview", lambda a: memoryview(a))]
    try:
        import torch
        out.append(("torch", lambda a: torch.from_numpy(a)))
    except ImportError:
        pass
    return out


OPS = {
    # each: (op on x, weight shape or None); outputs are small so that a copy of the
    # 4 MiB input would dominate the peak allocation.
    "conv2d": lambda x, w: fc.conv2d(x, w, stride=8),
    "conv_transpose2d": lambda x, w: fc.conv_transpose2d(x, w.transpose(1, 0, 2, 3).copy()),
    "depthwise_conv2d": lambda x, w: fc.depthwise_conv2d(x, np.ones((4, 1, 1, 1), np.float32),
                                                         stride=8),
    "max_pool2d": lambda x, w: fc.max_pool2d(x, 8),
    "avg_pool2d": lambda x, w: fc.avg_pool2d(x, 8),
    "global_avg_pool2d": lambda x, w: fc.global_avg_pool2d(x),
    "global_max_pool2d": lambda x, w: fc.global_max_pool2d(x),
}


@pytest.mark.parametrize("op", sorted(OPS))
@pytest.mark.parametrize("source", [s[0] for s in _sources()])
def test_ops_do_not_copy_contiguous_float32_input(op, source):
    make = dict(_sources())[source]
    rng = np.random.default_rng(0)
    if op == "conv_transpose2d":
        # A 1-channel output from 4 input channels: the output is a quarter of x.
        x_np = rng.standard_normal((1, 4, 512, 512), dtype=np.float32)
        w = rng.standard_normal((1, 4, 1, 1), dtype=np.float32)
        limit = x_np.nbytes // 2
    else:
        x_np = rng.standard_normal((1, 4, 512, 512), dtype=np.float32)
        w = rng.standard_normal((2, 4, 1, 1), dtype=np.float32)
        limit = x_np.nbytes // 4
    x = make(x_np)
    want = OPS[op](x_np, w)
    got = OPS[op](x, w)                 # warm-up, and the same answer
    np.testing.assert_array_equal(got, want)
    peak = _peak_bytes(lambda: OPS[op](x, w))
    assert peak < limit, f"{op} on a {source} input allocated {peak} bytes (input {x_np.nbytes})"
    # The same check catches a copy: a float64 input must be converted.
    if source == "numpy":
        x64 = x_np.astype(np.float64)
        assert _peak_bytes(lambda: OPS[op](x64, w)) >= x_np.nbytes

"""Every exported op on bfloat16 and float16 arrays (fastconv/functional/lowp.py), on every
ISA path: the result has the input's 16-bit dtype and equals the float32 op on the same
(16-bit, hence exact in float32) inputs with its float32 outputs rounded once.

Tolerance: one 16-bit ulp of the result's magnitude. The 16-bit op converts its inputs
exactly, runs the float32 op and rounds each output once (round to nearest even), so
against the float32 op on the same inputs it is expected to agree bit for bit; against
an independent float32 or float64 computation whose error is far below a 16-bit ulp,
rounding once can land on either neighbour of a value near a rounding boundary, never
further: one ulp. Convolution and matmul are also checked against the float64
reference this way (plus the float32 kernels' own error bound)."""
import numpy as np
import pytest

import fastconv as fc
from fastconv.functional import lowp
from reference import conv2d_ref

try:   # optional (the bf16 extra): without it float16 is still tested
    import ml_dtypes
    DTYPES = {"bfloat16": np.dtype(ml_dtypes.bfloat16), "float16": np.dtype(np.float16)}
except ImportError:
    ml_dtypes = None
    DTYPES = {"float16": np.dtype(np.float16)}


def ulp16(v, dtype):
    """The spacing of the 16-bit dtype at |v| (v float32 values of that dtype)."""
    h = np.abs(v).astype(dtype)
    up = (h.view(np.uint16) + 1).view(dtype).astype(np.float64)
    return np.abs(up - h.astype(np.float64))


def assert_within_ulp(got, want32, dtype, what):
    """got (16-bit) within one 16-bit ulp of want32 (float32) rounded once."""
    assert got.dtype == dtype, (what, got.dtype)
    want = want32.astype(dtype)
    g, w = got.astype(np.float64), want.astype(np.float64)
    same_nan = np.isnan(g) & np.isnan(w)
    err = np.where(same_nan, 0, np.abs(g - w))
    tol = ulp16(want.astype(np.float32), dtype)
    assert np.all(err <= tol), (what, np.max(err / np.maximum(tol, 1e-300)))


def _flat(r):
    if isinstance(r, tuple):
        return [v for v in r]
    return [r]


def _make(rng, shape):
    if shape[0] == "positive":      # variances, inverse standard deviations
        return (np.abs(rng.standard_normal(shape[1:])) + 0.5).astype(np.float32)
    return (rng.standard_normal(shape) * 2).astype(np.float32)


# (name, call(arrays), shapes): each shape is a float array made by the test; "labels"
# and the like are made inside call.
CASES = [
    ("conv2d", lambda a: fc.conv2d(a[0], a[1], a[2], padding=1), [(2, 3, 9, 7), (5, 3, 3, 3), (5,)]),
    ("conv2d_winograd", lambda a: fc.conv2d(a[0], a[1], padding=1, algorithm="winograd_f43"),
     [(1, 4, 10, 10), (6, 4, 3, 3)]),
    ("conv2d_strided_grouped", lambda a: fc.conv2d(a[0], a[1], stride=2, groups=2),
     [(3, 4, 8, 9), (6, 2, 3, 3)]),
    ("conv2d_backward", lambda a: fc.conv2d_backward(a[0], a[1], a[2], padding=1),
     [(2, 5, 9, 7), (2, 3, 9, 7), (5, 3, 3, 3)]),
    ("depthwise_conv2d", lambda a: fc.depthwise_conv2d(a[0], a[1], a[2], padding=1),
     [(2, 4, 8, 8), (4, 1, 3, 3), (4,)]),
    ("depthwise_conv2d_backward", lambda a: fc.depthwise_conv2d_backward(a[0], a[1], a[2], padding=1),
     [(2, 4, 8, 8), (2, 4, 8, 8), (4, 1, 3, 3)]),
    ("conv_transpose2d", lambda a: fc.conv_transpose2d(a[0], a[1], a[2], stride=2),
     [(2, 3, 5, 5), (3, 4, 3, 3), (4,)]),
    ("conv_transpose2d_backward", lambda a: fc.conv_transpose2d_backward(a[0], a[1], a[2], stride=2),
     [(2, 4, 11, 11), (2, 3, 5, 5), (3, 4, 3, 3)]),
    ("max_pool2d", lambda a: fc.max_pool2d(a[0], 2, return_indices=True), [(2, 3, 7, 8)]),
    ("max_pool2d_backward", lambda a: fc.max_pool2d_backward(a[0], a[1], 2),
     [(2, 3, 3, 4), (2, 3, 7, 8)]),
    ("avg_pool2d", lambda a: fc.avg_pool2d(a[0], 3, stride=2, padding=1), [(2, 3, 7, 8)]),
    ("avg_pool2d_backward", lambda a: fc.avg_pool2d_backward(a[0], a[1], 3, stride=2, padding=1),
     [(2, 3, 4, 4), (2, 3, 7, 8)]),
    ("global_avg_pool2d", lambda a: fc.global_avg_pool2d(a[0]), [(2, 5, 6, 7)]),
    ("global_avg_pool2d_backward", lambda a: fc.global_avg_pool2d_backward(a[0], a[1]),
     [(2, 5, 1, 1), (2, 5, 6, 7)]),
    ("global_max_pool2d", lambda a: fc.global_max_pool2d(a[0]), [(2, 5, 6, 7)]),
    ("global_max_pool2d_backward", lambda a: fc.global_max_pool2d_backward(a[0], a[1]),
     [(2, 5, 1, 1), (2, 5, 6, 7)]),
    ("matmul", lambda a: fc.matmul(a[0], a[1]), [(7, 13), (13, 5)]),
    ("batch_norm2d", lambda a: fc.batch_norm2d(a[0], a[1], a[2], training=True),
     [(3, 5, 4, 6), (5,), (5,)]),
    ("batch_norm2d_eval", lambda a: fc.batch_norm2d(a[0], a[1], a[2], a[3], a[4], training=False),
     [(3, 5, 4, 6), (5,), (5,), (5,), ("positive", 5)]),
    ("batch_norm2d_backward", lambda a: fc.batch_norm2d_backward(a[0], a[1], a[2], a[3], a[4]),
     [(3, 5, 4, 6), (3, 5, 4, 6), (5,), (5,), ("positive", 5)]),
    ("relu", lambda a: fc.relu(a[0]), [(3, 33)]),
    ("relu_backward", lambda a: fc.relu_backward(a[0], a[1]), [(3, 33), (3, 33)]),
    ("leaky_relu", lambda a: fc.leaky_relu(a[0], 0.1), [(3, 33)]),
    ("leaky_relu_backward", lambda a: fc.leaky_relu_backward(a[0], a[1], 0.1), [(3, 33), (3, 33)]),
    ("tanh", lambda a: fc.tanh(a[0]), [(3, 33)]),
    ("tanh_backward", lambda a: fc.tanh_backward(a[0], a[1]), [(3, 33), (3, 33)]),
    ("sigmoid", lambda a: fc.sigmoid(a[0]), [(3, 33)]),
    ("sigmoid_backward", lambda a: fc.sigmoid_backward(a[0], a[1]), [(3, 33), (3, 33)]),
    ("gelu", lambda a: fc.gelu(a[0]), [(3, 33)]),
    ("gelu_backward", lambda a: fc.gelu_backward(a[0], a[1], approximate="tanh"), [(3, 33), (3, 33)]),
    ("add", lambda a: fc.add(a[0], a[1]), [(4, 17), (4, 17)]),
    ("add_relu", lambda a: fc.add_relu(a[0], a[1]), [(4, 17), (4, 17)]),
    ("bias_add", lambda a: fc.bias_add(a[0], a[1]), [(2, 3, 4, 5), (3,)]),
    ("bias_add_backward", lambda a: fc.bias_add_backward(a[0]), [(2, 3, 4, 5)]),
    ("dropout", lambda a: fc.dropout(a[0], 0.3, 7), [(5, 41)]),
    ("dropout_backward", lambda a: fc.dropout_backward(a[0], fc.dropout(a[1], 0.3, 7)[1], 0.3),
     [(5, 41), (5, 41)]),
    ("softmax_cross_entropy", lambda a: fc.softmax_cross_entropy(
        a[0], np.arange(6) % 4, reduction="none")[0], [(6, 4)]),
]


@pytest.mark.parametrize("name,call,shapes", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("kind", DTYPES)
def test_op_in_16bit_is_float32_op_rounded_once(isa, kind, name, call, shapes, rng):
    dtype = DTYPES[kind]
    a16 = [_make(rng, s).astype(dtype) for s in shapes]
    a32 = [a.astype(np.float32) for a in a16]
    got, want = _flat(call(a16)), _flat(call(a32))
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        if w is None or not isinstance(w, np.ndarray) or w.dtype != np.float32:
            assert type(g) is type(w) and (w is None or np.array_equal(g, w)), (name, i)
            continue
        assert_within_ulp(g, w, dtype, f"{name}[{i}]")


@pytest.mark.parametrize("kind", DTYPES)
def test_conv2d_and_matmul_against_float64(isa, kind, rng):
    dtype = DTYPES[kind]
    x = rng.standard_normal((2, 5, 11, 9)).astype(dtype)
    w = (rng.standard_normal((7, 5, 3, 3)) * 0.3).astype(dtype)
    for algo in ("direct", "im2col", "winograd_f23", "winograd_f43"):
        y = fc.conv2d(x, w, padding=1, algorithm=algo)
        ref = conv2d_ref(x.astype(np.float64), w.astype(np.float64), pads=(1, 1, 1, 1))
        absref = conv2d_ref(np.abs(x.astype(np.float64)), np.abs(w.astype(np.float64)),
                            pads=(1, 1, 1, 1))
        f32_err = 45 * 2.0**-24 * absref * (8 if algo.startswith("winograd") else 1)
        err = np.abs(y.astype(np.float64) - ref)
        assert np.all(err <= ulp16(ref.astype(np.float32), dtype) + f32_err), algo
    a = rng.standard_normal((9, 37)).astype(dtype)
    b = rng.standard_normal((37, 6)).astype(dtype)
    ref = a.astype(np.float64) @ b.astype(np.float64)
    absref = np.abs(a.astype(np.float64)) @ np.abs(b.astype(np.float64))
    err = np.abs(fc.matmul(a, b).astype(np.float64) - ref)
    assert np.all(err <= ulp16(ref.astype(np.float32), dtype) + 37 * 2.0**-24 * absref)


@pytest.mark.parametrize("kind", DTYPES)
def test_in_place_arguments_receive_16bit_results(kind, rng):
    dtype = DTYPES[kind]
    x = rng.standard_normal((3, 4, 5, 5)).astype(dtype)
    out = np.empty_like(x)
    r = fc.relu(x, out=out)
    assert r is out and out.dtype == dtype
    np.testing.assert_array_equal(out.astype(np.float32), np.maximum(x.astype(np.float32), 0))
    rm, rv = np.zeros(4, dtype), np.ones(4, dtype)
    fc.batch_norm2d(x, running_mean=rm, running_var=rv, training=True, momentum=0.5)
    xs = x.astype(np.float64)
    np.testing.assert_allclose(rm.astype(np.float64), 0.5 * xs.mean(axis=(0, 2, 3)),
                               rtol=2 * lowp_eps(kind), atol=1e-6)
    assert rm.dtype == dtype and rv.dtype == dtype


def lowp_eps(kind):
    return 2.0**-8 if kind == "bfloat16" else 2.0**-11


def test_mixed_dtypes_are_type_errors_naming_the_arguments(rng):
    if ml_dtypes is None:
        pytest.skip("needs ml_dtypes")
    x = rng.standard_normal((1, 2, 5, 5)).astype(np.float32)
    w = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    with pytest.raises(TypeError, match=r"conv2d: x is bfloat16 but weight \(float32\)"):
        fc.conv2d(x.astype(ml_dtypes.bfloat16), w)
    with pytest.raises(TypeError, match=r"conv2d: weight is float16 but x \(float32\)"):
        fc.conv2d(x, w.astype(np.float16))
    with pytest.raises(TypeError, match=r"x is bfloat16 but weight \(float16\)"):
        fc.conv2d(x.astype(ml_dtypes.bfloat16), w.astype(np.float16))
    with pytest.raises(TypeError, match=r"bias \(float32\)"):
        fc.conv2d(x.astype(np.float16), w.astype(np.float16), np.zeros(3, np.float32))
    with pytest.raises(TypeError, match=r"matmul: a is float16 but b \(float64\)"):
        fc.matmul(np.ones((2, 2), np.float16), np.ones((2, 2)))


def test_float32_calls_are_untouched(rng):
    x = rng.standard_normal((1, 2, 5, 5)).astype(np.float32)
    assert fc.relu(x).dtype == np.float32
    assert fc.conv2d.__wrapped__ is not None          # functools.wraps of the 16-bit edge

"""float32 <-> bfloat16 / float16 conversions (src_c/convert/) bit for bit against
ml_dtypes and NumPy on every ISA path: all 65536 16-bit patterns, float32 values around
every 16-bit value and rounding tie, random float32 bits (subnormals, inf, NaN), and a
large array split over threads. NaN: fastconv quiets it keeping sign and top payload
bits (F16C's rule); NumPy/ml_dtypes keep other payload bits, so NaN is checked by rule."""
import numpy as np
import pytest

import fastconv
from fastconv.functional import lowp

try:   # optional (the bf16 extra): without it float16 is still tested
    import ml_dtypes
    KINDS = {"bfloat16": (np.dtype(ml_dtypes.bfloat16), 7),
             "float16": (np.dtype(np.float16), 10)}
except ImportError:
    KINDS = {"float16": (np.dtype(np.float16), 10)}


def _all16(dtype):
    return np.arange(65536, dtype=np.uint32).astype(np.uint16).view(dtype)


def _want_nan16(u32, mant):
    """The 16-bit NaN fastconv makes from float32 NaN bits u32."""
    sign = (u32 >> 16) & 0x8000
    exp = ((1 << (15 - mant)) - 1) << mant
    return (sign | exp | (1 << (mant - 1)) | ((u32 & 0x7FFFFF) >> (23 - mant))).astype(np.uint16)


def _check_to16(x, kind):
    dtype, mant = KINDS[kind]
    got = lowp.from_float32(x, kind).view(np.uint16)
    with np.errstate(over="ignore", invalid="ignore"):
        want = x.astype(dtype).view(np.uint16).copy()
    u = x.view(np.uint32)
    nan = np.isnan(x)
    want[nan] = _want_nan16(u[nan], mant)
    bad = np.flatnonzero(got != want)
    assert bad.size == 0, (kind, [(hex(u[i]), hex(got[i]), hex(want[i])) for i in bad[:5]])


@pytest.mark.parametrize("kind", KINDS)
def test_every_16bit_pattern_to_float32_and_back(isa, kind):
    dtype, mant = KINDS[kind]
    h = _all16(dtype)
    f = lowp.to_float32(h)
    want = h.astype(np.float32).view(np.uint32).copy()
    nan = np.isnan(h.astype(np.float32))
    want[nan] |= 0x00400000                       # quieted, payload kept
    np.testing.assert_array_equal(f.view(np.uint32), want)
    back = lowp.from_float32(f, kind).view(np.uint16)
    expect = h.view(np.uint16).copy()
    expect[nan] |= 1 << (mant - 1)
    np.testing.assert_array_equal(back, expect)


@pytest.mark.parametrize("kind", KINDS)
def test_float32_around_every_16bit_value_and_tie(isa, kind):
    dtype, mant = KINDS[kind]
    v = _all16(dtype).astype(np.float64)
    fin = np.isfinite(v)
    v = np.sort(np.unique(v[fin]))
    ties = ((v[:-1] + v[1:]) / 2).astype(np.float32)     # exact in float32
    assert np.all(ties.astype(np.float64) == (v[:-1] + v[1:]) / 2)
    vals = np.concatenate([v.astype(np.float32), ties]).view(np.uint32)
    x = np.concatenate([vals, vals + 1, vals - 1]).view(np.float32)
    edges = np.array([65504, 65519.996, 65520, 65536, 3.3895314e38, 3.4028235e38, np.inf,
                      -np.inf, 0.0, -0.0, 2.0**-25, 2.0**-24, 1.5 * 2.0**-24, 2.0**-133,
                      2.0**-134, 1e-45], np.float32)
    _check_to16(np.concatenate([x, edges, -edges]), kind)


@pytest.mark.parametrize("kind", KINDS)
def test_random_float32_bits(isa, kind, rng):
    u = rng.integers(0, 2**32, 200_001, dtype=np.uint64).astype(np.uint32)
    u[::5] &= 0x807FFFFF                         # subnormals
    u[::7] |= 0x7F800000                         # inf / NaN
    _check_to16(u.view(np.float32), kind)


@pytest.mark.parametrize("kind", KINDS)
def test_threaded_large_arrays_match_one_thread(isa, kind, rng):
    x = rng.standard_normal(1_000_003).astype(np.float32) * 1000
    before = fastconv.get_num_threads()
    try:
        fastconv.set_num_threads(1)
        one = lowp.from_float32(x, kind)
        fastconv.set_num_threads(2)
        two = lowp.from_float32(x, kind)
    finally:
        fastconv.set_num_threads(before)
    np.testing.assert_array_equal(one.view(np.uint16), two.view(np.uint16))
    _check_to16(x, kind)
    np.testing.assert_array_equal(lowp.to_float32(two), two.astype(np.float32))


def test_non_contiguous_and_empty(rng):
    x = rng.standard_normal((6, 8)).astype(np.float32)[:, ::2]
    np.testing.assert_array_equal(lowp.from_float32(x, "float16"), x.astype(np.float16))
    assert lowp.from_float32(np.zeros((0, 3), np.float32), "float16").shape == (0, 3)
    assert lowp.to_float32(np.zeros((0,), np.float16)).dtype == np.float32


def test_bad_dtype_names():
    with pytest.raises(ValueError, match="'bfloat16' or 'float16'"):
        lowp.dtype_of("float8")
    with pytest.raises(ValueError, match="bfloat16 or float16"):
        lowp.dtype_of(np.float32)

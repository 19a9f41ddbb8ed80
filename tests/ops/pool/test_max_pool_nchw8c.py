"""Max pooling on the blocked layout NCHW8c (src_c/pool/max_pool_nchw8c.c, through
fastconv.functional.blocked.max_pool2d_nchw8c): random shapes, kernels, strides,
paddings (asymmetric), dilations and ceil mode, channel counts that are not multiples
of 8, batch 1, NaN and -inf in the data, 1-3 threads, against the float64 reference
of the NCHW pool; the padded channels stay zero; bad arguments raise. The kernel is one
portable body (no ISA dispatch)."""
import numpy as np
import pytest

import fastconv
from fastconv.functional import blocked
from pool_cases import padding_arg, random_case
from reference_pool import max_pool_ref


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("seed", range(10))
def test_matches_the_nchw_reference(seed, threads):
    rng = np.random.default_rng(700 + seed)
    before = fastconv.get_num_threads()
    fastconv.set_num_threads(threads)
    try:
        for _ in range(4):
            (N, _, H, W), k, s, pads, d, ceil = random_case(rng, max_op=True,
                                                            wide=seed % 3 == 0)
            C = int(rng.choice([1, 5, 8, 13, 17]))
            x = rng.standard_normal((N, C, H, W)).astype(np.float32)
            special = rng.random(x.shape)
            x[special < 0.03] = np.nan
            x[(special >= 0.03) & (special < 0.06)] = -np.inf
            want = max_pool_ref(x, k, s, pads, d, ceil)[0].astype(np.float32)
            yb = blocked.max_pool2d_nchw8c(blocked.to_nchw8c(x), k, s, padding_arg(pads), d,
                                           ceil)
            what = f"{(N, C, H, W)} k={k} s={s} pads={pads} d={d} ceil={ceil}"
            assert yb.shape == (N, -(-C // 8)) + want.shape[2:] + (8,), what
            np.testing.assert_array_equal(blocked.from_nchw8c(yb, C), want, err_msg=what)
            assert not yb[:, -1, :, :, (C - 1) % 8 + 1:].any(), what   # padded lanes: 0
    finally:
        fastconv.set_num_threads(before)


def test_same_as_pooling_then_reordering(rng):
    """AlexNet's pool (3x3, stride 2) on a 27x27 map of 256 channels."""
    x = rng.standard_normal((2, 256, 27, 27)).astype(np.float32)
    yb = blocked.max_pool2d_nchw8c(blocked.to_nchw8c(x), 3, stride=2)
    np.testing.assert_array_equal(yb, blocked.to_nchw8c(fastconv.max_pool2d(x, 3, stride=2)))


@pytest.mark.parametrize("bad, err, match", [
    (np.zeros((1, 8, 4, 4), np.float32), ValueError, "shape"),
    (np.zeros((1, 1, 4, 4, 7), np.float32), ValueError, "8"),
    ([[1.0]], ValueError, "shape"),
    ("x", TypeError, "x"),
])
def test_bad_input_raises(bad, err, match):
    with pytest.raises(err, match=match):
        blocked.max_pool2d_nchw8c(bad, 2)


def test_bad_pool_arguments_raise():
    xb = np.zeros((1, 1, 4, 4, 8), np.float32)
    with pytest.raises(ValueError, match="kernel_size"):
        blocked.max_pool2d_nchw8c(xb, 0)
    with pytest.raises(ValueError, match="padding"):
        blocked.max_pool2d_nchw8c(xb, 2, padding=2)

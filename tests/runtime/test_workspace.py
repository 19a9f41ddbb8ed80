"""The per-thread workspace cache: no call can grow memory another call points into,
"auto" weighs memory, the cache is capped and can be released (issue 13, items 1, 4)."""
import threading

import numpy as np
import pytest

import fastconv
from reference_transpose import tconv_backward_ref, tconv_ref


def _ref(x, w, stride, padding, output_padding, groups, dilation, backward_gy=None):
    """The float64 transposed-conv reference of the op tests, with square arguments."""
    args = dict(stride=(stride,) * 2, padding=(padding,) * 2,
                output_padding=(output_padding,) * 2, dilation=(dilation,) * 2, groups=groups)
    if backward_gy is None:
        return tconv_ref(x, w, **args)
    return tconv_backward_ref(backward_gy, x, w, **args)


# groups == C (the depthwise kernels) with output_padding >= stride (legal once
# dilation > stride) made the transposed conv crop into the cached workspace, which the
# depthwise kernel then grew and freed underneath it.
CROP_CASES = [
    # (N, C, H, W, m, R, S, stride, padding, output_padding, dilation)
    (1, 4, 4, 4, 1, 1, 1, 1, 0, 1, 2),
    (2, 3, 5, 7, 2, 3, 3, 1, 0, 2, 3),
    (1, 6, 9, 4, 1, 2, 3, 2, 1, 2, 3),
    (3, 2, 6, 6, 3, 3, 2, 1, 1, 1, 2),
]


@pytest.mark.parametrize("case", CROP_CASES, ids=str)
def test_depthwise_transposed_conv_with_crop(case, isa, rng):
    N, C, H, W, m, R, S, stride, padding, output_padding, dilation = case
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    w = rng.standard_normal((C, m, R, S)).astype(np.float32)
    ref = _ref(x, w, stride, padding, output_padding, C, dilation)
    for _ in range(3):  # the damage showed on later calls too
        y = fastconv.conv_transpose2d(x, w, stride=stride, padding=padding,
                                      output_padding=output_padding, groups=C, dilation=dilation)
        assert y.shape == ref.shape
        np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)
        gy = rng.standard_normal(y.shape).astype(np.float32)
        gx, gw, gb = fastconv.conv_transpose2d_backward(
            gy, x, w, stride=stride, padding=padding, output_padding=output_padding,
            groups=C, dilation=dilation)
        # backward-data of a transposed conv is the forward conv of gy with w
        assert gx.shape == x.shape and gw.shape == w.shape
        # adjoint identity: <tconv(x), gy> == <x, gx>
        lhs = float(np.sum(ref * gy.astype(np.float64)))
        rhs = float(np.sum(x.astype(np.float64) * gx.astype(np.float64)))
        assert abs(lhs - rhs) <= 1e-4 * (1 + abs(lhs))
        # weight gradient: <tconv(x, w'), gy> is linear in w'
        for idx in [(0, 0, 0, 0), (C - 1, m - 1, R - 1, S - 1)]:
            e = np.zeros_like(w)
            e[idx] = 1
            want = float(np.sum(_ref(x, e, stride, padding, output_padding, C, dilation) * gy))
            assert abs(gw[idx] - want) <= 1e-4 * (1 + abs(want))
        rgx, rgw, rgb = _ref(x, w, stride, padding, output_padding, C, dilation, gy)
        np.testing.assert_allclose(gx, rgx, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(gw, rgw, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(gb, rgb, rtol=1e-4, atol=1e-4)


def test_auto_weighs_memory():
    # a 3x3 output from a 1x1 input padded by 5000: direct would copy a 10001^2 plane
    fastconv.release_workspace()
    y = fastconv.conv2d(np.ones((1, 1, 1, 1), np.float32), np.ones((1, 1, 1, 1), np.float32),
                        padding=5000, stride=5000)
    assert y.shape == (1, 1, 3, 3)
    assert y[0, 0, 1, 1] == 1 and np.count_nonzero(y) == 1
    assert fastconv.workspace_cache_bytes() < 16 << 20
    # the same for the depthwise shape
    y = fastconv.conv2d(np.ones((1, 3, 1, 1), np.float32), np.ones((3, 1, 1, 1), np.float32),
                        padding=5000, stride=5000, groups=3)
    assert y.shape == (1, 3, 3, 3) and np.count_nonzero(y) == 3
    assert fastconv.workspace_cache_bytes() < 16 << 20


def _big_call():
    x = np.ones((1, 4, 600, 600), np.float32)
    return fastconv.conv2d(x, np.ones((4, 4, 3, 3), np.float32), padding=1, algorithm="direct")


def test_cache_limit_and_release():
    old = fastconv.get_workspace_cache_limit()
    try:
        fastconv.set_workspace_cache_limit(old)
        _big_call()
        held = fastconv.workspace_cache_bytes()
        assert held > 4 << 20  # the padded planes stay cached below the limit
        fastconv.release_workspace()
        assert fastconv.workspace_cache_bytes() == 0
        fastconv.set_workspace_cache_limit(1 << 20)
        _big_call()
        assert fastconv.workspace_cache_bytes() <= 1 << 20
        fastconv.set_workspace_cache_limit(0)
        fastconv.conv2d(np.ones((1, 1, 8, 8), np.float32), np.ones((2, 1, 3, 3), np.float32))
        assert fastconv.workspace_cache_bytes() == 0
    finally:
        fastconv.set_workspace_cache_limit(old)


def test_release_covers_other_threads():
    fastconv.release_workspace()
    done, go = threading.Event(), threading.Event()

    def hold():
        _big_call()
        done.set()
        go.wait(30)

    t = threading.Thread(target=hold)
    t.start()
    done.wait(30)
    try:
        assert fastconv.workspace_cache_bytes() > 0
        fastconv.release_workspace()  # frees the other (idle) thread's cache too
        assert fastconv.workspace_cache_bytes() == 0
    finally:
        go.set()
        t.join()


@pytest.mark.parametrize("bad", [-1, 2**64, 1.5, "1", True, None])
def test_cache_limit_rejects(bad):
    with pytest.raises((TypeError, ValueError), match="nbytes"):
        fastconv.set_workspace_cache_limit(bad)

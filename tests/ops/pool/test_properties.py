"""Property tests (hypothesis) for max/avg/global pooling, forward and backward, over
the legal argument space (1x1 images, stride larger than the kernel, dilation, tiny and
huge magnitudes, NaN/Inf), against the float64 references, plus the identity: avg
pooling's backward is its adjoint."""
import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st

import fastconv
from property_helpers import SCALES, SETTINGS, _adjoint_holds
from reference import assert_close
from reference_pool import (avg_pool_backward_ref, avg_pool_ref, max_pool_backward_ref,
                            max_pool_ref, valid)


@st.composite
def pool_problems(draw, max_op):
    N, C = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    H, W = draw(st.integers(1, 9)), draw(st.integers(1, 20))
    k = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    s = (draw(st.integers(1, 7)), draw(st.integers(1, 7)))   # stride may exceed the kernel
    d = (draw(st.integers(1, 3)), draw(st.integers(1, 3))) if max_op else (1, 1)
    eff = [dd * (kk - 1) + 1 for kk, dd in zip(k, d)]
    pads = tuple(draw(st.integers(0, eff[i // 2] - 1)) for i in range(4))
    ceil = draw(st.booleans())
    assume(valid(H, W, k, s, pads, d, ceil))
    return dict(shape=(N, C, H, W), k=k, s=s, pads=pads, d=d, ceil=ceil,
                count_include_pad=draw(st.booleans()), scale=draw(SCALES),
                special=draw(st.sampled_from([None, np.nan, np.inf, -np.inf])),
                seed=draw(st.integers(0, 2**31 - 1)))


def _pool_x(p):
    rng = np.random.default_rng(p["seed"])
    x = (rng.standard_normal(p["shape"]) * p["scale"]).astype(np.float32)
    if p["special"] is not None:
        x.flat[rng.integers(x.size)] = p["special"]
    return rng, x


@SETTINGS
@given(pool_problems(max_op=True))
def test_max_pool_matches_reference(p):
    rng, x = _pool_x(p)
    t, b, l, r = p["pads"]
    args = dict(kernel_size=p["k"], stride=p["s"], padding=((t, b), (l, r)), dilation=p["d"],
                ceil_mode=p["ceil"])
    want, want_idx = max_pool_ref(x, p["k"], p["s"], p["pads"], p["d"], p["ceil"])
    y, idx = fastconv.max_pool2d(x, return_indices=True, **args)
    np.testing.assert_array_equal(y, want.astype(np.float32))   # exact: a max is a copy
    np.testing.assert_array_equal(idx, want_idx)
    gy = rng.standard_normal(y.shape).astype(np.float32)
    gref = max_pool_backward_ref(gy, p["shape"], want_idx)
    gabs = max_pool_backward_ref(np.abs(gy), p["shape"], want_idx)
    for given_idx in (None, idx):
        gx = fastconv.max_pool2d_backward(gy, x, indices=given_idx, **args)
        assert_close(gx, gref, gabs, p["k"][0] * p["k"][1], what="grad_x")


@SETTINGS
@given(pool_problems(max_op=False))
def test_avg_pool_matches_reference_and_adjoint(p):
    rng, x = _pool_x(p)
    t, b, l, r = p["pads"]
    args = dict(kernel_size=p["k"], stride=p["s"], padding=((t, b), (l, r)),
                ceil_mode=p["ceil"], count_include_pad=p["count_include_pad"])
    rargs = (p["k"], p["s"], p["pads"], p["ceil"], p["count_include_pad"])
    y = fastconv.avg_pool2d(x, **args)
    want, wabs = avg_pool_ref(x, *rargs)
    terms = p["k"][0] * p["k"][1]
    if p["special"] is None:
        assert_close(y, want, wabs, terms)
    else:  # exactly the windows holding the special value are non-finite
        np.testing.assert_array_equal(np.isfinite(y), np.isfinite(want))
        fin = np.isfinite(want)
        assert_close(y[fin], want[fin], wabs[fin], terms)
    gy = rng.standard_normal(y.shape).astype(np.float32)
    gx = fastconv.avg_pool2d_backward(gy, x, **args)
    gref, gabs = avg_pool_backward_ref(gy, p["shape"], *rargs)
    assert_close(gx, gref, gabs, terms, what="grad_x")
    if p["special"] is None:
        _adjoint_holds(y, gy, x, gx)


@SETTINGS
@given(st.integers(1, 3), st.integers(1, 4), st.integers(1, 9), st.integers(1, 33), SCALES,
       st.integers(0, 2**31 - 1))
def test_global_pools_match_reference(N, C, H, W, scale, seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((N, C, H, W)) * scale).astype(np.float32)
    x64 = x.astype(np.float64)
    ya = fastconv.global_avg_pool2d(x)
    assert_close(ya.reshape(N, C), x64.mean(axis=(2, 3)), np.abs(x64).mean(axis=(2, 3)), H * W)
    ym = fastconv.global_max_pool2d(x)
    np.testing.assert_array_equal(ym.reshape(N, C), x.max(axis=(2, 3)))
    gy = rng.standard_normal(ya.shape).astype(np.float32)
    ga = fastconv.global_avg_pool2d_backward(gy, x)
    want = np.broadcast_to(gy.astype(np.float64).reshape(N, C, 1, 1) / (H * W), x.shape)
    assert_close(ga, want, np.abs(want), 1)
    _adjoint_holds(ya, gy, x, ga)
    gm = fastconv.global_max_pool2d_backward(gy, x)
    # the gradient lands on one maximum per plane
    assert np.count_nonzero(gm.reshape(N * C, -1), axis=1).max() <= 1
    np.testing.assert_allclose(gm.sum(axis=(2, 3)), gy.reshape(N, C), rtol=0, atol=0)
    flat = x.reshape(N * C, -1)
    hit = gm.reshape(N * C, -1)[np.arange(N * C), flat.argmax(axis=1)]
    np.testing.assert_array_equal(hit, gy.ravel())

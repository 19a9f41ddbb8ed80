"""Property tests (hypothesis) for every op besides conv2d (test_properties.py):
conv_transpose2d, depthwise_conv2d, max/avg/global pooling and matmul, forward and
backward, over the legal argument space (1x1 images, kernels as large as the padded
input, stride larger than the kernel, dilation, groups, tiny and huge magnitudes,
NaN/Inf), against the float64 references, plus the identities: conv_transpose2d is
the adjoint of conv2d, backward-data is the adjoint of forward, avg pooling's
backward is its adjoint, and depthwise agrees with grouped conv2d."""
import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import fastconv
from reference import assert_close, conv2d_backward_ref, conv2d_ref
from reference_pool import (avg_pool_backward_ref, avg_pool_ref, max_pool_backward_ref,
                            max_pool_ref, valid)
from test_conv_transpose2d import tconv_backward_ref, tconv_ref

SETTINGS = settings(max_examples=30, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
SCALES = st.sampled_from([1e-20, 1e-3, 1.0, 1e3, 1e15])


def _dot(a, b):
    return float(np.dot(np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()))


def _adjoint_holds(y, gy, x, gx, rel=1e-5):
    """<y, gy> == <x, gx> within float32 rounding of the absolute sums."""
    bound = _dot(np.abs(y), np.abs(gy)) + _dot(np.abs(x), np.abs(gx))
    assert abs(_dot(y, gy) - _dot(x, gx)) <= rel * bound + 1e-30


# ------------------------------------------------------------ conv_transpose2d

@st.composite
def tconv_problems(draw):
    groups = draw(st.integers(1, 3))
    Cg, Kg, N = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 2))
    H, W = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    R, S = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    sh, sw = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    dh, dw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    oph = draw(st.integers(0, max(sh, dh) - 1))
    opw = draw(st.integers(0, max(sw, dw) - 1))
    full_h = (H - 1) * sh + dh * (R - 1) + 1 + oph
    full_w = (W - 1) * sw + dw * (S - 1) + 1 + opw
    # padding up to what leaves a 1x1 output
    ph, pw = draw(st.integers(0, (full_h - 1) // 2)), draw(st.integers(0, (full_w - 1) // 2))
    return dict(x_shape=(N, Cg * groups, H, W), w_shape=(Cg * groups, Kg, R, S),
                args=dict(stride=(sh, sw), padding=(ph, pw), output_padding=(oph, opw),
                          dilation=(dh, dw), groups=groups),
                scale=draw(SCALES), seed=draw(st.integers(0, 2**31 - 1)))


def _tconv_data(p):
    rng = np.random.default_rng(p["seed"])
    x = (rng.standard_normal(p["x_shape"]) * p["scale"]).astype(np.float32)
    w = rng.standard_normal(p["w_shape"]).astype(np.float32)
    b = rng.standard_normal(p["w_shape"][1] * p["args"]["groups"]).astype(np.float32)
    return rng, x, w, b


@SETTINGS
@given(tconv_problems())
def test_tconv_matches_reference(p):
    rng, x, w, b = _tconv_data(p)
    a = p["args"]
    y = fastconv.conv_transpose2d(x, w, b, **a)
    C, Kg, R, S = p["w_shape"]
    Cg = C // a["groups"]
    assert_close(y, tconv_ref(x, w, b, **a), tconv_ref(np.abs(x), np.abs(w), np.abs(b), **a),
                 Cg * R * S + 1)
    gy = rng.standard_normal(y.shape).astype(np.float32)
    gx, gw, gb = fastconv.conv_transpose2d_backward(gy, x, w, **a)
    rgx, rgw, rgb = tconv_backward_ref(gy, x, w, **a)
    agx, agw, agb = tconv_backward_ref(np.abs(gy), np.abs(x), np.abs(w), **a)
    N, _, OH, OW = y.shape
    assert_close(gx, rgx, agx, Kg * R * S, what="grad_x")
    assert_close(gw, rgw, agw, N * x.shape[2] * x.shape[3], what="grad_weight")
    assert_close(gb, rgb, agb, N * OH * OW, what="grad_bias")
    # backward-data is the adjoint of forward (without bias)
    y0 = fastconv.conv_transpose2d(x, w, **a)
    _adjoint_holds(y0, gy, x, gx)


@SETTINGS
@given(tconv_problems())
def test_tconv_is_the_adjoint_of_conv(p):
    # conv_transpose2d(., w) with conv2d's arguments maps conv2d's output space back
    # to its input space: <conv2d(x', w), y> == <x', conv_transpose2d(y, w)>.
    rng, y, w, _ = _tconv_data(p)
    a = p["args"]
    # output_padding >= stride (legal when dilation is larger) adds rows conv2d drops
    assume(all(o < s for o, s in zip(a["output_padding"], a["stride"])))
    xt = fastconv.conv_transpose2d(y, w, **a)            # shape of conv2d's input
    x2 = rng.standard_normal(xt.shape).astype(np.float32)
    ph, pw = a["padding"]
    cy = fastconv.conv2d(x2, w, stride=a["stride"], padding=(ph, pw), dilation=a["dilation"],
                         groups=a["groups"])
    assert cy.shape == y.shape
    _adjoint_holds(cy, y, x2, xt)
    # and conv2d's backward-data is conv_transpose2d itself
    gx, _, _ = fastconv.conv2d_backward(y, x2, w, stride=a["stride"], padding=(ph, pw),
                                        dilation=a["dilation"], groups=a["groups"])
    Kg_conv = w.shape[0] // a["groups"]
    assert_close(gx, xt.astype(np.float64), tconv_ref(np.abs(y), np.abs(w), **a),
                 Kg_conv * w.shape[2] * w.shape[3], what="conv2d backward-data vs tconv")


# ------------------------------------------------------------ depthwise

@st.composite
def dw_problems(draw):
    C, m, N = draw(st.integers(1, 5)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
    H, W = draw(st.integers(1, 10)), draw(st.integers(1, 20))
    dh, dw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    sh, sw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    pads = tuple(draw(st.integers(0, 4)) for _ in range(4))
    R = draw(st.integers(1, (H + pads[0] + pads[1] - 1) // dh + 1))
    S = draw(st.integers(1, (W + pads[2] + pads[3] - 1) // dw + 1))
    return dict(x_shape=(N, C, H, W), w_shape=(C * m, 1, R, S), stride=(sh, sw), pads=pads,
                dilation=(dh, dw), scale=draw(SCALES), seed=draw(st.integers(0, 2**31 - 1)))


@SETTINGS
@given(dw_problems())
def test_depthwise_matches_reference(p):
    rng = np.random.default_rng(p["seed"])
    x = (rng.standard_normal(p["x_shape"]) * p["scale"]).astype(np.float32)
    w = rng.standard_normal(p["w_shape"]).astype(np.float32)
    t, bt, l, r = p["pads"]
    args = dict(stride=p["stride"], padding=((t, bt), (l, r)), dilation=p["dilation"])
    C = p["x_shape"][1]
    rargs = (p["stride"], p["pads"], p["dilation"], C)
    _, _, R, S = p["w_shape"]
    y = fastconv.depthwise_conv2d(x, w, **args)
    assert_close(y, conv2d_ref(x, w, None, *rargs),
                 conv2d_ref(np.abs(x), np.abs(w), None, *rargs), R * S)
    # grouped conv2d through the general algorithms agrees
    yg = fastconv.conv2d(x, w, groups=C, algorithm="im2col", **args)
    assert_close(y, yg.astype(np.float64), 2 * conv2d_ref(np.abs(x), np.abs(w), None, *rargs),
                 R * S, what="depthwise vs grouped im2col")
    gy = rng.standard_normal(y.shape).astype(np.float32)
    gx, gw, gb = fastconv.depthwise_conv2d_backward(gy, x, w, **args)
    rgx, rgw, rgb = conv2d_backward_ref(gy, x, w, *rargs)
    agx, agw, agb = conv2d_backward_ref(np.abs(gy), np.abs(x), np.abs(w), *rargs)
    N, K, OH, OW = y.shape
    assert_close(gx, rgx, agx, (K // C) * R * S, what="grad_x")
    assert_close(gw, rgw, agw, N * OH * OW, what="grad_weight")
    assert_close(gb, rgb, agb, N * OH * OW, what="grad_bias")
    _adjoint_holds(y, gy, x, gx)


# ------------------------------------------------------------ pooling

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


# ------------------------------------------------------------ matmul

@SETTINGS
@given(st.integers(1, 70), st.integers(1, 70), st.integers(1, 90), st.booleans(), st.booleans(),
       SCALES, st.sampled_from([None, np.nan, np.inf]), st.integers(0, 2**31 - 1))
def test_matmul_matches_reference(M, N, K, ta, tb, scale, special, seed):
    rng = np.random.default_rng(seed)
    a = (rng.standard_normal((K, M) if ta else (M, K)) * scale).astype(np.float32)
    b = rng.standard_normal((N, K) if tb else (K, N)).astype(np.float32)
    if special is not None:
        a.flat[rng.integers(a.size)] = special
    av, bv = (a.T if ta else a), (b.T if tb else b)
    c = fastconv.matmul(av, bv)
    a64, b64 = av.astype(np.float64), bv.astype(np.float64)
    with np.errstate(invalid="ignore"):
        ref, absref = a64 @ b64, np.abs(a64) @ np.abs(b64)
    if special is None:
        assert_close(c, ref, absref, K)
    else:  # the row holding the special value is non-finite (or NaN), the rest exact-ish
        row = np.isfinite(a64).all(axis=1)
        assert not np.isfinite(c[~row]).any()
        assert_close(c[row], ref[row], absref[row], K)

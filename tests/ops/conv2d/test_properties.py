"""Property tests (hypothesis) over the whole legal argument space of conv2d: the
float64 reference, the identities convolution must satisfy, and agreement between
algorithms."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastconv
from conv_cases import PASSES, conv_out_shape
from reference import assert_close, conv2d_backward_ref, conv2d_ref

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def conv_problems(draw):
    groups = draw(st.integers(1, 3))
    Cg, Kg = draw(st.integers(1, 4)), draw(st.integers(1, 5))
    N = draw(st.integers(1, 2))
    H, W = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    dh, dw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    sh, sw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    pads = tuple(draw(st.integers(0, 4)) for _ in range(4))
    # kernels as large as the padded input allows
    R = draw(st.integers(1, (H + pads[0] + pads[1] - 1) // dh + 1))
    S = draw(st.integers(1, (W + pads[2] + pads[3] - 1) // dw + 1))
    scale = draw(st.sampled_from([1e-20, 1e-3, 1.0, 1e3, 1e15]))
    seed = draw(st.integers(0, 2**31 - 1))
    return dict(x_shape=(N, Cg * groups, H, W), w_shape=(Kg * groups, Cg, R, S),
                stride=(sh, sw), pads=pads, dilation=(dh, dw), groups=groups,
                scale=scale, seed=seed)


def _args(p):
    t, b, l, r = p["pads"]
    return dict(stride=p["stride"], padding=((t, b), (l, r)), dilation=p["dilation"],
                groups=p["groups"])


def _data(p):
    rng = np.random.default_rng(p["seed"])
    x = (rng.standard_normal(p["x_shape"]) * p["scale"]).astype(np.float32)
    w = rng.standard_normal(p["w_shape"]).astype(np.float32)
    return rng, x, w


@pytest.mark.parametrize("pass_", PASSES)
@SETTINGS
@given(p=conv_problems())
def test_matches_reference_everywhere(pass_, p):
    rng, x, w = _data(p)
    rargs = (p["stride"], p["pads"], p["dilation"], p["groups"])
    K, Cg, R, S = p["w_shape"]
    if pass_ == "forward":
        y = fastconv.conv2d(x, w, **_args(p))
        assert_close(y, conv2d_ref(x, w, None, *rargs),
                     conv2d_ref(np.abs(x), np.abs(w), None, *rargs), Cg * R * S)
        return
    out_shape = conv_out_shape(p["x_shape"], p["w_shape"], p["stride"], p["pads"], p["dilation"])
    gy = rng.standard_normal(out_shape).astype(np.float32)
    gx, gw, gb = fastconv.conv2d_backward(gy, x, w, **_args(p))
    rgx, rgw, rgb = conv2d_backward_ref(gy, x, w, *rargs)
    agx, agw, agb = conv2d_backward_ref(np.abs(gy), np.abs(x), np.abs(w), *rargs)
    N, _, OH, OW = out_shape
    if pass_ == "backward_data":
        assert_close(gx, rgx, agx, (K // p["groups"]) * R * S, what="grad_x")
    else:
        assert_close(gw, rgw, agw, N * OH * OW, what="grad_weight")
        assert_close(gb, rgb, agb, N * OH * OW, what="grad_bias")


@SETTINGS
@given(conv_problems())
def test_backward_data_is_the_adjoint_of_forward(p):
    # <conv(x), y> == <x, conv_backward_data(y)> for every argument combination
    rng, x, w = _data(p)
    y = fastconv.conv2d(x, w, **_args(p))
    gy = rng.standard_normal(y.shape).astype(np.float32)
    gx, _, _ = fastconv.conv2d_backward(gy, x, w, **_args(p))
    lhs = np.dot(y.ravel().astype(np.float64), gy.ravel())
    rhs = np.dot(x.ravel().astype(np.float64), gx.ravel().astype(np.float64))
    bound = (np.abs(y).astype(np.float64).ravel() @ np.abs(gy).ravel()
             + np.abs(x).astype(np.float64).ravel() @ np.abs(gx).ravel())
    assert abs(lhs - rhs) <= 1e-5 * bound + 1e-30


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 3), st.integers(1, 9), st.integers(1, 9), st.integers(0, 2),
       st.integers(0, 2), st.integers(0, 2**31 - 1))
def test_delta_kernel_is_identity(C, H, W, r0, s0, seed):
    x = np.random.default_rng(seed).standard_normal((2, C, H, W)).astype(np.float32)
    w = np.zeros((C, C, 3, 3), np.float32)
    for c in range(C):
        w[c, c, r0, s0] = 1.0
    # the tap (r0, s0) reads x shifted by (r0 - 1, s0 - 1) inside padding 1
    y = fastconv.conv2d(x, w, padding=1)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    np.testing.assert_array_equal(y, xp[:, :, r0:r0 + H, s0:s0 + W])


@pytest.mark.parametrize("special", [np.inf, -np.inf, np.nan])
def test_inf_and_nan_reach_exactly_the_outputs_they_touch(special):
    x = np.ones((1, 1, 7, 7), np.float32)
    x[0, 0, 3, 3] = special
    w = np.ones((1, 1, 3, 3), np.float32)
    y = fastconv.conv2d(x, w, padding=1)
    touched = np.zeros((7, 7), bool)
    touched[2:5, 2:5] = True
    assert not np.isfinite(y[0, 0][touched]).any()
    assert np.isfinite(y[0, 0][~touched]).all()


@SETTINGS
@given(conv_problems())
def test_every_algorithm_agrees(p):
    rng, x, w = _data(p)
    results = {}
    for algo in ("direct", "im2col", "winograd_f23", "winograd_f43", "depthwise"):
        try:
            results[algo] = fastconv.conv2d(x, w, algorithm=algo, **_args(p))
        except fastconv.UnsupportedError:
            continue
    assert "direct" in results
    rargs = (p["stride"], p["pads"], p["dilation"], p["groups"])
    absref = conv2d_ref(np.abs(x), np.abs(w), None, *rargs)
    K, Cg, R, S = p["w_shape"]
    for algo, y in results.items():
        # Winograd's transforms add error (documented bound); others are plain sums.
        factor = 8.0 if algo in ("direct", "im2col") else 200.0
        assert_close(y, results["direct"].astype(np.float64), 2 * absref, Cg * R * S, factor,
                     what=f"{algo} vs direct")

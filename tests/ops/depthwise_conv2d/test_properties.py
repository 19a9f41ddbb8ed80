"""Property tests (hypothesis) for depthwise_conv2d over the legal argument space,
against the float64 reference (conv2d_ref with groups=C), plus the identities:
backward-data is the adjoint of forward, depthwise agrees with grouped conv2d."""
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import fastconv
from property_helpers import SCALES, SETTINGS, _adjoint_holds
from reference import assert_close, conv2d_backward_ref, conv2d_ref


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

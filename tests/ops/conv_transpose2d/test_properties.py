"""Property tests (hypothesis) for conv_transpose2d over the legal argument space (1x1
images, kernels as large as the padded input, stride larger than the kernel, dilation,
groups, tiny and huge magnitudes), against the float64 reference, plus the identities:
conv_transpose2d is the adjoint of conv2d, backward-data is the adjoint of forward."""
import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st

import fastconv
from property_helpers import SCALES, SETTINGS, _adjoint_holds
from reference import assert_close
from reference_transpose import tconv_backward_ref, tconv_ref


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

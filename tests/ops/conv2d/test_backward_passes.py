"""conv2d_backward / depthwise_conv2d_backward with input_grad or weight_grad off: the
skipped gradients are None and the others still match the float64 reference."""
import numpy as np
import pytest

import fastconv
from reference import EPS32, conv2d_backward_ref

CASES = [  # x shape, weight shape, stride, padding, groups, algorithm
    ((2, 3, 9, 7), (5, 3, 3, 3), 1, 1, 1, "auto"),
    ((1, 1, 12, 12), (6, 1, 5, 5), 1, 0, 1, "auto"),       # LeNet C1-like: direct bwd-w
    ((3, 4, 10, 11), (6, 2, 3, 2), 2, 1, 2, "im2col"),
    ((2, 9, 8, 8), (9, 9, 3, 3), 1, 1, 1, "winograd_f43"),
    ((2, 6, 7, 7), (6, 1, 3, 3), 1, 1, 6, "depthwise"),
]


def _close(got, ref):
    np.testing.assert_allclose(got, ref, rtol=64 * EPS32, atol=64 * EPS32 * np.abs(ref).max())


@pytest.mark.parametrize("xs,ws,stride,padding,groups,algorithm", CASES)
@pytest.mark.parametrize("input_grad,weight_grad", [(False, True), (True, False), (False, False)])
def test_skipped_pass(isa, xs, ws, stride, padding, groups, algorithm, input_grad, weight_grad):
    rng = np.random.default_rng(7)
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    y = fastconv.conv2d(x, w, stride=stride, padding=padding, groups=groups)
    gy = rng.standard_normal(y.shape).astype(np.float32)
    gx, gw, gb = fastconv.conv2d_backward(gy, x, w, stride=stride, padding=padding,
                                          groups=groups, algorithm=algorithm,
                                          input_grad=input_grad, weight_grad=weight_grad)
    rx, rw, rb = conv2d_backward_ref(gy, x, w, (stride, stride), (padding,) * 4, (1, 1), groups)
    assert (gx is None) == (not input_grad)
    assert (gw is None) == (gb is None) == (not weight_grad)
    if input_grad:
        _close(gx, rx)
    if weight_grad:
        _close(gw, rw)
        _close(gb, rb)


@pytest.mark.parametrize("input_grad,weight_grad", [(False, True), (True, False)])
def test_depthwise_skipped_pass(isa, input_grad, weight_grad):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 5, 9, 8)).astype(np.float32)
    w = rng.standard_normal((10, 1, 3, 3)).astype(np.float32)
    y = fastconv.depthwise_conv2d(x, w, padding=1)
    gy = rng.standard_normal(y.shape).astype(np.float32)
    gx, gw, gb = fastconv.depthwise_conv2d_backward(gy, x, w, padding=1,
                                                    input_grad=input_grad,
                                                    weight_grad=weight_grad)
    rx, rw, rb = conv2d_backward_ref(gy, x, w, (1, 1), (1,) * 4, (1, 1), 5)
    if input_grad:
        _close(gx, rx)
        assert gw is None and gb is None
    else:
        assert gx is None
        _close(gw, rw)
        _close(gb, rb)


@pytest.mark.parametrize("bad", [None, 1, "yes"])
def test_flags_must_be_bool(bad):
    x = np.zeros((1, 1, 4, 4), np.float32)
    w = np.zeros((1, 1, 3, 3), np.float32)
    gy = np.zeros((1, 1, 2, 2), np.float32)
    with pytest.raises(TypeError, match="input_grad"):
        fastconv.conv2d_backward(gy, x, w, input_grad=bad)
    with pytest.raises(TypeError, match="weight_grad"):
        fastconv.depthwise_conv2d_backward(gy, x, w, weight_grad=bad)


def test_transpose_skipped_pass(isa):
    from reference_transpose import tconv_backward_ref
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 4, 5, 6)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    y = fastconv.conv_transpose2d(x, w, stride=2, padding=1)
    gy = rng.standard_normal(y.shape).astype(np.float32)
    rx, rw, rb = tconv_backward_ref(gy, x, w, (2, 2), (1, 1))
    gx, gw, gb = fastconv.conv_transpose2d_backward(gy, x, w, stride=2, padding=1,
                                                    input_grad=False)
    assert gx is None
    _close(gw, rw)
    _close(gb, rb)
    gx, gw, gb = fastconv.conv_transpose2d_backward(gy, x, w, stride=2, padding=1,
                                                    weight_grad=False)
    assert gw is None and gb is None
    _close(gx, rx)

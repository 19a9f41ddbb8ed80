"""The float64 reference itself, checked by hand-worked examples and finite differences."""
import numpy as np
import pytest

from reference import conv2d_backward_ref, conv2d_ref


def test_lecture_example():
    # The lecture's 4x3 image [[a b c] [d e f] [g h i] [j k l]] and 2x2 filter
    # [[alpha beta] [gamma delta]]: each output is the dot product of a 2x2 window.
    a, b, c, d, e, f, g, h, i, j, k, l = 1., 2., 3., 5., 7., 11., 13., 17., 19., 23., 29., 31.
    al, be, ga, de = 2., -1., 0.5, 3.
    img = np.array([[a, b, c], [d, e, f], [g, h, i], [j, k, l]])[None, None]
    flt = np.array([[al, be], [ga, de]])[None, None]
    want = np.array([
        [a * al + b * be + d * ga + e * de, b * al + c * be + e * ga + f * de],
        [d * al + e * be + g * ga + h * de, e * al + f * be + h * ga + i * de],
        [g * al + h * be + j * ga + k * de, h * al + i * be + k * ga + l * de],
    ])
    np.testing.assert_array_equal(conv2d_ref(img, flt)[0, 0], want)


def test_stride_padding_dilation_by_hand():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    w = np.ones((1, 1, 2, 2))
    # stride 2: sums of the four disjoint 2x2 blocks
    np.testing.assert_array_equal(conv2d_ref(x, w, stride=(2, 2))[0, 0],
                                  [[0 + 1 + 4 + 5, 2 + 3 + 6 + 7], [8 + 9 + 12 + 13, 10 + 11 + 14 + 15]])
    # dilation 3: the four corners
    np.testing.assert_array_equal(conv2d_ref(x, w, dilation=(3, 3))[0, 0], [[0 + 3 + 12 + 15]])
    # padding 1 on the left only: first column sees a zero and x[:, 0]
    y = conv2d_ref(x, w, pads=(0, 0, 1, 0))
    assert y.shape == (1, 1, 3, 4)
    assert y[0, 0, 0, 0] == 0 + 4


def test_groups_are_independent_convolutions(rng):
    x = rng.standard_normal((2, 4, 5, 5))
    w = rng.standard_normal((6, 2, 3, 3))
    y = conv2d_ref(x, w, groups=2)
    np.testing.assert_allclose(y[:, :3], conv2d_ref(x[:, :2], w[:3]))
    np.testing.assert_allclose(y[:, 3:], conv2d_ref(x[:, 2:], w[3:]))


@pytest.mark.parametrize("stride,pads,dilation,groups", [
    ((1, 1), (0, 0, 0, 0), (1, 1), 1),
    ((2, 3), (1, 2, 0, 3), (2, 1), 2),
    ((3, 1), (2, 0, 1, 1), (1, 3), 3),
])
def test_backward_matches_finite_differences(rng, stride, pads, dilation, groups):
    x = rng.standard_normal((2, 6, 9, 8))
    w = rng.standard_normal((3 * groups, 6 // groups, 3, 2))
    y = conv2d_ref(x, w, None, stride, pads, dilation, groups)
    gy = rng.standard_normal(y.shape)
    gx, gw, gb = conv2d_backward_ref(gy, x, w, stride, pads, dilation, groups)

    def loss(x_, w_, b_):
        return np.sum(gy * conv2d_ref(x_, w_, b_, stride, pads, dilation, groups))

    b = np.zeros(w.shape[0])
    h = 1e-6
    for grad, args, idx in ((gx, 0, (1, 2, 3, 4)), (gw, 1, (2, 1, 1, 0)), (gb, 2, (1,))):
        vals = [x.copy(), w.copy(), b.copy()]
        vals[args][idx] += h
        up = loss(*vals)
        vals[args][idx] -= 2 * h
        down = loss(*vals)
        np.testing.assert_allclose(grad[idx], (up - down) / (2 * h), rtol=1e-6, atol=1e-6)


def test_reference_matches_torch(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 4, 11, 9))
    w = rng.standard_normal((6, 2, 3, 4))
    b = rng.standard_normal(6)
    ours = conv2d_ref(x, w, b, (2, 1), (1, 1, 2, 2), (1, 2), 2)
    theirs = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w),
                                        torch.from_numpy(b), (2, 1), (1, 2), (1, 2), 2)
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-10, atol=1e-10)

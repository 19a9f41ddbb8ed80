"""Bad arguments to the pooling ops: ValueError / TypeError naming the argument,
raised before any C code runs."""
import numpy as np
import pytest

import fastconv

X = np.zeros((1, 2, 6, 6), np.float32)


@pytest.mark.parametrize("kwargs, match", [
    (dict(kernel_size=0), "kernel_size must be >= 1"),
    (dict(kernel_size=(2, 0)), "kernel_size must be >= 1"),
    (dict(kernel_size=2, stride=0), "stride must be >= 1"),
    (dict(kernel_size=2, padding=-1), "padding must be >= 0"),
    (dict(kernel_size=3, padding=3), "padding must be smaller than the effective kernel"),
    (dict(kernel_size=3, padding=((0, 3), (0, 0))), "padding must be smaller"),
    (dict(kernel_size=7), "exceeds the padded input"),
    (dict(kernel_size=(1, 2, 3)), "kernel_size must be an int or a pair"),
    (dict(kernel_size=2.0), "kernel_size must be an int"),
    (dict(kernel_size=2, ceil_mode=1), "ceil_mode must be a bool"),
])
@pytest.mark.parametrize("op", ["max", "avg"])
def test_bad_window_arguments(op, kwargs, match):
    f = fastconv.max_pool2d if op == "max" else fastconv.avg_pool2d
    b = fastconv.max_pool2d_backward if op == "max" else fastconv.avg_pool2d_backward
    err = TypeError if match.endswith(("must be an int", "bool")) else ValueError
    with pytest.raises(err, match=match):
        f(X, **kwargs)
    with pytest.raises(err, match=match):
        b(np.zeros((1, 2, 1, 1), np.float32), X, **kwargs)


def test_max_dilation_checks():
    with pytest.raises(ValueError, match="dilation must be >= 1"):
        fastconv.max_pool2d(X, 2, dilation=0)
    # Effective kernel 5 (2 taps, dilation 4): padding 4 is legal by size, but the
    # first window's taps (-4, 0) ... with a 1-wide input (-3, 1) hold nothing.
    x = np.zeros((1, 1, 1, 1), np.float32)
    with pytest.raises(ValueError, match="holding no input element"):
        fastconv.max_pool2d(x, (1, 2), stride=1, padding=((0, 0), (3, 1)), dilation=(1, 4))
    with pytest.raises(TypeError, match="dilation"):
        fastconv.avg_pool2d(X, 2, dilation=2)


@pytest.mark.parametrize("fn", [fastconv.max_pool2d, fastconv.avg_pool2d,
                                fastconv.global_avg_pool2d, fastconv.global_max_pool2d])
def test_bad_input_array(fn):
    args = (2,) if fn in (fastconv.max_pool2d, fastconv.avg_pool2d) else ()
    with pytest.raises(ValueError, match=r"expected x to be 4-D \(N, C, H, W\)"):
        fn(np.zeros((2, 6, 6), np.float32), *args)
    with pytest.raises(TypeError, match="x must hold real numbers"):
        fn(np.zeros((1, 1, 6, 6), np.complex64), *args)
    with pytest.raises(ValueError, match="empty spatial dimension"):
        fn(np.zeros((1, 1, 0, 6), np.float32), *args)


def test_bad_grad_out_shapes():
    with pytest.raises(ValueError, match=r"expected grad_out of shape \(1, 2, 3, 3\)"):
        fastconv.max_pool2d_backward(np.zeros((1, 2, 3, 2), np.float32), X, 2)
    with pytest.raises(ValueError, match=r"expected grad_out of shape \(1, 2, 3, 3\)"):
        fastconv.avg_pool2d_backward(np.zeros((1, 2, 9), np.float32), X, 2)
    with pytest.raises(ValueError, match=r"expected grad_out of shape \(1, 2, 1, 1\)"):
        fastconv.global_avg_pool2d_backward(np.zeros((1, 2), np.float32), X)
    with pytest.raises(ValueError, match=r"expected grad_out of shape \(1, 2, 1, 1\)"):
        fastconv.global_max_pool2d_backward(np.zeros((1, 3, 1, 1), np.float32), X)


def test_bad_indices(isa):
    gy = np.ones((1, 2, 3, 3), np.float32)
    _, idx = fastconv.max_pool2d(X, 2, return_indices=True)
    with pytest.raises(TypeError, match="indices must have dtype int64"):
        fastconv.max_pool2d_backward(gy, X, 2, indices=idx.astype(np.int32))
    with pytest.raises(TypeError, match="indices must be a numpy.ndarray"):
        fastconv.max_pool2d_backward(gy, X, 2, indices=idx.tolist())
    with pytest.raises(ValueError, match=r"expected indices of shape \(1, 2, 3, 3\)"):
        fastconv.max_pool2d_backward(gy, X, 2, indices=idx[:, :1])
    for bad in (-1, 36, 2**40):
        b = idx.copy()
        b[0, 1, 2, 2] = bad
        with pytest.raises(ValueError, match=r"indices must lie in \[0, H\*W\) = \[0, 36\)"):
            fastconv.max_pool2d_backward(gy, X, 2, indices=b)
    # Non-contiguous but valid indices are accepted.
    big = np.repeat(idx, 2, axis=3)[..., ::2]
    assert not big.flags.c_contiguous
    np.testing.assert_array_equal(fastconv.max_pool2d_backward(gy, X, 2, indices=big),
                                  fastconv.max_pool2d_backward(gy, X, 2, indices=idx))


def test_empty_batch():
    x = np.zeros((0, 3, 5, 5), np.float32)
    assert fastconv.max_pool2d(x, 2).shape == (0, 3, 2, 2)
    y, i = fastconv.max_pool2d(x, 2, return_indices=True)
    assert i.shape == (0, 3, 2, 2)
    assert fastconv.avg_pool2d_backward(np.zeros((0, 3, 2, 2)), x, 2).shape == x.shape
    assert fastconv.global_max_pool2d(x).shape == (0, 3, 1, 1)


def test_huge_dilation_and_padding_refused_quickly():
    x = np.zeros((1, 1, 1, 3), np.float32)
    with pytest.raises(ValueError, match="exceeds the pooling limit"):
        fastconv.max_pool2d(x, (1, 2), stride=1, padding=((0, 0), (2**30, 0)),
                            dilation=(1, 2**30 + 1))
    # Legal and large-ish: windows at residues 0..2 of dilation 5 hit the 3 columns.
    y = fastconv.max_pool2d(np.arange(3, dtype=np.float32).reshape(1, 1, 1, 3), (1, 2),
                            stride=5, padding=((0, 0), (5, 0)), dilation=(1, 5))
    assert y.shape == (1, 1, 1, 1) and y[0, 0, 0, 0] == 0

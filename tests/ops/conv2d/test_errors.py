"""Bad input to conv2d / conv2d_backward raises a clear exception before any C runs."""
import numpy as np
import pytest

import fastconv

X = np.zeros((2, 4, 8, 8), np.float32)
W = np.zeros((6, 4, 3, 3), np.float32)


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(x=np.zeros((4, 8, 8), np.float32)), ValueError, r"x to be 4-D \(N, C, H, W\), got shape \(4, 8, 8\)"),
    (dict(weight=np.zeros((6, 4, 3), np.float32)), ValueError, r"weight to be 4-D"),
    (dict(weight=np.zeros((6, 3, 3, 3), np.float32)), ValueError, r"expects 3 input channels"),
    (dict(groups=3), ValueError, r"groups=3 must divide"),
    (dict(groups=0), ValueError, r"groups must be >= 1"),
    (dict(groups=1.5), TypeError, r"groups must be an int"),
    (dict(stride=0), ValueError, r"stride must be >= 1"),
    (dict(stride=(1, -2)), ValueError, r"stride must be >= 1"),
    (dict(stride=(1, 2, 3)), ValueError, r"stride must be an int or a pair"),
    (dict(dilation=0), ValueError, r"dilation must be >= 1"),
    (dict(padding=-1), ValueError, r"padding must be >= 0"),
    (dict(padding="full"), ValueError, r"padding must be an int, a pair, 'same' or 'valid'"),
    (dict(weight=np.zeros((6, 4, 9, 3), np.float32)), ValueError, r"effective height 9 .* exceeds the padded input height 8"),
    (dict(dilation=5), ValueError, r"exceeds the padded input"),
    (dict(algorithm="fft"), ValueError, r"algorithm must be one of"),
    (dict(bias=np.zeros(5, np.float32)), ValueError, r"bias of shape \(6,\)"),
    (dict(x=np.zeros((2, 4, 8, 8), np.complex64)), TypeError, r"x must hold real numbers"),
    (dict(x=np.array([["a"]])), TypeError, r"x must hold real numbers"),
    (dict(weight=np.zeros((6, 4, 3, 3), object)), TypeError, r"weight must hold real numbers"),
    (dict(padding=2**62), ValueError, r"more than fastconv can index"),
])
def test_conv2d_rejects(kwargs, exc, match):
    args = dict(x=X, weight=W)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        fastconv.conv2d(**args)


def test_backward_rejects_wrong_grad_shape():
    with pytest.raises(ValueError, match=r"grad_out of shape \(2, 6, 6, 6\)"):
        fastconv.conv2d_backward(np.zeros((2, 6, 5, 6), np.float32), X, W)
    with pytest.raises(ValueError, match=r"grad_out to be 4-D"):
        fastconv.conv2d_backward(np.zeros((6, 6, 6), np.float32), X, W)


def test_set_num_threads_rejects():
    with pytest.raises(ValueError):
        fastconv.set_num_threads(0)
    with pytest.raises(TypeError):
        fastconv.set_num_threads("2")


def test_set_isa_rejects_unknown():
    with pytest.raises(ValueError, match="unknown ISA"):
        fastconv.set_isa("sse9")


def test_crossing_checks_buffers():
    # The Cython layer re-checks what functional.py guarantees, so direct calls cannot
    # reach memory outside the arrays.
    from fastconv import _C
    y = np.zeros((2, 6, 5, 6), np.float32)  # one row short
    with pytest.raises(ValueError, match="out: expected 432 elements"):
        _C.conv2d_forward(X, W, None, y, (1, 1), (0, 0, 0, 0), (1, 1), 1, 0)
    with pytest.raises(TypeError, match="C-contiguous float32"):
        _C.conv2d_forward(X.astype(np.float64), W, None, y, (1, 1), (0, 0, 0, 0), (1, 1), 1, 0)


def test_unsupported_algorithm_is_a_value_error():
    # DESIGN.md: asking for an algorithm that cannot serve the arguments is a ValueError
    with pytest.raises(ValueError, match="serves only 3x3 kernels"):
        fastconv.conv2d(np.zeros((1, 1, 8, 8), np.float32), np.zeros((1, 1, 5, 5), np.float32),
                        algorithm="winograd")
    assert issubclass(fastconv.UnsupportedError, NotImplementedError)

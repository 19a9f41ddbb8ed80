import numpy as np
import pytest

import fastconv as fc

x = np.ones((2, 3, 4), np.float32)


@pytest.mark.parametrize("call, exc, words", [
    (lambda: fc.relu("abc"), TypeError, "x"),
    (lambda: fc.relu(x, out=np.ones((2, 3), np.float32)), ValueError, "out"),
    (lambda: fc.relu(x, out=np.ones((2, 3, 4))), TypeError, "out"),
    (lambda: fc.relu_backward(np.ones((2, 3), np.float32), x), ValueError, "grad_out"),
    (lambda: fc.leaky_relu(x, negative_slope="a"), TypeError, "negative_slope"),
    (lambda: fc.gelu(x, approximate="erf"), ValueError, "approximate"),
    (lambda: fc.add(x, np.ones((3, 4), np.float32)), ValueError, "same shape"),
    (lambda: fc.bias_add(x, np.ones(4, np.float32)), ValueError, "bias"),
    (lambda: fc.bias_add(np.ones(3, np.float32), np.ones(3, np.float32)), ValueError, "2 dimensions"),
    (lambda: fc.dropout(x, 1.5, 0), ValueError, "p must be in [0, 1]"),
    (lambda: fc.dropout(x, float("nan"), 0), ValueError, "p must be"),
    (lambda: fc.dropout(x, 0.5, -1), ValueError, "seed"),
    (lambda: fc.dropout(x, 0.5, 1.5), TypeError, "seed"),
    (lambda: fc.dropout(x, 0.5, 1, training=1), TypeError, "training"),
    (lambda: fc.dropout_backward(x, np.zeros(2, np.uint8), 0.5), ValueError, "mask"),
    (lambda: fc.dropout_backward(x, np.zeros(3, np.float32), 0.5), TypeError, "mask"),
])
def test_bad_arguments(call, exc, words):
    with pytest.raises(exc, match=words.replace("[", r"\[").replace("]", r"\]")):
        call()


def test_empty_arrays():
    e = np.ones((0, 3), np.float32)
    assert fc.relu(e).shape == (0, 3)
    assert fc.add(e, e).shape == (0, 3)
    np.testing.assert_array_equal(fc.bias_add_backward(e), np.zeros(3, np.float32))
    y, m = fc.dropout(e, 0.5, 0)
    assert y.shape == (0, 3) and m.shape == (0,)


def test_non_float32_inputs_are_converted():
    np.testing.assert_array_equal(fc.relu(np.array([-1, 2])), [0, 2])
    np.testing.assert_array_equal(fc.add(np.arange(3.0), np.arange(3.0)), [0, 2, 4])

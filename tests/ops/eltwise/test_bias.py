import numpy as np
import pytest

import fastconv as fc

BIAS_SHAPES = [(1, 1), (1, 3, 5, 5), (2, 5, 7, 3), (3, 17, 11), (16, 64, 9, 9), (1, 7, 1, 1)]


@pytest.mark.parametrize("shape", BIAS_SHAPES)
def test_bias_add_forward(isa, rng, shape):
    x = rng.standard_normal(shape).astype(np.float32)
    b = rng.standard_normal(shape[1]).astype(np.float32)
    bshape = (1, -1) + (1,) * (len(shape) - 2)
    y = fc.bias_add(x, b)
    np.testing.assert_array_equal(y, x + b.reshape(bshape))
    torch = pytest.importorskip("torch")
    np.testing.assert_array_equal(y, (torch.from_numpy(x) + torch.from_numpy(b).reshape(bshape)).numpy())
    x2 = x.copy()
    assert fc.bias_add(x2, b, out=x2) is x2
    np.testing.assert_array_equal(x2, y)


@pytest.mark.parametrize("shape", BIAS_SHAPES)
def test_bias_add_backward(isa, rng, shape):
    g = rng.standard_normal(shape).astype(np.float32)
    gb = fc.bias_add_backward(g)
    axes = (0,) + tuple(range(2, len(shape)))
    ref = g.astype(np.float64).sum(axis=axes)
    np.testing.assert_allclose(gb, ref, rtol=1e-5, atol=1e-5)
    torch = pytest.importorskip("torch")
    x = torch.zeros(shape)
    b = torch.zeros(shape[1], requires_grad=True)
    (x + b.reshape((1, -1) + (1,) * (len(shape) - 2))).backward(torch.from_numpy(g))
    np.testing.assert_allclose(gb, b.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_bias_grad_same_bits_for_any_thread_count(rng):
    g = rng.standard_normal((8, 3, 100, 100)).astype(np.float32)
    before = fc.get_num_threads()
    try:
        fc.set_num_threads(1)
        one = fc.bias_add_backward(g)
        fc.set_num_threads(2)
        two = fc.bias_add_backward(g)
    finally:
        fc.set_num_threads(before)
    np.testing.assert_array_equal(one, two)

import numpy as np
import pytest

import fastconv as fc

from ._cases import SHAPES


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("relu", [False, True])
def test_add_forward(isa, rng, shape, relu):
    a = rng.standard_normal(shape).astype(np.float32)
    b = rng.standard_normal(shape).astype(np.float32)
    y = (fc.add_relu if relu else fc.add)(a, b)
    ref = a.astype(np.float64) + b
    np.testing.assert_array_equal(y, np.maximum(a + b, 0) if relu else a + b)
    np.testing.assert_allclose(y, np.maximum(ref, 0) if relu else ref, rtol=1e-6)
    torch = pytest.importorskip("torch")
    at, bt = torch.from_numpy(a), torch.from_numpy(b)
    np.testing.assert_array_equal(y, (torch.relu(at + bt) if relu else at + bt).numpy())
    a2 = a.copy()
    assert (fc.add_relu if relu else fc.add)(a2, b, out=a2) is a2
    np.testing.assert_array_equal(a2, y)


@pytest.mark.parametrize("shape", SHAPES)
def test_add_relu_backward(isa, rng, shape):
    """add_relu's gradient (of a and of b) is relu_backward of its output."""
    a = rng.standard_normal(shape).astype(np.float32)
    b = rng.standard_normal(shape).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    y = fc.add_relu(a, b)
    gx = fc.relu_backward(g, y)
    np.testing.assert_array_equal(gx, np.where(a.astype(np.float64) + b > 0, g, 0))
    torch = pytest.importorskip("torch")
    at = torch.from_numpy(a).requires_grad_(True)
    bt = torch.from_numpy(b).requires_grad_(True)
    torch.relu(at + bt).backward(torch.from_numpy(g))
    np.testing.assert_array_equal(gx, at.grad.numpy())
    np.testing.assert_array_equal(gx, bt.grad.numpy())

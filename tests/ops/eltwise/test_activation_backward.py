import numpy as np
import pytest

from ._cases import SHAPES, backward64, torch_twin
from ._ops import KINDS, USES_Y, bwd, fwd


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape", SHAPES)
def test_backward(isa, rng, kind, shape):
    x = (rng.standard_normal(shape) * 3).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    y = fwd(kind, x)
    gx = bwd(kind, g, x, y)
    assert gx.dtype == np.float32 and gx.shape == x.shape
    # from y, the float64 reference of a y-based backward uses y, not tanh(x) again
    if kind == "tanh":
        ref = g.astype(np.float64) * (1 - y.astype(np.float64) ** 2)
    elif kind == "sigmoid":
        yd = y.astype(np.float64)
        ref = g * (1 - yd) * yd
    else:
        ref = backward64(kind, x, g)
    np.testing.assert_allclose(gx, ref, rtol=3e-6, atol=1e-6)
    torch = pytest.importorskip("torch")
    xt = torch.from_numpy(x).requires_grad_(True)
    torch_twin(kind, xt).backward(torch.from_numpy(g))
    np.testing.assert_allclose(gx, xt.grad.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_backward_in_place_and_large(isa, kind):
    x = np.array([0.5, -0.5, 0.0, 30.0, -30.0, 1e20, -1e20, 3e38, -3e38, 7.0], np.float32)
    g = np.linspace(-1, 1, x.size).astype(np.float32)
    y = fwd(kind, x)
    gx = bwd(kind, g, x, y)
    assert not np.isnan(gx).any()
    g2 = g.copy()
    assert bwd(kind, g2, x, y, out=g2) is g2
    np.testing.assert_array_equal(g2, gx)
    if kind in USES_Y:  # y alone suffices: the mask is recomputed from y
        np.testing.assert_array_equal(bwd(kind, g, None if kind in USES_Y else x, y), gx)


def test_relu_backward_nan_passes_grad_like_torch(isa):
    import fastconv as fc
    y = np.array([np.nan, 0.0, 2.0], np.float32)
    np.testing.assert_array_equal(fc.relu_backward(np.ones(3, np.float32), y), [1, 0, 1])

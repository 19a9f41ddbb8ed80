import numpy as np
import pytest

from ._cases import SHAPES, forward64, torch_twin
from ._ops import KINDS, fwd


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape", SHAPES)
def test_forward(isa, rng, kind, shape):
    x = (rng.standard_normal(shape) * 3).astype(np.float32)
    y = fwd(kind, x)
    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_allclose(y, forward64(kind, x), rtol=3e-6, atol=1e-7)
    torch = pytest.importorskip("torch")
    yt = torch_twin(kind, torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(y, yt, rtol=1e-5, atol=2e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_forward_in_place_and_specials(isa, kind):
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e30, -1e30, 90.0, -90.0, 200.0,
                  -200.0, 1e-40, -1e-40, 3.0, -3.0, 20.0, -20.0], np.float32)
    y = fwd(kind, x)
    assert np.isnan(y[0])
    finite = np.isfinite(x)
    assert not np.isnan(y[finite]).any()           # no overflow to NaN for large |x|
    ref = forward64(kind, x[finite])
    np.testing.assert_allclose(y[finite], ref, rtol=3e-6, atol=1e-30)
    x2 = x.copy()
    assert fwd(kind, x2, out=x2) is x2
    np.testing.assert_array_equal(x2, y)

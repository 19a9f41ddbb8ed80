"""ulp error of the float32 transcendentals against float64, over the whole range."""
import math

import numpy as np
import pytest

import fastconv as fc

from ._cases import phi64, sigmoid64

LIMIT = {"tanh": 3.0, "sigmoid": 3.0, "gelu": 16.0}


def _ulps(got, ref):
    sp = np.maximum(np.spacing(np.abs(ref).astype(np.float32)).astype(np.float64), 2.0**-149)
    return np.abs(got.astype(np.float64) - ref) / sp


@pytest.mark.parametrize("kind", sorted(LIMIT))
def test_ulp_error(isa, kind):
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.standard_normal(40000) * s for s in (0.3, 1, 3, 10, 30)]
                       + [np.linspace(-120, 120, 40001)]).astype(np.float32)
    xd = x.astype(np.float64)
    ref = {"tanh": np.tanh, "sigmoid": sigmoid64,
           "gelu": lambda v: v * phi64(v)}[kind](xd)
    u = _ulps(getattr(fc, kind)(x), ref)
    assert u.max() <= LIMIT[kind], (kind, u.max(), x[np.argmax(u)])


def test_sigmoid_tail_reaches_denormals(isa):
    x = np.array([-88.0, -95.0, -100.0, -103.0], np.float32)
    ref = np.array([math.exp(v) for v in x.astype(np.float64)])
    # denormals: spaced 2^-149 apart, so within two of those
    np.testing.assert_allclose(fc.sigmoid(x), ref, rtol=1e-6, atol=2 * 2.0**-149)
    assert (fc.sigmoid(x) > 0).all()

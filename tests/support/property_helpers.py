"""Shared settings and the adjoint check of the per-op property tests (hypothesis):
ops/{conv_transpose2d,depthwise_conv2d,pool,gemm}/test_properties.py."""
import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

SETTINGS = settings(max_examples=30, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
SCALES = st.sampled_from([1e-20, 1e-3, 1.0, 1e3, 1e15])


def _dot(a, b):
    return float(np.dot(np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()))


def _adjoint_holds(y, gy, x, gx, rel=1e-5):
    """<y, gy> == <x, gx> within float32 rounding of the absolute sums."""
    bound = _dot(np.abs(y), np.abs(gy)) + _dot(np.abs(x), np.abs(gx))
    assert abs(_dot(y, gy) - _dot(x, gx)) <= rel * bound + 1e-30

"""nn.run_chain: a BatchNorm2d followed by a ReLU runs as one pass (forward_relu), with
the same results as the two layers one after the other."""
import numpy as np
import pytest

import fastconv as fc
from fastconv import nn


def _pair(C, seed):
    bn = nn.BatchNorm2d(C)
    r = np.random.default_rng(seed)
    bn.weight.data = r.standard_normal(C).astype(np.float32)
    bn.bias.data = r.standard_normal(C).astype(np.float32)
    return bn, nn.ReLU(inplace=True)


def _separate(bn, relu, x, g):
    y = relu(bn(x))
    gx = bn.backward(relu.backward(g))
    return y, gx, bn.weight.grad, bn.bias.grad


def _chained(bn, relu, x, g):
    y = nn.run_chain([bn, relu], x)
    assert type(relu._cache).__name__ == "_FusedCache"
    gx = bn.backward(relu.backward(g))
    return y, gx, bn.weight.grad, bn.bias.grad


@pytest.mark.parametrize("shape", [(2, 3, 5, 7), (1, 9, 1, 4), (4, 16, 6, 6)])
def test_fused_pair_equals_the_two_layers(isa, rng, shape):
    x = rng.standard_normal(shape).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    a = _separate(*_pair(shape[1], 1), x.copy(), g)
    bn, relu = _pair(shape[1], 1)
    b = _chained(bn, relu, x.copy(), g)
    for u, v in zip(a, b):
        np.testing.assert_allclose(v, u, rtol=1e-5, atol=1e-5)
    # the running statistics moved as the unfused layer's did
    ref_bn, _ = _pair(shape[1], 1)
    ref_bn(x.copy())
    np.testing.assert_allclose(bn.running_mean, ref_bn.running_mean, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(bn.running_var, ref_bn.running_var, rtol=1e-6, atol=1e-7)


def test_gradient_is_masked_where_the_output_is_zero(rng):
    x = rng.standard_normal((3, 4, 5, 5)).astype(np.float32)
    bn, relu = _pair(4, 2)
    y = nn.run_chain([bn, relu], x)
    g = np.ones_like(y)
    through = relu.backward(g)
    assert through is g                     # the ReLU passes it on untouched
    gx = bn.backward(through)
    # reference in float64: mask, then BatchNorm's gradient
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=(0, 2, 3), keepdims=True)
    inv = 1 / np.sqrt(x64.var(axis=(0, 2, 3), keepdims=True) + bn.eps)
    xhat = (x64 - mean) * inv
    gy = (y > 0).astype(np.float64)
    gam = bn.weight.data.astype(np.float64)[None, :, None, None]
    m = x.shape[0] * x.shape[2] * x.shape[3]
    want = gam * inv * (gy - gy.sum(axis=(0, 2, 3), keepdims=True) / m
                        - xhat * (gy * xhat).sum(axis=(0, 2, 3), keepdims=True) / m)
    np.testing.assert_allclose(gx, want, rtol=1e-4, atol=1e-5)


def test_eval_mode_fuses_with_nothing_kept(rng):
    x = rng.standard_normal((2, 5, 4, 4)).astype(np.float32)
    bn, relu = _pair(5, 3)
    bn.running_mean = rng.standard_normal(5).astype(np.float32)
    bn.running_var = rng.uniform(0.5, 2, 5).astype(np.float32)
    bn.eval(), relu.eval()
    want = np.maximum(bn(x.copy()), 0)
    np.testing.assert_allclose(nn.run_chain([bn, relu], x), want, rtol=1e-6, atol=1e-6)
    assert bn._cache is None and relu._cache is None


def test_subclasses_and_other_pairs_run_as_written(rng):
    x = rng.standard_normal((4, 3)).astype(np.float32)
    bn1, relu = nn.BatchNorm1d(3), nn.ReLU()
    nn.run_chain([bn1, relu], x)
    assert type(relu._cache).__name__ == "_YCache"
    x4 = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    bn, tanh, relu = nn.BatchNorm2d(3), nn.Tanh(), nn.ReLU()
    nn.run_chain([bn, tanh, relu], x4)
    assert type(relu._cache).__name__ == "_YCache"


def test_sequential_uses_it(rng):
    model = nn.Sequential(nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4), nn.ReLU())
    x = rng.standard_normal((2, 2, 6, 6)).astype(np.float32)
    y = model(x)
    assert type(model[2]._cache).__name__ == "_FusedCache" and (y >= 0).all()
    model.backward(np.ones_like(y))
    assert model[0].weight.grad is not None
    fc.release_workspace()


def test_add_grads_writes_into_a_fresh_result_only(rng):
    from fastconv.nn.container import add_grads
    a = fc.relu(rng.standard_normal((2, 3, 4, 4)).astype(np.float32))   # an op's result
    b = rng.standard_normal(a.shape).astype(np.float32)
    want = a.astype(np.float64) + b
    s = add_grads(a, b)
    assert s is a
    np.testing.assert_allclose(s, want, rtol=1e-6)
    v = a[:1]                                   # a view: a new array instead
    s2 = add_grads(v, b[:1])
    assert s2 is not v
    zeros = np.broadcast_to(np.float32(0), a.shape)   # a skipped input gradient
    s3 = add_grads(zeros, b)
    np.testing.assert_array_equal(s3, b)
    assert add_grads(b, b) is not b             # the same array on both sides

"""Module plumbing: parameters and buffers, state dicts, modes, gradient accumulation."""
import numpy as np
import pytest

import fastconv
from fastconv import nn


def _net():
    return nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(),
                         nn.Flatten(), nn.Linear(3 * 4 * 4, 5))


def test_names_order_and_buffers():
    net = _net()
    assert [n for n, _ in net.named_parameters()] == [
        "0.weight", "0.bias", "1.weight", "1.bias", "4.weight", "4.bias"]
    assert [n for n, _ in net.named_buffers()] == [
        "1.running_mean", "1.running_var", "1.num_batches_tracked"]
    assert list(net.state_dict()) == [
        "0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
        "1.num_batches_tracked", "4.weight", "4.bias"]
    assert net.num_parameters() == 2 * 3 * 9 + 3 + 3 + 3 + 48 * 5 + 5


def test_state_dict_round_trip_and_copies(rng, tmp_path):
    a, b = _net(), _net()
    x = rng.standard_normal((2, 2, 4, 4)).astype(np.float32)
    a(x)                                   # moves BatchNorm's running statistics
    sd = a.state_dict()
    sd["0.weight"][...] = 0                # a copy: the model is untouched
    assert a[0].weight.data.any()
    b.load_state_dict(a.state_dict())
    a.eval(), b.eval()
    np.testing.assert_array_equal(a(x), b(x))
    assert int(b.state_dict()["1.num_batches_tracked"]) == 1
    # save / load through .npz, both spellings
    path = tmp_path / "m.npz"
    fastconv.save(a, path)
    c = fastconv.load(path, _net()).eval()
    np.testing.assert_array_equal(a(x), c(x))
    d = _net()
    d.load(path)
    np.testing.assert_array_equal(a(x), d.eval()(x))
    assert list(fastconv.load(path)) == list(a.state_dict())


def test_load_state_dict_strict_and_shapes():
    net = _net()
    sd = net.state_dict()
    del sd["4.bias"]
    sd["extra"] = np.zeros(1)
    with pytest.raises(KeyError, match="4.bias"):
        net.load_state_dict(sd)
    missing, unexpected = net.load_state_dict(sd, strict=False)
    assert missing == ["4.bias"] and unexpected == ["extra"]
    sd = net.state_dict()
    sd["0.weight"] = np.zeros((3, 2, 5, 5))
    with pytest.raises(ValueError, match="0.weight"):
        net.load_state_dict(sd)


def test_train_eval_and_caches(rng):
    net = _net()
    x = rng.standard_normal((2, 2, 4, 4)).astype(np.float32)
    net.eval()
    assert not any(m.training for m in net.modules())
    net(x)
    assert all(m._cache is None for m in net.modules())
    net.train()
    net(x)
    assert net[0]._cache is not None and hasattr(net[0]._cache, "_fields")
    net.backward(np.ones((2, 5), np.float32))
    assert all(m._cache is None for m in net.modules())   # consumed by backward


def test_gradients_accumulate_and_zero_grad(rng):
    lin = nn.Linear(3, 2)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    g = rng.standard_normal((4, 2)).astype(np.float32)
    lin(x)
    lin.backward(g)
    first = lin.weight.grad.copy()
    lin(x)
    lin.backward(g)
    np.testing.assert_allclose(lin.weight.grad, 2 * first, rtol=1e-6)
    lin.zero_grad()
    assert lin.weight.grad is None and lin.bias.grad is None


def test_module_needs_super_init():
    class Bad(nn.Module):
        def __init__(self):
            self.w = 1

    with pytest.raises(AttributeError, match="super"):
        Bad()

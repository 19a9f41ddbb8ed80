"""model.backward(grad_out, input_grad=False): the layers that consume the model's
input skip their input-gradient work, the call returns None, and every parameter
gradient is the same as with the full backward."""
import numpy as np
import pytest

from fastconv import models, nn
from fastconv.functional import conv as fconv


class _TwoBranches(nn.Module):
    """The input feeds a convolution and a skip path (the skipped gradient is added)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.head = nn.Sequential(nn.ReLU(), nn.Flatten(), nn.Linear(3 * 6 * 6, 4))

    def forward(self, x):
        return self.head(self.conv(x) + x)

    def backward(self, grad_out):
        g = self.head.backward(grad_out)
        return self.conv.backward(g) + g


MODELS = [
    lambda: models.resnet18(num_classes=5),
    lambda: models.lenet5(num_classes=10),
    lambda: nn.Sequential(nn.Flatten(), nn.Linear(3 * 6 * 6, 8), nn.ReLU(), nn.Linear(8, 3)),
    _TwoBranches,
]
SHAPES = [(2, 3, 32, 32), (3, 1, 32, 32), (2, 3, 6, 6), (2, 3, 6, 6)]


def _grads(model):
    return {n: p.grad.copy() for n, p in model.named_parameters()}


@pytest.mark.parametrize("i", range(len(MODELS)))
def test_same_parameter_gradients(i):
    rng = np.random.default_rng(i)
    model = MODELS[i]()
    x = rng.standard_normal(SHAPES[i]).astype(np.float32)
    y = model(x)
    g = rng.standard_normal(y.shape).astype(np.float32)
    gx = model.backward(g)
    assert gx.shape == x.shape and np.abs(gx).max() > 0
    full = _grads(model)
    model.zero_grad()
    model(x)
    assert model.backward(g, input_grad=False) is None
    skipped = _grads(model)
    assert full.keys() == skipped.keys()
    for n in full:
        np.testing.assert_array_equal(skipped[n], full[n], err_msg=n)
    model.zero_grad()   # and the next full backward gives the input gradient again
    model(x)
    np.testing.assert_array_equal(model.backward(g), gx)


def test_only_the_first_layer_skips(monkeypatch):
    real = fconv.conv2d_backward
    seen = []

    def spy(*a, **k):
        seen.append(k["input_grad"])
        return real(*a, **k)
    monkeypatch.setattr(nn.Conv2d, "_op_backward", staticmethod(spy))
    model = models.resnet18(num_classes=3)
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    y = model(x)
    model.backward(np.ones_like(y), input_grad=False)
    assert seen[-1] is False              # conv1, the last backward, reads x
    assert all(seen[:-1])                 # every other convolution's input is needed


def test_forward_called_directly_keeps_the_input_gradient():
    # model.forward(x) bypasses the outermost-call bookkeeping: nothing is skipped
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten())
    x = np.ones((1, 1, 4, 4), np.float32)
    y = model.forward(x)
    assert model.backward(np.ones_like(y), input_grad=False) is None
    assert model[0].weight.grad is not None


def test_input_grad_must_be_bool():
    model = nn.Sequential(nn.Linear(2, 2))
    y = model(np.ones((1, 2), np.float32))
    with pytest.raises(TypeError, match="input_grad"):
        model.backward(np.ones_like(y), input_grad="no")


def test_signature_shows_input_grad():
    import inspect
    from fastconv.train import _input_free_backward
    model = models.lenet5()
    assert "input_grad" in inspect.signature(model.backward).parameters
    x = np.zeros((2, 1, 32, 32), np.float32)
    y = model(x)
    assert _input_free_backward(model)(np.ones_like(y)) is None    # fit asks for none

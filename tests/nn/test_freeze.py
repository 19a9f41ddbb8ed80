"""Parameter.requires_grad = False: the layers skip the frozen weight's gradient work
(no weight pass), .grad stays None, the other gradients match torch with the same
parameters frozen, and optimizers leave frozen weights bit-identical."""
import numpy as np
import pytest

from fastconv import nn, optim
from nn_check import copy_params_to_torch, rel_err

torch = pytest.importorskip("torch")


def _x(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def _freeze(ours, theirs, names):
    tp = dict(theirs.named_parameters())
    for n, p in ours.named_parameters():
        if n in names:
            p.requires_grad = False
            tp[n].requires_grad_(False)


def _check(ours, theirs, x, rng, frozen):
    copy_params_to_torch(ours, theirs)
    _freeze(ours, theirs, frozen)
    xt = torch.tensor(x, requires_grad=True)
    yt = theirs(xt)
    y = ours(x)
    assert rel_err(y, yt.detach().numpy()) <= 1e-5
    g = _x(rng, *y.shape)
    yt.backward(torch.from_numpy(g))
    gx = ours.backward(g)
    assert gx.shape == x.shape
    assert rel_err(gx, xt.grad.numpy()) <= 1e-4
    tp = dict(theirs.named_parameters())
    for n, p in ours.named_parameters():
        if n in frozen:
            assert p.grad is None and tp[n].grad is None, n
        else:
            assert rel_err(p.grad, tp[n].grad.numpy()) <= 1e-4, n


CONV = [
    (dict(kernel_size=3, padding=1), (2, 3, 6, 7)),
    (dict(kernel_size=3, stride=2, padding=1), (2, 3, 7, 6)),      # output_padding 0
    (dict(kernel_size=3, stride=2, padding=1), (1, 3, 8, 9)),      # output_padding 1
    (dict(kernel_size=(3, 2), stride=(3, 2), dilation=(2, 1)), (2, 3, 11, 7)),
    (dict(kernel_size=5, padding="same"), (2, 3, 6, 5)),
    (dict(kernel_size=4, padding="same"), (2, 3, 6, 5)),           # asymmetric: fallback
    (dict(kernel_size=1, bias=False), (3, 3, 4, 4)),
]


@pytest.mark.parametrize("groups", [1, 3])
@pytest.mark.parametrize("kw,shape", CONV)
@pytest.mark.parametrize("frozen", [("weight",), ("weight", "bias"), ("bias",)])
def test_conv2d(kw, shape, frozen, groups, rng):
    if "bias" in frozen and kw.get("bias") is False:
        frozen = ("weight",)
    ours = nn.Conv2d(3, 6, groups=groups, **kw)
    theirs = torch.nn.Conv2d(3, 6, groups=groups, **kw)
    _check(ours, theirs, _x(rng, *shape), rng, frozen)


def test_conv2d_frozen_weight_skips_the_weight_pass(rng, monkeypatch):
    m = nn.Conv2d(3, 4, 3, stride=2, padding=1)
    m.weight.requires_grad = False
    real = nn.Conv2d._op_backward
    calls = []

    def spy(*a, **k):
        calls.append(k.get("weight_grad", True))
        return real(*a, **k)
    monkeypatch.setattr(nn.Conv2d, "_op_backward", staticmethod(spy))
    x = _x(rng, 2, 3, 9, 8)
    y = m(x)
    m.backward(np.ones_like(y))
    assert calls == [False]            # the backward ran without its weight pass
    assert m.weight.grad is None and m.bias.grad is not None


@pytest.mark.parametrize("kw,shape", [
    (dict(kernel_size=3, stride=2, padding=1, output_padding=1), (2, 4, 4, 5)),
    (dict(kernel_size=3, stride=1, padding=1, groups=2), (2, 4, 5, 5)),
    (dict(kernel_size=2, stride=1, dilation=3, output_padding=2), (1, 4, 4, 3)),  # fallback
])
def test_conv_transpose2d(kw, shape, rng):
    ours, theirs = nn.ConvTranspose2d(4, 6, **kw), torch.nn.ConvTranspose2d(4, 6, **kw)
    _check(ours, theirs, _x(rng, *shape), rng, ("weight",))


def test_depthwise_and_linear_and_batchnorm(rng):
    dw = nn.DepthwiseConv2d(3, 3, padding=1, depth_multiplier=2)
    tdw = torch.nn.Conv2d(3, 6, 3, padding=1, groups=3)
    _check(dw, tdw, _x(rng, 2, 3, 5, 6), rng, ("weight",))
    for frozen in (("weight",), ("bias",), ("weight", "bias")):
        _check(nn.Linear(7, 5), torch.nn.Linear(7, 5), _x(rng, 4, 7), rng, frozen)
        _check(nn.BatchNorm2d(3), torch.nn.BatchNorm2d(3), _x(rng, 4, 3, 3, 2), rng, frozen)


def test_frozen_layers_stay_bit_identical_while_training(rng):
    """A network with its first convolution and BatchNorm frozen, trained with SGD
    momentum + weight decay beside torch: frozen weights never move, the rest match."""
    nn.init.manual_seed(0)
    ours = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.Flatten(), nn.Linear(4 * 5 * 5, 3))
    theirs = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1),
                                 torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                                 torch.nn.Flatten(), torch.nn.Linear(4 * 5 * 5, 3))
    copy_params_to_torch(ours, theirs)
    frozen = ("0.weight", "0.bias", "1.weight")
    _freeze(ours, theirs, frozen)
    before = {n: p.data.copy() for n, p in ours.named_parameters()}
    o = optim.SGD(ours.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-2)
    t = torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-2)
    loss = nn.CrossEntropyLoss()
    for _ in range(3):
        x = _x(rng, 4, 3, 5, 5)
        y = rng.integers(0, 3, 4)
        o.zero_grad()
        t.zero_grad()
        loss(ours(x), y)
        ours.backward(loss.backward())
        torch.nn.functional.cross_entropy(theirs(torch.tensor(x)), torch.tensor(y)).backward()
        o.step()
        t.step()
    tp = dict(theirs.named_parameters())
    for n, p in ours.named_parameters():
        if n in frozen:
            np.testing.assert_array_equal(p.data, before[n])
        else:
            assert not np.array_equal(p.data, before[n])
            np.testing.assert_allclose(p.data, tp[n].detach().numpy(), rtol=1e-4, atol=1e-5)


def test_requires_grad_api():
    p = nn.Parameter(np.zeros(2, np.float32))
    assert p.requires_grad
    assert p.requires_grad_(False) is p and not p.requires_grad
    with pytest.raises(TypeError, match="requires_grad"):
        p.requires_grad = 1
    p.accumulate(np.ones(2, np.float32))
    assert p.grad is None
    m = nn.Linear(2, 3).requires_grad_(False)
    assert not any(q.requires_grad for q in m.parameters())
    assert "requires_grad=False" in repr(m.weight)

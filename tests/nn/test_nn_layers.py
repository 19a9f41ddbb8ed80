"""Each fastconv.nn layer: forward and backward against torch.nn (autograd) and, where
the layer is smooth, against finite differences (these run without torch)."""
import numpy as np
import pytest

from fastconv import nn
from nn_check import check_against_torch, finite_difference, rel_err


def _x(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


# -- finite differences: no torch needed -----------------------------------------------
@pytest.mark.parametrize("make, shape", [
    (lambda: nn.Conv2d(3, 4, 3, stride=2, padding=1), (2, 3, 7, 6)),
    (lambda: nn.Conv2d(4, 6, (3, 2), padding="same", dilation=2, groups=2), (1, 4, 6, 5)),
    (lambda: nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1), (2, 3, 4, 5)),
    (lambda: nn.DepthwiseConv2d(3, 3, padding=1, depth_multiplier=2), (2, 3, 5, 6)),
    (lambda: nn.SeparableConv2d(3, 5, 3, padding="same"), (2, 3, 5, 5)),
    (lambda: nn.Linear(7, 5), (4, 7)),
    (lambda: nn.Tanh(), (3, 4)),
    (lambda: nn.Sigmoid(), (3, 4)),
    (lambda: nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
     (2, 3, 7, 8)),
    (lambda: nn.AdaptiveAvgPool2d(1), (2, 3, 5, 4)),
    (lambda: nn.AdaptiveAvgPool2d((3, 2)), (2, 3, 7, 5)),
    (lambda: nn.BatchNorm2d(3), (4, 3, 3, 2)),
    (lambda: nn.Flatten(), (2, 3, 2, 2)),
])
def test_finite_differences(make, shape, rng):
    nn.init.manual_seed(0)
    finite_difference(make(), _x(rng, *shape), rng)


# -- torch cross-checks -------------------------------------------------------------------
@pytest.mark.parametrize("kw", [
    dict(kernel_size=3, stride=1, padding=0),
    dict(kernel_size=3, stride=2, padding=1, bias=False),
    dict(kernel_size=(3, 5), stride=(2, 1), padding=(1, 2), dilation=(2, 1)),
    dict(kernel_size=1, groups=2),
    dict(kernel_size=3, padding="same", groups=2, dilation=2),
])
def test_conv2d_vs_torch(kw, rng):
    torch = pytest.importorskip("torch")
    ours = nn.Conv2d(4, 6, **kw)
    theirs = torch.nn.Conv2d(4, 6, **kw)
    check_against_torch(ours, theirs, _x(rng, 2, 4, 9, 8), rng)


def test_conv2d_same_stride2_matches_keras_padding(rng):
    # Keras "same" with stride 2 on an even input pads (0 top, 1 bottom) for k=3... here
    # k=3, H=8: total pad = max((4-1)*2 + 3 - 8, 0) = 1 -> (0, 1), unlike torch's padding=1.
    torch = pytest.importorskip("torch")
    ours = nn.Conv2d(2, 3, 3, stride=2, padding="same")
    theirs = torch.nn.Conv2d(2, 3, 3, stride=2, padding=0)
    x = _x(rng, 1, 2, 8, 8)
    tx = torch.nn.functional.pad(torch.tensor(x), (0, 1, 0, 1))
    from nn_check import copy_params_to_torch
    copy_params_to_torch(ours, theirs)
    assert rel_err(ours(x), theirs(tx).detach().numpy()) < 1e-5
    assert ours(x).shape == (1, 3, 4, 4)


@pytest.mark.parametrize("kw", [
    dict(kernel_size=3, stride=2, padding=1, output_padding=1),
    dict(kernel_size=4, stride=2, padding=1, groups=2, bias=False),
    dict(kernel_size=3, stride=1, padding=2, dilation=2),
])
def test_conv_transpose2d_vs_torch(kw, rng):
    torch = pytest.importorskip("torch")
    ours = nn.ConvTranspose2d(4, 6, **kw)
    theirs = torch.nn.ConvTranspose2d(4, 6, **kw)
    check_against_torch(ours, theirs, _x(rng, 2, 4, 5, 6), rng)


@pytest.mark.parametrize("mult, stride, padding", [(1, 1, 1), (2, 2, 0), (1, 2, 2)])
def test_depthwise_vs_torch(mult, stride, padding, rng):
    torch = pytest.importorskip("torch")
    ours = nn.DepthwiseConv2d(5, 3, stride=stride, padding=padding, depth_multiplier=mult)
    theirs = torch.nn.Conv2d(5, 5 * mult, 3, stride=stride, padding=padding, groups=5)
    check_against_torch(ours, theirs, _x(rng, 2, 5, 9, 7), rng)


def test_separable_vs_torch(rng):
    torch = pytest.importorskip("torch")
    ours = nn.SeparableConv2d(4, 7, 3, padding=1, depth_multiplier=2)
    theirs = torch.nn.Sequential()
    theirs.add_module("depthwise", torch.nn.Conv2d(4, 8, 3, padding=1, groups=4, bias=False))
    theirs.add_module("pointwise", torch.nn.Conv2d(8, 7, 1))
    check_against_torch(ours, theirs, _x(rng, 2, 4, 6, 6), rng)
    assert [n for n, _ in ours.named_parameters()] == [
        "depthwise.weight", "pointwise.weight", "pointwise.bias"]


@pytest.mark.parametrize("kw", [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, ceil_mode=True),
    dict(kernel_size=(2, 3), stride=1, dilation=(2, 1), padding=(1, 1)),
])
def test_maxpool_vs_torch(kw, rng):
    torch = pytest.importorskip("torch")
    check_against_torch(nn.MaxPool2d(**kw), torch.nn.MaxPool2d(**kw), _x(rng, 2, 3, 9, 8), rng)


@pytest.mark.parametrize("kw", [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
    dict(kernel_size=3, stride=2, ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
])
def test_avgpool_vs_torch(kw, rng):
    torch = pytest.importorskip("torch")
    check_against_torch(nn.AvgPool2d(**kw), torch.nn.AvgPool2d(**kw), _x(rng, 2, 3, 9, 8), rng)


@pytest.mark.parametrize("size, hw", [(1, (5, 7)), ((6, 6), (3, 3)), ((2, 3), (6, 9)),
                                      ((3, 2), (7, 5))])
def test_adaptive_avgpool_vs_torch(size, hw, rng):
    torch = pytest.importorskip("torch")
    check_against_torch(nn.AdaptiveAvgPool2d(size), torch.nn.AdaptiveAvgPool2d(size),
                        _x(rng, 2, 3, *hw), rng)


@pytest.mark.parametrize("name", ["ReLU", "Tanh", "Sigmoid", "Flatten", "Identity"])
def test_activations_vs_torch(name, rng):
    torch = pytest.importorskip("torch")
    check_against_torch(getattr(nn, name)(), getattr(torch.nn, name)(), _x(rng, 2, 3, 4, 5), rng)


def test_linear_vs_torch(rng):
    torch = pytest.importorskip("torch")
    check_against_torch(nn.Linear(13, 7), torch.nn.Linear(13, 7), _x(rng, 5, 13), rng)
    check_against_torch(nn.Linear(6, 3, bias=False), torch.nn.Linear(6, 3, bias=False),
                        _x(rng, 2, 4, 6), rng)


def test_batchnorm_train_and_eval_vs_torch(rng):
    torch = pytest.importorskip("torch")
    ours = nn.BatchNorm2d(3, momentum=0.2, eps=1e-3)
    theirs = torch.nn.BatchNorm2d(3, momentum=0.2, eps=1e-3)
    ours.weight.data = rng.uniform(0.5, 1.5, 3).astype(np.float32)
    ours.bias.data = _x(rng, 3)
    from nn_check import copy_params_to_torch
    copy_params_to_torch(ours, theirs)
    for step in range(3):   # running statistics follow torch's over several batches
        x = _x(rng, 4, 3, 5, 3) * 2 + 1
        check_against_torch(ours, theirs, x, rng, copy=False)
    sd = ours.state_dict()
    tsd = theirs.state_dict()
    for k in ("running_mean", "running_var"):
        assert rel_err(sd[k], tsd[k].numpy()) < 1e-5, k
    assert int(sd["num_batches_tracked"]) == int(tsd["num_batches_tracked"]) == 3
    ours.eval()
    theirs.eval()
    x = _x(rng, 2, 3, 4, 4)
    assert rel_err(ours(x), theirs(torch.tensor(x)).detach().numpy()) < 1e-5
    assert ours._cache is None


def test_batchnorm_cumulative_momentum(rng):
    torch = pytest.importorskip("torch")
    ours = nn.BatchNorm2d(2, momentum=None)
    theirs = torch.nn.BatchNorm2d(2, momentum=None)
    for _ in range(3):
        x = _x(rng, 3, 2, 2, 2)
        ours(x)
        theirs(torch.tensor(x))
    assert rel_err(ours.running_var, theirs.running_var.numpy()) < 1e-5
    assert rel_err(ours.running_mean, theirs.running_mean.numpy()) < 1e-5


def test_batchnorm_needs_more_than_one_value():
    with pytest.raises(ValueError, match="more than one value"):
        nn.BatchNorm2d(2)(np.ones((1, 2, 1, 1), np.float32))


def test_dropout_train_vs_eval(rng):
    nn.init.manual_seed(3)
    d = nn.Dropout(0.25)
    x = np.ones((200, 100), np.float32)
    y = d(x)
    kept = y != 0
    assert 0.70 < kept.mean() < 0.80
    assert np.allclose(y[kept], 1 / 0.75)
    g = _x(rng, 200, 100)
    gx = d.backward(g)
    assert np.array_equal(gx == 0, ~kept)          # the same mask as forward
    assert np.allclose(gx[kept], g[kept] / 0.75)
    d.eval()
    assert np.array_equal(d(x), x)
    assert d._cache is None
    d.train()
    assert np.array_equal(nn.Dropout(0.0)(x), x)
    assert not nn.Dropout(1.0)(x).any()
    with pytest.raises(ValueError, match="p must be"):
        nn.Dropout(1.5)


def test_concat_branches_and_backward(rng):
    torch = pytest.importorskip("torch")
    ours = nn.Concat(nn.Conv2d(3, 2, 1), nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU()),
                     nn.MaxPool2d(3, stride=1, padding=1))

    class TorchConcat(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.add_module("0", torch.nn.Conv2d(3, 2, 1))
            self.add_module("1", torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1),
                                                     torch.nn.ReLU()))
            self.add_module("2", torch.nn.MaxPool2d(3, stride=1, padding=1))

        def forward(self, x):
            return torch.cat([m(x) for m in self.children()], dim=1)

    y, _ = check_against_torch(ours, TorchConcat(), _x(rng, 2, 3, 5, 5), rng)
    assert y.shape == (2, 2 + 4 + 3, 5, 5)


def test_sequential_container():
    s = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    assert len(s) == 3 and isinstance(s[1], nn.ReLU)
    assert [n for n, _ in s.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    with pytest.raises(TypeError, match="Module"):
        s.append(3)


def test_cross_entropy_vs_torch(rng):
    torch = pytest.importorskip("torch")
    z = _x(rng, 6, 5) * 10
    z[0, 0] = 80.0        # large logits: must stay finite (log-sum-exp)
    t = rng.integers(0, 5, 6)
    loss_fn = nn.CrossEntropyLoss()
    loss = loss_fn(z, t)
    zt = torch.tensor(z, requires_grad=True)
    lt = torch.nn.functional.cross_entropy(zt, torch.tensor(t))
    lt.backward()
    assert abs(loss - lt.item()) <= 1e-5 * max(1, abs(lt.item()))
    assert rel_err(loss_fn.backward(), zt.grad.numpy()) < 1e-5
    s = nn.CrossEntropyLoss(reduction="sum")
    assert abs(s(z, t) - 6 * loss) < 1e-4 * abs(6 * loss)


def test_mse_vs_torch(rng):
    torch = pytest.importorskip("torch")
    a, b = _x(rng, 3, 4), _x(rng, 3, 4)
    loss_fn = nn.MSELoss()
    at = torch.tensor(a, requires_grad=True)
    lt = torch.nn.functional.mse_loss(at, torch.tensor(b))
    lt.backward()
    assert abs(loss_fn(a, b) - lt.item()) < 1e-5
    assert rel_err(loss_fn.backward(), at.grad.numpy()) < 1e-5


def test_cross_entropy_bad_input():
    loss_fn = nn.CrossEntropyLoss()
    z = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match="target of shape"):
        loss_fn(z, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"in \[0, 3\)"):
        loss_fn(z, np.array([0, 3]))
    with pytest.raises(TypeError, match="integer"):
        loss_fn(z, np.array([0.0, 1.0]))
    with pytest.raises(RuntimeError, match="forward"):
        nn.CrossEntropyLoss().backward()


def test_backward_without_train_forward_is_an_error(rng):
    conv = nn.Conv2d(2, 2, 3)
    conv.eval()
    conv(_x(rng, 1, 2, 5, 5))
    assert conv._cache is None
    with pytest.raises(RuntimeError, match="train mode"):
        conv.backward(_x(rng, 1, 2, 3, 3))


def test_layer_argument_errors():
    with pytest.raises(ValueError, match="groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="padding"):
        nn.Conv2d(3, 4, 3, padding="full")
    with pytest.raises(ValueError, match=r"\(\.\.\., 5\)"):
        nn.Linear(5, 2)(np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        nn.BatchNorm2d(3)(np.zeros((2, 4, 2, 2), np.float32))


def test_relu_inplace(rng):
    x = _x(rng, 2, 3, 4, 4)
    before = x.copy()
    r = nn.ReLU(inplace=True)
    y = r(x)
    assert y is x and np.array_equal(y, np.maximum(before, 0))
    g = _x(rng, 2, 3, 4, 4)
    np.testing.assert_array_equal(r.backward(g), np.where(before > 0, g, 0))
    x64 = before.astype(np.float64)                     # not float32: never overwritten
    nn.ReLU(inplace=True)(x64)
    np.testing.assert_array_equal(x64, before)


def _maxpool_ref(x, k, s, p):
    """Brute force float64 max pooling (square window, -inf padding) with argmax."""
    N, C, H, W = x.shape
    OH, OW = (H + 2 * p - k) // s + 1, (W + 2 * p - k) // s + 1
    y = np.full((N, C, OH, OW), -np.inf)
    arg = np.zeros((N, C, OH, OW, 2), int)
    for n in range(N):
        for c in range(C):
            for i in range(OH):
                for j in range(OW):
                    for a in range(k):
                        for b in range(k):
                            r, q = i * s - p + a, j * s - p + b
                            if 0 <= r < H and 0 <= q < W and x[n, c, r, q] > y[n, c, i, j]:
                                y[n, c, i, j] = x[n, c, r, q]
                                arg[n, c, i, j] = (r, q)
    return y, arg


@pytest.mark.parametrize("k, s, p", [(2, 2, 0), (3, 2, 1), (3, 1, 1)])
def test_maxpool_vs_reference(k, s, p, rng):
    x = _x(rng, 2, 3, 7, 6)
    y_ref, arg = _maxpool_ref(x.astype(np.float64), k, s, p)
    pool = nn.MaxPool2d(k, stride=s, padding=p)
    y = pool(x)
    np.testing.assert_array_equal(y, y_ref.astype(np.float32))
    g = _x(rng, *y.shape)
    gx_ref = np.zeros(x.shape)
    for idx in np.ndindex(y.shape):
        r, q = arg[idx]
        gx_ref[idx[0], idx[1], r, q] += g[idx]
    np.testing.assert_allclose(pool.backward(g), gx_ref, rtol=1e-6, atol=1e-6)


def test_concat_finite_differences(rng):
    nn.init.manual_seed(1)
    cat = nn.Concat(nn.Conv2d(3, 2, 1), nn.Sequential(nn.Conv2d(3, 2, 3, padding=1), nn.Tanh()),
                    nn.AvgPool2d(3, stride=1, padding=1))
    finite_difference(cat, _x(rng, 2, 3, 4, 4), rng)
    assert cat(_x(rng, 2, 3, 4, 4)).shape == (2, 7, 4, 4)


def test_relu_and_dropout_backward_without_torch(rng):
    x = _x(rng, 3, 4)
    r = nn.ReLU()
    r(x)
    g = _x(rng, 3, 4)
    np.testing.assert_array_equal(r.backward(g), np.where(x > 0, g, 0))

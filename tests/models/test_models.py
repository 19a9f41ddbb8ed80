"""fastconv.models without torch: sizes, parameter counts, names, and LeNet-5 learning."""
import numpy as np
import pytest

import fastconv as fc
from fastconv import nn, optim


@pytest.mark.parametrize("make, count", [
    (fc.models.lenet5, 61_706),
    (fc.models.resnet18, 11_689_512),
    (fc.models.resnet34, 21_797_672),
    (fc.models.resnet50, 25_557_032),
])
def test_parameter_counts(make, count):
    assert make().num_parameters() == count


def test_alexnet_parameter_count_and_shape(rng):
    m = fc.models.alexnet()
    assert m.num_parameters() == 62_378_344       # Table 14-2 with the paper's last pool
    m.eval()
    x = rng.standard_normal((1, 3, 227, 227)).astype(np.float32)
    feats = m.features(x)
    assert feats.shape == (1, 256, 6, 6)          # C1 55 -> 27 -> 13 -> 6
    assert m(x).shape == (1, 1000)


def test_torchvision_names():
    sd = fc.models.resnet18().state_dict()
    for k in ("conv1.weight", "bn1.running_mean", "bn1.num_batches_tracked",
              "layer2.0.downsample.0.weight", "layer2.0.downsample.1.running_var",
              "layer4.1.bn2.bias", "fc.weight", "fc.bias"):
        assert k in sd, k
    assert "layer1.0.downsample.0.weight" not in sd
    sd50 = fc.models.resnet50(num_classes=7).state_dict()
    assert sd50["layer1.0.downsample.0.weight"].shape == (256, 64, 1, 1)
    assert sd50["layer3.5.conv3.weight"].shape == (1024, 256, 1, 1)
    assert sd50["fc.weight"].shape == (7, 2048)
    assert list(fc.models.lenet5().state_dict()) == [
        "features.0.weight", "features.0.bias", "features.3.weight", "features.3.bias",
        "features.6.weight", "features.6.bias", "classifier.0.weight", "classifier.0.bias",
        "classifier.2.weight", "classifier.2.bias"]


def test_resnet18_small_input_train_step(rng):
    m = fc.models.resnet18(num_classes=5)
    x = rng.standard_normal((2, 3, 32, 32)).astype(np.float32)
    loss_fn = nn.CrossEntropyLoss()
    loss = loss_fn(m(x), np.array([1, 4]))
    m.zero_grad()
    gx = m.backward(loss_fn.backward())
    assert gx.shape == x.shape and np.isfinite(loss)
    assert all(p.grad is not None and p.grad.shape == p.shape for p in m.parameters())
    m.eval()
    assert m(x).shape == (2, 5)
    assert all(mod._cache is None for mod in m.modules())


def separable_digits(rng, n, classes=4):
    """32x32 images: a bright 8x8 square in one of four quadrants (the class), noise."""
    y = rng.integers(0, classes, n)
    x = 0.3 * rng.standard_normal((n, 1, 32, 32)).astype(np.float32)
    for i, c in enumerate(y):
        r, s = 4 + 16 * (c // 2), 4 + 16 * (c % 2)
        x[i, 0, r:r + 8, s:s + 8] += 1.0
    return x, y


def test_lenet5_trains(rng):
    nn.init.manual_seed(0)
    model = fc.models.lenet5(num_classes=4)
    loss_fn = nn.CrossEntropyLoss()
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x, y = separable_digits(rng, 128)
    losses = []
    model.train()
    for step in range(40):
        sl = slice((step * 16) % 128, (step * 16) % 128 + 16)
        losses.append(loss_fn(model(x[sl]), y[sl]))
        model.zero_grad()
        model.backward(loss_fn.backward())
        opt.step()
    assert np.mean(losses[-5:]) < 0.25 * np.mean(losses[:5]), losses
    model.eval()
    xt, yt = separable_digits(rng, 64)
    assert (model(xt).argmax(1) == yt).mean() >= 0.9


def test_bad_input_shapes():
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        fc.models.resnet18()(np.zeros((1, 1, 32, 32), np.float32))
    with pytest.raises(ValueError, match="activation"):
        fc.models.lenet5(activation="gelu")
    with pytest.raises(ValueError):
        fc.models.lenet5()(np.zeros((1, 1, 20, 20), np.float32))   # C5 has no room

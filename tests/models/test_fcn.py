"""FCN-8s on ResNet-18: output sizes (exact at multiples of 32, cropped otherwise), the
bilinear initialization, the backbone's torchvision names, logits and every gradient
against a torch twin (torch_twins.FCN), and the synthetic-shapes demo's pieces."""
import numpy as np
import pytest

import fastconv as fc
from fastconv import nn
from fastconv.models.fcn import bilinear_kernel
from fastconv.models.segmentation_demo import mean_iou, synthetic_shapes, train


def test_parameter_count():
    # ResNet-18 without fc, three 1x1 score convolutions, 4x4, 4x4 and 16x16 upsamplings
    K = 21
    expected = (11_689_512 - 513_000) + 3 * K + (512 + 256 + 128) * K + K * K * (16 + 16 + 256)
    assert fc.models.fcn_resnet18().num_parameters() == expected == 11_322_399


@pytest.mark.parametrize("hw", [(64, 64), (32, 96), (40, 50), (33, 97), (17, 5)])
def test_output_has_the_input_size(hw, rng):
    m = fc.models.fcn_resnet18(num_classes=4).eval()
    x = rng.standard_normal((1, 3) + hw).astype(np.float32)
    assert m(x).shape == (1, 4) + hw


def test_bilinear_upsampling_init(rng):
    """The transposed convolutions start as bilinear upsampling: away from the border,
    x2 and x8 of a map equal the half-pixel-centred bilinear interpolation (computed
    here from its definition)."""
    f = rng.standard_normal((1, 2, 6, 7)).astype(np.float32)
    for k, s in ((4, 2), (16, 8)):
        up = nn.ConvTranspose2d(2, 2, k, stride=s, padding=s // 2, bias=False)
        up.weight.data = bilinear_kernel(2, k)
        y = up.eval()(f)
        assert y.shape == (1, 2, 6 * s, 7 * s)

        def interp(n):   # output pixel i sits at input coordinate (i + 0.5) / s - 0.5
            c = (np.arange(n * s) + 0.5) / s - 0.5
            i0 = np.clip(np.floor(c).astype(int), 0, n - 1)
            i1 = np.clip(i0 + 1, 0, n - 1)
            return i0, i1, c - np.floor(c)
        r0, r1, wr = interp(6)
        c0, c1, wc = interp(7)
        top = f[:, :, r0][..., c0] * (1 - wc) + f[:, :, r0][..., c1] * wc
        bot = f[:, :, r1][..., c0] * (1 - wc) + f[:, :, r1][..., c1] * wc
        ref = top * (1 - wr)[:, None] + bot * wr[:, None]
        inner = (slice(None), slice(None), slice(s, -s), slice(s, -s))
        np.testing.assert_allclose(y[inner], ref[inner], rtol=1e-5, atol=1e-5)


def test_train_step_non_multiple_size(rng):
    m = fc.models.fcn_resnet18(num_classes=3)
    x = rng.standard_normal((2, 3, 45, 38)).astype(np.float32)
    t = rng.integers(0, 3, (2, 45, 38))
    loss_fn = nn.CrossEntropyLoss()
    loss = loss_fn(m(x), t)
    m.zero_grad()
    gx = m.backward(loss_fn.backward())
    assert gx.shape == x.shape and np.isfinite(loss) and np.isfinite(gx).all()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in m.parameters())
    m.eval()
    m(x)
    assert all(mod._cache is None for mod in m.modules())


def test_bad_input():
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        fc.models.fcn_resnet18()(np.zeros((1, 64, 64), np.float32))


def test_backbone_takes_resnet18_weights():
    """A ResNet-18 state dict (ImageNet weights) loads into the backbone by prefix."""
    sd = fc.models.resnet18().state_dict()
    m = fc.models.fcn_resnet18(num_classes=5)
    missing, unexpected = m.load_state_dict({"backbone." + k: v for k, v in sd.items()},
                                            strict=False)
    assert unexpected == ["backbone.fc.weight", "backbone.fc.bias"]
    assert all(not k.startswith("backbone.") for k in missing)
    np.testing.assert_array_equal(m.backbone.layer3[1].conv2.weight.data,
                                  sd["layer3.1.conv2.weight"])


# -- against torch ------------------------------------------------------------------------

@pytest.mark.parametrize("hw", [(64, 64), (48, 40)])
def test_vs_torch(hw, rng):
    """Eval logits, then train-mode logits, the per-pixel cross-entropy over (N, K, H, W),
    every gradient and BN statistics, against the float64 twin; 48x40 crops every
    upsampled map (layer4 2x2 -> 4x4 cropped to layer3's 3x3 ...)."""
    torch = pytest.importorskip("torch")
    import torch_twins
    from test_models_vs_torch import _compare, _randomize_bn
    torch.manual_seed(0)
    theirs = torch_twins.FCN(num_classes=5)
    _randomize_bn(theirs)
    x = rng.standard_normal((2, 3) + hw).astype(np.float32)
    labels = rng.integers(0, 5, (2,) + hw)
    _compare(fc.models.fcn_resnet18(num_classes=5), theirs, x, labels)


# -- the segmentation demo ------------------------------------------------------------------

def test_synthetic_shapes(rng):
    x, y = synthetic_shapes(rng, 6, size=32)
    assert x.shape == (6, 3, 32, 32) and x.dtype == np.float32
    assert y.shape == (6, 32, 32) and set(np.unique(y)) <= {0, 1, 2}
    for i in range(6):        # every labelled pixel carries its shape's colour, not noise
        assert (y[i] > 0).any()
        fg = x[i][:, y[i] > 0]
        assert (np.abs(fg) >= 0.8 - 1e-6).all()


def test_mean_iou():
    pred = np.array([[0, 0, 1, 1], [2, 2, 2, 0]])
    target = np.array([[0, 1, 1, 1], [2, 2, 0, 0]])
    # class 0: both at (0,0), (1,3); either adds (0,1), (1,2): 2/4
    # class 1: both at (0,2), (0,3); either adds (0,1): 2/3. class 2: 2/3 likewise
    assert mean_iou(pred, target, 3) == pytest.approx((0.5 + 2 / 3 + 2 / 3) / 3)
    assert mean_iou(target, target, 5) == 1.0      # absent classes are skipped


def test_demo_training_reduces_loss():
    _, losses, miou = train(steps=12, size=32, batch=4, lr=0.02, eval_images=16)
    # zero-initialized class scores: every pixel starts at the uniform 1/3
    assert losses[0] == pytest.approx(np.log(3), rel=1e-6)
    assert np.mean(losses[-3:]) < 0.9 * np.log(3), losses
    assert 0.0 <= miou <= 1.0

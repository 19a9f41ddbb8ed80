"""GoogLeNet: torchvision's parameter count, names and shapes; logits and every gradient
against a torch twin (torch_twins.GoogLeNet, torchvision's layout in plain torch.nn)."""
import numpy as np
import pytest

import fastconv as fc
from fastconv import nn


def test_parameter_count():
    assert fc.models.googlenet().num_parameters() == 6_624_904
    assert fc.models.googlenet(num_classes=10).num_parameters() == 6_624_904 - 990 * 1025


def test_stage_shapes_at_224(rng):
    m = fc.models.googlenet().eval()
    x = rng.standard_normal((1, 3, 224, 224)).astype(np.float32)
    sizes = {}
    for name, stage in zip(("conv1", "maxpool1", "conv2", "conv3", "maxpool2",
                            "inception3a", "inception3b", "maxpool3", "inception4a",
                            "inception4b", "inception4c", "inception4d", "inception4e",
                            "maxpool4", "inception5a", "inception5b"), m._stages()):
        x = stage(x)
        sizes[name] = x.shape[1:]
    # the GoogLeNet paper's Table 1 (depth concatenations: 256, 480, 512, 528, 832, 1024)
    assert sizes["conv1"] == (64, 112, 112) and sizes["maxpool1"] == (64, 56, 56)
    assert sizes["conv3"] == (192, 56, 56) and sizes["maxpool2"] == (192, 28, 28)
    assert sizes["inception3a"] == (256, 28, 28) and sizes["inception3b"] == (480, 28, 28)
    assert sizes["inception4a"] == (512, 14, 14) and sizes["inception4e"] == (832, 14, 14)
    assert sizes["inception5b"] == (1024, 7, 7)


def test_train_step_and_eval_cache(rng):
    m = fc.models.googlenet(num_classes=4)
    x = rng.standard_normal((2, 3, 40, 36)).astype(np.float32)
    loss_fn = nn.CrossEntropyLoss()
    loss = loss_fn(m(x), np.array([0, 3]))
    m.zero_grad()
    gx = m.backward(loss_fn.backward())
    assert gx.shape == x.shape and np.isfinite(loss) and np.isfinite(gx).all()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in m.parameters())
    m.eval()
    assert m(x).shape == (2, 4)
    assert all(mod._cache is None for mod in m.modules())


def test_bad_input():
    m = fc.models.googlenet(num_classes=3)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        m(np.zeros((1, 1, 64, 64), np.float32))
    with pytest.raises(ValueError, match=">= 15"):
        m(np.zeros((1, 3, 14, 64), np.float32))
    m.eval()
    assert m(np.zeros((1, 3, 15, 15), np.float32)).shape == (1, 3)   # torchvision's least


# -- against torch ------------------------------------------------------------------------

def test_state_dict_matches_torchvision_layout():
    torch_twins = pytest.importorskip("torch_twins")
    ours = fc.models.googlenet().state_dict()
    theirs = torch_twins.GoogLeNet().state_dict()
    assert list(ours) == list(theirs)
    assert all(ours[k].shape == tuple(theirs[k].shape) for k in ours)
    for k in ("inception3a.branch2.1.conv.weight", "inception5b.branch4.1.bn.running_var",
              "conv1.bn.num_batches_tracked", "fc.weight"):
        assert k in ours, k


def test_vs_torch(rng):
    """64x64 (inception5b at 2x2), batch 2: eval logits, then train mode with dropout
    off (the masks' random streams differ): logits, loss, every gradient, BN statistics."""
    torch = pytest.importorskip("torch")
    import torch_twins
    from test_models_vs_torch import _compare, _randomize_bn
    torch.manual_seed(0)
    theirs = torch_twins.GoogLeNet(num_classes=10, dropout=0.0)
    _randomize_bn(theirs)
    x = rng.standard_normal((2, 3, 64, 64)).astype(np.float32)
    _compare(fc.models.googlenet(num_classes=10, dropout=0.0), theirs, x, np.array([2, 9]))

"""fastconv.models against twins built with torch.nn: a torchvision-style state dict
loads directly; logits (eval and train mode), every parameter gradient, BatchNorm
running statistics and a few SGD steps of LeNet-5 agree within float32 tolerance."""
import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import fastconv as fc  # noqa: E402
from fastconv import nn, optim  # noqa: E402
import torch_twins  # noqa: E402
from torch_batchnorm import randomize_bn  # noqa: E402
from test_models import separable_digits  # noqa: E402


def rel_err(a, b):
    # float32 arithmetic: AlexNet's gradients have 38M elements; the tolerances are >= 1e-4
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    return float(np.abs(a - b).max()) / max(float(np.abs(b).max()), 1e-12)


def _randomize_bn(tm, seed=0):
    """The model tests' milder statistics (their tolerances were set with these)."""
    return randomize_bn(tm, seed, bias_std=0.1, mean_std=0.1, var_range=(0.5, 1.5))


def _compare(ours, theirs, x, labels):
    """Eval logits, then train-mode logits, loss, every gradient, running statistics,
    against the torch twin run in float64 (the exact answer for float32 weights: small
    batches make train-mode BatchNorm ill-conditioned, so two float32 answers can differ
    by more than each differs from the exact one)."""
    ours.load_state_dict(theirs.state_dict())          # torch tensors load directly
    theirs = copy.deepcopy(theirs).double()
    x64 = torch.tensor(x, dtype=torch.float64)
    ours.eval(), theirs.eval()
    with torch.no_grad():
        ref = theirs(x64).numpy()
    assert rel_err(ours(x), ref) <= 1e-4
    ours.train(), theirs.train()
    loss_fn = nn.CrossEntropyLoss()
    logits = ours(x)
    loss = loss_fn(logits, labels)
    tlogits = theirs(x64)
    tloss = torch.nn.functional.cross_entropy(tlogits, torch.tensor(labels))
    tloss.backward()
    assert rel_err(logits, tlogits.detach().numpy()) <= 1e-4
    assert abs(loss - tloss.item()) <= 1e-4 * abs(tloss.item())
    ours.zero_grad()
    ours.backward(loss_fn.backward())
    tp = dict(theirs.named_parameters())
    assert [n for n, _ in ours.named_parameters()] == list(tp)
    for n, p in ours.named_parameters():
        assert rel_err(p.grad, tp[n].grad.numpy()) <= 1e-3, n
    tsd = theirs.state_dict()
    for k, v in ours.state_dict().items():
        assert rel_err(v, tsd[k].numpy()) <= 1e-4, k


def test_resnet18_vs_torch(rng):
    torch.manual_seed(0)
    theirs = torch_twins.resnet(18, num_classes=10)
    _randomize_bn(theirs)
    # 2 images of 48x48: layer4's BatchNorm sees 2x2x2 values per channel.
    x = rng.standard_normal((2, 3, 48, 48)).astype(np.float32)
    _compare(fc.models.resnet18(num_classes=10), theirs, x, np.array([3, 7]))


@pytest.mark.parametrize("depth, make", [(34, fc.models.resnet34), (50, fc.models.resnet50)])
def test_deeper_resnets_eval_vs_torch(depth, make, rng):
    torch.manual_seed(1)
    theirs = torch_twins.resnet(depth, num_classes=6).eval()
    _randomize_bn(theirs)
    ours = make(num_classes=6)
    ours.load_state_dict(theirs.state_dict())
    x = rng.standard_normal((1, 3, 32, 32)).astype(np.float32)
    with torch.no_grad():
        ref = theirs(torch.tensor(x)).numpy()
    assert rel_err(ours.eval()(x), ref) <= 1e-4


@pytest.mark.parametrize("depth, make", [(18, fc.models.resnet18), (34, fc.models.resnet34),
                                         (50, fc.models.resnet50)])
def test_resnet_state_dict_matches_torchvision_layout(depth, make):
    ours = make().state_dict()
    theirs = torch_twins.resnet(depth).state_dict()
    assert list(ours) == list(theirs)
    assert all(ours[k].shape == tuple(theirs[k].shape) for k in ours)


def test_lenet5_vs_torch(rng):
    theirs = torch_twins.LeNet5(num_classes=10)
    x = rng.standard_normal((4, 1, 32, 32)).astype(np.float32)
    _compare(fc.models.lenet5(), theirs, x, np.array([0, 9, 3, 3]))


def test_alexnet_vs_torch(rng):
    """Eval logits, then train mode with dropout off (the masks' random streams differ):
    logits and every parameter gradient, against the float32 twin (no BatchNorm here,
    so float32 is well conditioned; a float64 copy of 62M parameters is too heavy)."""
    torch.manual_seed(0)
    theirs = torch_twins.AlexNet(num_classes=10)
    ours = fc.models.alexnet(num_classes=10)
    ours.load_state_dict(theirs.state_dict())
    ours.eval(), theirs.eval()
    x = rng.standard_normal((2, 3, 67, 67)).astype(np.float32)   # 15 -> 7 -> 3 -> 1 -> 6x6
    xt = torch.tensor(x)
    with torch.no_grad():
        ref = theirs(xt).numpy()
    assert rel_err(ours(x), ref) <= 1e-4
    for m in ours.modules():
        if isinstance(m, nn.Dropout):
            m.p = 0.0
    for m in theirs.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    ours.train(), theirs.train()
    loss_fn = nn.CrossEntropyLoss()
    loss = loss_fn(ours(x), np.array([1, 8]))
    tloss = torch.nn.functional.cross_entropy(theirs(xt), torch.tensor([1, 8]))
    tloss.backward()
    assert abs(loss - tloss.item()) <= 1e-4 * abs(tloss.item())
    ours.zero_grad()
    ours.backward(loss_fn.backward())
    tp = dict(theirs.named_parameters())
    for n, p in ours.named_parameters():
        assert rel_err(p.grad, tp[n].grad.numpy()) <= 1e-3, n


def test_lenet5_training_matches_torch(rng):
    """Same weights, same batches, SGD with momentum and weight decay: the losses of
    the first steps agree within float32 tolerance."""
    theirs = torch_twins.LeNet5(num_classes=4)
    ours = fc.models.lenet5(num_classes=4)
    ours.load_state_dict(theirs.state_dict())
    kw = dict(lr=0.05, momentum=0.9, weight_decay=1e-4)
    opt, topt = optim.SGD(ours.parameters(), **kw), torch.optim.SGD(theirs.parameters(), **kw)
    loss_fn = nn.CrossEntropyLoss()
    x, y = separable_digits(rng, 48)
    for step in range(6):
        xb, yb = x[step * 8:(step + 1) * 8], y[step * 8:(step + 1) * 8]
        loss = loss_fn(ours(xb), yb)
        ours.zero_grad()
        ours.backward(loss_fn.backward())
        opt.step()
        topt.zero_grad()
        tloss = torch.nn.functional.cross_entropy(theirs(torch.tensor(xb)), torch.tensor(yb))
        tloss.backward()
        topt.step()
        assert abs(loss - tloss.item()) <= 1e-4 * max(1.0, abs(tloss.item())), step

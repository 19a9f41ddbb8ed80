"""Xception: Keras's parameter counts, 'same' max pooling, logits and every gradient
against a torch twin (torch_twins.Xception) at Keras's smallest input, 71x71."""
import numpy as np
import pytest

import fastconv as fc
from fastconv import nn
from fastconv.models.xception import MaxPool2dSame, same_pads


def test_parameter_counts():
    m = fc.models.xception()
    assert m.num_parameters() == 22_855_952                     # Keras's trainable count
    stats = sum(b.size for k, b in m.named_buffers() if k.endswith(("_mean", "_var")))
    assert stats == 54_528                                      # its non-trainable ones
    assert fc.models.xception(num_classes=10).num_parameters() == 22_855_952 - 990 * 2049


@pytest.mark.parametrize("size, pads", [(147, (1, 1)), (74, (0, 1)), (37, (1, 1)),
                                        (19, (1, 1)), (5, (1, 1)), (4, (0, 1)), (1, (1, 1))])
def test_same_pads(size, pads):
    # TensorFlow: out = ceil(size / 2), pads total (out - 1) * 2 + 3 - size, extra at the end
    assert same_pads(size, 3, 2) == pads


def test_stage_sizes_at_71(rng):
    m = fc.models.xception(num_classes=5).eval()
    x = rng.standard_normal((1, 3, 71, 71)).astype(np.float32)
    sizes = []
    for stage in m.children():
        x = stage(x)
        sizes.append(x.shape[1:])
    assert sizes[:5] == [(64, 33, 33), (128, 17, 17), (256, 9, 9), (728, 5, 5), (728, 5, 5)]
    assert sizes[12:15] == [(1024, 3, 3), (2048, 3, 3), (2048, 1, 1)]
    assert x.shape == (1, 5)


def test_train_step_and_eval_cache(rng):
    m = fc.models.xception(num_classes=3)
    x = rng.standard_normal((2, 3, 40, 33)).astype(np.float32)
    loss_fn = nn.CrossEntropyLoss()
    loss = loss_fn(m(x), np.array([2, 0]))
    m.zero_grad()
    gx = m.backward(loss_fn.backward())
    assert gx.shape == x.shape and np.isfinite(loss) and np.isfinite(gx).all()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in m.parameters())
    m.eval()
    assert m(x).shape == (2, 3)
    assert all(mod._cache is None for mod in m.modules())


def test_bad_input():
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        fc.models.xception(num_classes=2)(np.zeros((1, 3, 6, 71), np.float32))


# -- against torch ------------------------------------------------------------------------

@pytest.mark.parametrize("hw", [(147, 147), (74, 37), (19, 10), (5, 4), (2, 1), (1, 3)])
def test_max_pool_same_vs_torch(hw, rng):
    """Forward and backward against torch's max pool of the input padded with -inf."""
    torch = pytest.importorskip("torch")
    import torch_twins
    x = rng.standard_normal((2, 3) + hw).astype(np.float32)
    g = rng.standard_normal((2, 3) + tuple(-(-n // 2) for n in hw)).astype(np.float32)
    pool = MaxPool2dSame(3, 2)
    y = pool(x)
    gx = pool.backward(g)
    xt = torch.tensor(x, requires_grad=True)
    yt = torch_twins.max_pool_same(xt)
    yt.backward(torch.tensor(g))
    np.testing.assert_array_equal(y, yt.detach().numpy())
    np.testing.assert_allclose(gx, xt.grad.numpy(), rtol=1e-6, atol=1e-6)


def test_vs_torch(rng):
    """Against the float64 twin (the exact answer for float32 weights), batch 2 at 71x71:
    eval logits; train-mode logits, loss and BatchNorm statistics; then every block's
    backward on the twin's input and a random output gradient (the input gradient and
    every parameter gradient), tightly.

    The whole network's train-mode gradients are compared loosely (relative L2 <= 5%):
    36 BatchNorms in series over 2x5x5 values per channel, with ReLUs whose inputs sit
    within rounding of 0, amplify float32 rounding; measured: fastconv 1.5% worst, torch
    in float32 0.5% to 12% worst (varying with its thread count), each block <= 1e-6."""
    torch = pytest.importorskip("torch")
    import torch_twins
    from test_models_vs_torch import _randomize_bn, rel_err
    torch.manual_seed(0)
    theirs = torch_twins.Xception(num_classes=10)
    _randomize_bn(theirs)
    ours = fc.models.xception(num_classes=10)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())
    theirs = theirs.double()
    x = rng.standard_normal((2, 3, 71, 71)).astype(np.float32)
    x64 = torch.tensor(x, dtype=torch.float64)
    ours.eval(), theirs.eval()
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x64).numpy()) <= 1e-4

    ours.train(), theirs.train()
    labels = np.array([4, 1])
    loss_fn = nn.CrossEntropyLoss()
    logits = ours(x)
    loss = loss_fn(logits, labels)
    block_inputs, h = [], x64
    for i in range(1, 15):                      # the twin's forward, block by block
        block_inputs.append(h.detach())
        h = getattr(theirs, f"block{i}")(h)
    tlogits = theirs.predictions(h.mean((2, 3)))
    tloss = torch.nn.functional.cross_entropy(tlogits, torch.tensor(labels))
    tloss.backward()
    assert rel_err(logits, tlogits.detach().numpy()) <= 1e-4
    assert abs(loss - tloss.item()) <= 1e-4 * abs(tloss.item())
    tsd = theirs.state_dict()
    for k, v in ours.state_dict().items():
        assert rel_err(v, tsd[k].numpy()) <= 1e-4, k
    ours.zero_grad()
    ours.backward(loss_fn.backward())
    tp = dict(theirs.named_parameters())
    for n, p in ours.named_parameters():
        ref = tp[n].grad.numpy()
        assert np.linalg.norm(p.grad - ref) <= 0.05 * np.linalg.norm(ref), n

    for i, xin in enumerate(block_inputs, 1):
        mine, twin = getattr(ours, f"block{i}"), getattr(theirs, f"block{i}")
        xt = xin.clone().requires_grad_()
        twin.zero_grad()
        yt = twin(xt)
        g = rng.standard_normal(tuple(yt.shape))
        yt.backward(torch.tensor(g))
        mine.zero_grad()
        y = mine(xin.float().numpy())
        assert rel_err(y, yt.detach().numpy()) <= 1e-4, i
        gx = mine.backward(g.astype(np.float32))
        assert rel_err(gx, xt.grad.numpy()) <= 1e-4, i
        tpi = dict(twin.named_parameters())
        for n, p in mine.named_parameters():
            assert rel_err(p.grad, tpi[n].grad.numpy()) <= 1e-4, (i, n)

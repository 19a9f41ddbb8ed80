"""fastconv.torch: autograd Functions against torch's own float32 results and
torch.autograd.gradcheck, drop-in modules, convert(), and a few training steps that
give the same losses with and without the adapter."""
import copy
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional
nn = torch.nn
fct = pytest.importorskip("fastconv.torch")


def _close(a, b, scale, tol=2e-5):
    a, b = a.detach(), b.detach()
    assert a.shape == b.shape
    err = (a - b).abs().max().item()
    assert err <= tol * max(scale, 1.0), f"max error {err} (scale {scale})"


def _check_against_torch(ours, ref, inputs, seed=0):
    """Forward and all input gradients of ours(*inputs) against ref(*inputs)."""
    g = torch.Generator().manual_seed(seed)
    a = [t.detach().clone().requires_grad_(t.requires_grad) for t in inputs]
    b = [t.detach().clone().requires_grad_(t.requires_grad) for t in inputs]
    ya, yb = ours(*a), ref(*b)
    scale = yb.abs().max().item()
    _close(ya, yb, scale)
    gy = torch.randn(yb.shape, generator=g)
    ya.backward(gy)
    yb.backward(gy)
    for ta, tb in zip(a, b):
        if tb.requires_grad:
            _close(ta.grad, tb.grad, tb.grad.abs().max().item())


def _r(*shape, grad=True, seed=0):
    g = torch.Generator().manual_seed(seed + sum(shape))
    return torch.randn(*shape, generator=g).requires_grad_(grad)


CONV = [
    # (N, C, H, W, K, R, S, stride, padding, dilation, groups)
    (2, 3, 9, 7, 5, 3, 3, 1, 1, 1, 1),
    (1, 4, 11, 10, 6, 3, 2, 2, (1, 0), (1, 2), 2),
    (3, 8, 8, 8, 16, 1, 1, 1, 0, 1, 1),
    (1, 3, 7, 9, 4, 5, 5, 1, "same", 1, 1),
]


@pytest.mark.parametrize("case", CONV)
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_matches_torch(case, bias):
    N, C, H, W, K, R, S, st, pad, dil, g = case
    x, w = _r(N, C, H, W), _r(K, C // g, R, S)
    b = _r(K) if bias else None
    args = (st, pad, dil, g)
    if b is None:
        _check_against_torch(lambda x, w: fct.conv2d(x, w, None, *args),
                             lambda x, w: F.conv2d(x, w, None, *args), [x, w])
    else:
        _check_against_torch(lambda x, w, b: fct.conv2d(x, w, b, *args),
                             lambda x, w, b: F.conv2d(x, w, b, *args), [x, w, b])


@pytest.mark.parametrize("case", [(2, 4, 9, 8, 1, 3, 3, 1, 1, 1), (1, 3, 10, 11, 2, 3, 5, 2, (1, 2), 2)])
def test_depthwise_matches_torch(case):
    N, C, H, W, m, R, S, st, pad, dil = case
    x, w, b = _r(N, C, H, W), _r(C * m, 1, R, S), _r(C * m)
    _check_against_torch(lambda x, w, b: fct.depthwise_conv2d(x, w, b, st, pad, dil),
                         lambda x, w, b: F.conv2d(x, w, b, st, pad, dil, C), [x, w, b])


@pytest.mark.parametrize("case", [
    # (N, C, H, W, K, R, S, stride, padding, output_padding, groups, dilation)
    (2, 3, 5, 6, 4, 3, 3, 2, 1, 1, 1, 1),
    (1, 4, 4, 5, 6, 2, 3, (2, 3), (0, 1), (1, 2), 2, 1),
    (1, 2, 6, 6, 3, 3, 3, 1, 2, 0, 1, 2),
])
def test_conv_transpose2d_matches_torch(case):
    N, C, H, W, K, R, S, st, pad, op, g, dil = case
    x, w, b = _r(N, C, H, W), _r(C, K // g, R, S), _r(K)
    args = (st, pad, op, g, dil)
    _check_against_torch(lambda x, w, b: fct.conv_transpose2d(x, w, b, *args),
                         lambda x, w, b: F.conv_transpose2d(x, w, b, *args), [x, w, b])


@pytest.mark.parametrize("args", [(2,), (3, 2, 1), (3, 2, 1, 2, True), ((2, 3), (1, 2), (1, 1), 1, True)])
def test_max_pool2d_matches_torch(args):
    x = _r(2, 3, 11, 10)
    _check_against_torch(lambda x: fct.max_pool2d(x, *args), lambda x: F.max_pool2d(x, *args), [x])
    y, i = fct.max_pool2d(x, *args, return_indices=True)
    yt, it = F.max_pool2d(x, *args, return_indices=True)
    assert torch.equal(i, it) and i.requires_grad is False


@pytest.mark.parametrize("args", [(2,), (3, 2, 1), (3, 2, 1, True, False), ((2, 3), (1, 2), (1, 1), True, True)])
def test_avg_pool2d_matches_torch(args):
    x = _r(2, 3, 11, 10)
    _check_against_torch(lambda x: fct.avg_pool2d(x, *args), lambda x: F.avg_pool2d(x, *args), [x])


def test_global_avg_pool_matches_torch():
    x = _r(2, 5, 7, 6)
    _check_against_torch(fct.global_avg_pool2d, lambda x: F.adaptive_avg_pool2d(x, 1), [x])


@pytest.mark.filterwarnings("ignore:Input #:UserWarning")
def test_gradcheck_on_small_shapes():
    # The kernels are float32: central differences with eps 1e-2 on these piecewise
    # linear ops are exact up to float32 rounding, hence the relaxed tolerances.
    kw = dict(eps=1e-2, atol=1e-2, rtol=1e-2, fast_mode=True)
    x, w, b = _r(1, 2, 5, 4), _r(3, 2, 3, 2), _r(3)
    assert torch.autograd.gradcheck(lambda x, w, b: fct.conv2d(x, w, b, 2, 1), (x, w, b), **kw)
    wt = _r(2, 3, 3, 3)
    assert torch.autograd.gradcheck(lambda x, w, b: fct.conv_transpose2d(x, w, b, 2, 1, 1),
                                    (x, wt, b), **kw)
    wd, bd = _r(4, 1, 3, 3), _r(4)
    assert torch.autograd.gradcheck(lambda x, w, b: fct.depthwise_conv2d(x, w, b, 1, 1),
                                    (x, wd, bd), **kw)
    # Distinct values a step apart: eps never moves a maximum to another element.
    xp = (torch.randperm(40, generator=torch.Generator().manual_seed(3)).float() * 0.1)
    xp = xp.reshape(1, 2, 5, 4).requires_grad_()
    assert torch.autograd.gradcheck(lambda x: fct.max_pool2d(x, 2, 1, 1), (xp,), **kw)
    assert torch.autograd.gradcheck(lambda x: fct.avg_pool2d(x, 3, 2, 1, True, False), (x,), **kw)


def test_non_float32_or_non_cpu_is_a_type_error():
    with pytest.raises(TypeError, match="float32 CPU tensor"):
        fct.conv2d(torch.ones(1, 1, 3, 3, dtype=torch.float64), torch.ones(1, 1, 1, 1))


def test_output_shares_memory_with_kernel_result_and_input_is_not_copied():
    x = torch.randn(1, 2, 6, 6)
    # The adapter hands the tensor's own memory to the kernel (DLPack, no copy).
    from fastconv.functional import _args
    assert np.shares_memory(_args.as_float32(x, "x", "t"), x.numpy())
    y = fct.max_pool2d(x, 2)
    assert y.dtype == torch.float32 and y.is_contiguous()


def _small_cnn():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2),                                       # 8x8
        nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.ReLU(),    # depthwise
        nn.ConvTranspose2d(8, 6, 2, stride=2), nn.ReLU(),      # 16x16
        nn.AvgPool2d(3, 2, 1, count_include_pad=False),         # 8x8
        nn.Conv2d(6, 10, 3, stride=2, padding="valid"),        # 3x3
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(10, 4),
    )


def test_convert_replaces_modules_and_shares_parameters():
    ref = _small_cnn()
    model = fct.convert(copy.deepcopy(ref))
    kinds = [type(m) for m in model]
    assert kinds[:9] == [fct.Conv2d, nn.ReLU, fct.MaxPool2d, fct.Conv2d, nn.ReLU,
                         fct.ConvTranspose2d, nn.ReLU, fct.AvgPool2d, fct.Conv2d]
    assert kinds[9] is fct.GlobalAvgPool2d and kinds[11] is nn.Linear
    assert model.state_dict().keys() == ref.state_dict().keys()
    # Parameters are the very same objects after conversion.
    m = _small_cnn()
    before = list(m.parameters())
    fct.convert(m)
    assert all(a is b for a, b in zip(before, m.parameters()))
    # inplace=False leaves the original alone.
    m2 = _small_cnn()
    out = fct.convert(m2, inplace=False)
    assert type(m2[0]) is nn.Conv2d and type(out[0]) is fct.Conv2d
    # Options fastconv lacks stay on torch.
    keep = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1, padding_mode="reflect"),
                         nn.AvgPool2d(2, divisor_override=3))
    fct.convert(keep)
    assert type(keep[0]) is nn.Conv2d and type(keep[1]) is nn.AvgPool2d


def test_training_with_and_without_adapter_gives_the_same_losses():
    g = torch.Generator().manual_seed(1)
    data = torch.randn(8, 3, 16, 16, generator=g)
    target = torch.randint(0, 4, (8,), generator=g)
    runs = []
    for use in (False, True):
        model = _small_cnn()
        if use:
            fct.convert(model)
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        losses = []
        for step in range(6):
            loss = F.cross_entropy(model(data), target)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        runs.append((losses, [p.detach().clone() for p in model.parameters()]))
    (l0, p0), (l1, p1) = runs
    assert l0[-1] < l0[0]               # it does learn
    np.testing.assert_allclose(l1, l0, rtol=1e-4, atol=1e-5)
    for a, b in zip(p0, p1):
        _close(a, b, b.abs().max().item(), tol=1e-4)


def test_convtranspose_module_output_size():
    torch.manual_seed(0)
    m = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1)
    f = fct.convert(copy.deepcopy(m))
    x = torch.randn(1, 3, 5, 5)
    _close(f(x, output_size=(10, 10)), m(x, output_size=(10, 10)), 1.0)


def test_importing_fastconv_does_not_import_torch_or_onnx():
    code = "import sys, fastconv; assert 'torch' not in sys.modules and 'onnx' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_convert_root_module_and_inference_mode():
    conv = nn.Conv2d(2, 3, 3, padding=1)
    new = fct.convert(conv)
    assert type(new) is fct.Conv2d and new.weight is conv.weight
    x = torch.randn(1, 2, 5, 5)
    with torch.no_grad():
        _close(new(x), conv(x), 1.0)


def test_double_backward_is_refused_not_wrong():
    x = _r(1, 1, 4, 4)
    w = _r(1, 1, 3, 3)
    y = fct.conv2d(x, w, padding=1).square().sum()
    (gx,) = torch.autograd.grad(y, x, create_graph=True)
    with pytest.raises(RuntimeError, match="once_differentiable|twice"):
        gx.sum().backward()

"""fastconv.amp.autocast: layers that autocast (Conv2d, ConvTranspose2d, DepthwiseConv2d,
Linear) compute on 16-bit-rounded inputs, weights and bias and round their output; their
backward rounds the incoming gradient and the gradients it returns; every layer's
activations are cached in the 16-bit dtype; parameters, gradients and optimizer state
stay float32; BatchNorm and losses stay float32; the state is per thread. Checked on
every ISA path against the 16-bit functional ops and against torch's CPU autocast."""
import threading

import numpy as np
import pytest

import fastconv as fc
from fastconv import amp, nn, optim

ml_dtypes = pytest.importorskip("ml_dtypes")
BF16 = np.dtype(ml_dtypes.bfloat16)
DTYPES = {"bfloat16": BF16, "float16": np.dtype(np.float16)}


def r16(a, dtype):
    return np.asarray(a, np.float32).astype(dtype).astype(np.float32)


LAYERS = [
    ("Conv2d", lambda: nn.Conv2d(3, 5, 3, padding=1), (2, 3, 7, 9),
     lambda x, w, b: fc.conv2d(x, w, b, padding=1),
     lambda g, x, w: fc.conv2d_backward(g, x, w, padding=1)),
    ("ConvTranspose2d", lambda: nn.ConvTranspose2d(3, 4, 3, stride=2), (2, 3, 5, 4),
     lambda x, w, b: fc.conv_transpose2d(x, w, b, stride=2),
     lambda g, x, w: fc.conv_transpose2d_backward(g, x, w, stride=2)),
    ("DepthwiseConv2d", lambda: nn.DepthwiseConv2d(6, 3, padding=1), (2, 6, 8, 7),
     lambda x, w, b: fc.depthwise_conv2d(x, w, b, padding=1),
     lambda g, x, w: fc.depthwise_conv2d_backward(g, x, w, padding=1)),
]


@pytest.mark.parametrize("name,make,shape,fwd,bwd", LAYERS, ids=[c[0] for c in LAYERS])
@pytest.mark.parametrize("kind", DTYPES)
def test_conv_layers_equal_the_16bit_ops(isa, kind, name, make, shape, fwd, bwd, rng):
    dtype = DTYPES[kind]
    layer = make()
    x = rng.standard_normal(shape).astype(np.float32)
    w, b = layer.weight.data.copy(), layer.bias.data.copy()
    with amp.autocast(kind):
        y = layer(x)
    assert y.dtype == np.float32
    want = fwd(x.astype(dtype), w.astype(dtype), b.astype(dtype))
    np.testing.assert_array_equal(y, want.astype(np.float32))
    g = rng.standard_normal(y.shape).astype(np.float32)
    gx = layer.backward(g)                      # outside the context, as with torch
    wgx, wgw, wgb = bwd(g.astype(dtype), x.astype(dtype), w.astype(dtype))
    np.testing.assert_array_equal(gx, wgx.astype(np.float32))
    np.testing.assert_array_equal(layer.weight.grad, wgw.astype(np.float32))
    np.testing.assert_array_equal(layer.bias.grad, wgb.astype(np.float32))
    for p in (layer.weight, layer.bias):        # master weights
        assert p.data.dtype == np.float32 and p.grad.dtype == np.float32
    np.testing.assert_array_equal(layer.weight.data, w)


@pytest.mark.parametrize("kind", DTYPES)
def test_linear_equals_the_16bit_matmul(isa, kind, rng):
    dtype = DTYPES[kind]
    layer = nn.Linear(37, 11)
    x = rng.standard_normal((3, 4, 37)).astype(np.float32)
    w, b = layer.weight.data, layer.bias.data
    with amp.autocast(kind):
        y = layer(x)
    x16, w16 = x.reshape(-1, 37).astype(dtype), w.astype(dtype)
    # the float32 product of the rounded operands, plus the rounded bias, rounded once
    prod = fc.matmul(r16(x, dtype).reshape(-1, 37), r16(w, dtype).T)
    want = r16(prod + r16(b, dtype), dtype).reshape(3, 4, 11)
    np.testing.assert_array_equal(y, want)
    g = rng.standard_normal(y.shape).astype(np.float32)
    with amp.autocast(kind):
        gx = layer.backward(g)
    g16 = g.reshape(-1, 11).astype(dtype)
    np.testing.assert_array_equal(layer.weight.grad, fc.matmul(g16.T, x16).astype(np.float32))
    np.testing.assert_array_equal(gx.reshape(-1, 37), fc.matmul(g16, w16).astype(np.float32))


def test_activations_are_cached_in_16bit_and_shared(rng):
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.Conv2d(8, 4, 3, padding=1))
    x = rng.standard_normal((2, 3, 10, 10)).astype(np.float32)
    model.train()
    with amp.autocast("bfloat16"):
        model(x)
    conv1, bn, relu, conv2 = model[0], model[1], model[2], model[3]
    assert type(relu._cache).__name__ == "_FusedCache"     # ran inside the BatchNorm
    for m in (conv1, bn, conv2):
        c = m._cache
        halves = [v.a for v in c[1] if isinstance(v, amp._Half)]
        assert halves and all(h.dtype == BF16 for h in halves), type(m).__name__
    # BatchNorm's statistics stay float32 in its cache
    stats = [v for v in bn._cache[1] if isinstance(v, np.ndarray)]
    assert stats and all(s.dtype == np.float32 for s in stats)
    # the fused BatchNorm-ReLU's output and the next convolution's input: one 16-bit copy
    assert bn._cache[1][3].a is conv2._cache[1][0].a
    # BatchNorm's input (a rounded convolution output) is stored losslessly
    model.backward(np.ones((2, 4, 10, 10), np.float32))
    assert bn.running_mean.dtype == np.float32


def test_eval_mode_keeps_nothing_and_off_is_float32(rng):
    layer = nn.Conv2d(2, 3, 3)
    x = rng.standard_normal((1, 2, 6, 6)).astype(np.float32)
    ref = layer(x)
    assert type(layer._cache) is not amp._Saved
    layer.backward(np.ones_like(ref))
    with amp.autocast("bfloat16", enabled=False):
        np.testing.assert_array_equal(layer(x), ref)
    layer.eval()
    with amp.autocast("bfloat16"):
        y = layer(x)
    assert layer._cache is None
    assert np.array_equal(y, r16(y, BF16)) and not np.array_equal(y, ref)


def test_state_is_per_thread_and_nests():
    assert not amp.is_autocast_enabled()
    seen = []
    with amp.autocast("bfloat16"):
        t = threading.Thread(target=lambda: seen.append(amp.is_autocast_enabled()))
        t.start()
        t.join()
        assert amp.get_autocast_dtype() == BF16
        with amp.autocast("float16"):
            assert amp.get_autocast_dtype() == np.float16
            with amp.autocast(enabled=False):
                assert not amp.is_autocast_enabled()
            assert amp.get_autocast_dtype() == np.float16
        assert amp.get_autocast_dtype() == BF16
    assert seen == [False] and amp.get_autocast_dtype() is None

    @amp.autocast("float16")
    def inside():
        return amp.get_autocast_dtype()
    assert inside() == np.float16 and not amp.is_autocast_enabled()


def test_bad_arguments():
    with pytest.raises(ValueError, match="'bfloat16' or 'float16'"):
        amp.autocast("int8")
    with pytest.raises(TypeError, match="enabled must be a bool"):
        amp.autocast("bfloat16", enabled=1)


def test_training_keeps_master_weights_and_optimizer_state_float32(rng):
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    opt = optim.Adam(model.parameters(), lr=1e-2)
    loss_fn = nn.CrossEntropyLoss()
    x = rng.standard_normal((5, 1, 8, 8)).astype(np.float32)
    y = np.array([0, 1, 2, 0, 1])
    losses = []
    for _ in range(20):
        with amp.autocast("bfloat16"):
            losses.append(loss_fn(model(x), y))
        model.zero_grad()
        model.backward(loss_fn.backward())
        opt.step()
    assert losses[-1] < 0.5 * losses[0]
    for p in model.parameters():
        assert p.data.dtype == np.float32 and p.grad.dtype == np.float32
        # the master weights are not confined to 16-bit values
        assert not np.array_equal(p.data, r16(p.data, BF16))
    for st in opt.state.values() if isinstance(opt.state, dict) else []:
        for v in (st.values() if isinstance(st, dict) else []):
            if isinstance(v, np.ndarray):
                assert v.dtype == np.float32


def test_conv_and_linear_agree_with_torch_autocast(rng):
    torch = pytest.importorskip("torch")
    conv = nn.Conv2d(16, 24, 3, padding=1)
    lin = nn.Linear(24 * 6 * 6, 10)
    tconv = torch.nn.Conv2d(16, 24, 3, padding=1)
    tlin = torch.nn.Linear(24 * 6 * 6, 10)
    with torch.no_grad():
        for m, t in ((conv, tconv), (lin, tlin)):
            t.weight.copy_(torch.tensor(m.weight.data))
            t.bias.copy_(torch.tensor(m.bias.data))
    x = rng.standard_normal((3, 16, 6, 6)).astype(np.float32)
    with amp.autocast("bfloat16"):
        y = conv(x)
        z = lin(y.reshape(3, -1))
    with torch.autocast("cpu", dtype=torch.bfloat16), torch.no_grad():
        ty = tconv(torch.tensor(x))
        tz = tlin(ty.reshape(3, -1))
    assert ty.dtype == torch.bfloat16
    # both round the same bf16 products accumulated in float32 once: one bf16 ulp apart at
    # most (the float32 sums differ in order), relative to the output's magnitude
    ty, tz = ty.float().numpy(), tz.float().numpy()
    assert np.max(np.abs(y - ty) / np.maximum(np.abs(ty), 1e-3)) <= 2.0**-7
    assert np.max(np.abs(z - tz)) <= 2.0**-7 * np.max(np.abs(tz))

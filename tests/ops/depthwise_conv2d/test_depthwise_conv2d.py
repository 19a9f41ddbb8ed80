"""depthwise_conv2d and its backward against the float64 reference (conv2d_ref with
groups=C), every ISA path; conv2d's dispatch to it; PyTorch cross-checks; bad input."""
import numpy as np
import pytest

import fastconv
from conv_cases import PASSES, conv_out_shape, padding_arg
from reference import assert_close, conv2d_backward_ref, conv2d_ref


def random_dw_cases(count, seed):
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        C, m, N = int(rng.choice([1, 2, 3, 5, 17])), int(rng.choice([1, 1, 2, 3])), int(rng.choice([1, 1, 2, 3]))
        R, S = int(rng.integers(1, 6)), int(rng.integers(1, 6))
        stride = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        dilation = (int(rng.choice([1, 1, 2])), int(rng.choice([1, 1, 2, 3])))
        pads = tuple(int(p) for p in rng.integers(0, 4, size=4))
        H, W = int(rng.integers(1, 20)), int(rng.integers(1, 70))
        if (R - 1) * dilation[0] + 1 > H + pads[0] + pads[1]:
            continue
        if (S - 1) * dilation[1] + 1 > W + pads[2] + pads[3]:
            continue
        cases.append(dict(x_shape=(N, C, H, W), w_shape=(C * m, 1, R, S), stride=stride,
                          pads=pads, dilation=dilation))
    return cases


def case_id(c):
    return (f"x{'x'.join(map(str, c['x_shape']))}-w{'x'.join(map(str, c['w_shape']))}"
            f"-s{c['stride'][0]}{c['stride'][1]}-p{''.join(map(str, c['pads']))}"
            f"-d{c['dilation'][0]}{c['dilation'][1]}")


CASES = random_dw_cases(24, seed=99) + [
    # wide rows (full 4-vector tiles plus tails), the benchmark's stride-2 pattern,
    # pads larger than the effective kernel (backward drops grad rows), 1x1
    dict(x_shape=(2, 3, 5, 131), w_shape=(3, 1, 3, 3), stride=(1, 1), pads=(1, 1, 1, 1), dilation=(1, 1)),
    dict(x_shape=(1, 4, 12, 35), w_shape=(8, 1, 3, 3), stride=(2, 2), pads=(1, 1, 1, 1), dilation=(1, 1)),
    dict(x_shape=(1, 2, 6, 9), w_shape=(2, 1, 2, 2), stride=(1, 2), pads=(3, 2, 3, 1), dilation=(1, 1)),
    dict(x_shape=(2, 3, 7, 21), w_shape=(6, 1, 1, 1), stride=(1, 1), pads=(0, 0, 0, 0), dilation=(1, 1)),
    dict(x_shape=(1, 1, 9, 40), w_shape=(1, 1, 1, 19), stride=(1, 1), pads=(0, 0, 9, 9), dilation=(1, 1)),
    # the fixed 5x5 kernel (stride 1 and 2, tails, 7x7 maps) and the even/odd row split
    # of stride-2 packing with every parity of left pad and width; many (image,
    # channel) tasks per thread, which reuse their buffer's zero borders
    dict(x_shape=(2, 9, 7, 7), w_shape=(9, 1, 5, 5), stride=(1, 1), pads=(2, 2, 2, 2), dilation=(1, 1)),
    dict(x_shape=(2, 5, 13, 37), w_shape=(5, 1, 5, 5), stride=(2, 2), pads=(2, 1, 2, 3), dilation=(1, 1)),
    dict(x_shape=(3, 7, 11, 30), w_shape=(14, 1, 5, 5), stride=(2, 2), pads=(1, 2, 1, 0), dilation=(1, 1)),
    dict(x_shape=(2, 6, 9, 19), w_shape=(6, 1, 3, 3), stride=(2, 2), pads=(0, 1, 0, 1), dilation=(1, 1)),
    dict(x_shape=(1, 4, 6, 8), w_shape=(4, 1, 3, 5), stride=(1, 2), pads=(1, 1, 3, 0), dilation=(1, 2)),
    dict(x_shape=(2, 3, 10, 25), w_shape=(3, 1, 5, 5), stride=(3, 3), pads=(2, 2, 2, 2), dilation=(1, 1)),
]


def check_case(c, rng, pass_, via_conv2d=False):
    """One pass of one case (draws as in the combined check: x, w, b, then grad_out)."""
    x = rng.standard_normal(c["x_shape"]).astype(np.float32)
    w = rng.standard_normal(c["w_shape"]).astype(np.float32)
    b = rng.standard_normal(c["w_shape"][0]).astype(np.float32)
    C = c["x_shape"][1]
    args = dict(stride=c["stride"], padding=padding_arg(c["pads"]), dilation=c["dilation"])
    rargs = (c["stride"], c["pads"], c["dilation"], C)
    _, _, R, S = c["w_shape"]
    if pass_ == "forward":
        if via_conv2d:
            y = fastconv.conv2d(x, w, b, groups=C, **args)
        else:
            y = fastconv.depthwise_conv2d(x, w, b, **args)
        ref = conv2d_ref(x, w, b, *rargs)
        absref = conv2d_ref(np.abs(x), np.abs(w), np.abs(b), *rargs)
        assert_close(y, ref, absref, R * S + 1, what="forward")
        return

    out_shape = conv_out_shape(c["x_shape"], c["w_shape"], c["stride"], c["pads"], c["dilation"])
    gy = rng.standard_normal(out_shape).astype(np.float32)
    if via_conv2d:
        gx, gw, gb = fastconv.conv2d_backward(gy, x, w, groups=C, **args)
    else:
        gx, gw, gb = fastconv.depthwise_conv2d_backward(gy, x, w, **args)
    rgx, rgw, rgb = conv2d_backward_ref(gy, x, w, *rargs)
    agx, agw, agb = conv2d_backward_ref(np.abs(gy), np.abs(x), np.abs(w), *rargs)
    N, K, OH, OW = out_shape
    if pass_ == "backward_data":
        assert_close(gx, rgx, agx, (K // C) * R * S, what="grad_x")
    else:
        assert pass_ == "backward_weights", pass_
        assert_close(gw, rgw, agw, N * OH * OW, what="grad_weight")
        assert_close(gb, rgb, agb, N * OH * OW, what="grad_bias")


@pytest.mark.parametrize("pass_", PASSES)
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_random_sweep(isa, case, pass_, rng):
    check_case(case, rng, pass_)


@pytest.mark.parametrize("pass_", PASSES)
@pytest.mark.parametrize("case", CASES[:6], ids=case_id)
def test_conv2d_groups_c_dispatches_to_depthwise(case, pass_, rng):
    check_case(case, rng, pass_, via_conv2d=True)


def test_conv2d_depthwise_matches_direct(rng):
    x = rng.standard_normal((2, 6, 11, 19)).astype(np.float32)
    w = rng.standard_normal((12, 1, 3, 3)).astype(np.float32)
    a = fastconv.conv2d(x, w, stride=2, padding=1, groups=6)
    d = fastconv.conv2d(x, w, stride=2, padding=1, groups=6, algorithm="direct")
    np.testing.assert_allclose(a, d, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("pass_", PASSES)
@pytest.mark.parametrize("threads", [1, 3])
def test_thread_counts(threads, pass_, rng):
    # 3 threads for 2 (image, channel) tasks: one thread's partial sums stay empty.
    before = fastconv.get_num_threads()
    fastconv.set_num_threads(threads)
    try:
        check_case(dict(x_shape=(1, 2, 9, 10), w_shape=(4, 1, 3, 3), stride=(1, 1),
                        pads=(1, 1, 1, 1), dilation=(1, 1)), rng, pass_)
    finally:
        fastconv.set_num_threads(before)


def test_unread_inf_stays_out_of_weight_grad(isa):
    # Stride 2 over W=10 with a 1x1 kernel never reads column 9; its inf must not
    # leak into grad_weight through the partial vector at the end of the row.
    x = np.ones((1, 1, 3, 10), np.float32)
    x[:, :, :, 9] = np.inf
    w = np.ones((1, 1, 1, 1), np.float32)
    gy = np.ones((1, 1, 2, 5), np.float32)
    gx, gw, gb = fastconv.depthwise_conv2d_backward(gy, x, w, stride=2)
    assert gw[0, 0, 0, 0] == 10.0 and gb[0] == 10.0


def test_nan_propagates(isa):
    x = np.ones((1, 2, 6, 6), np.float32)
    x[0, 1, 2, 3] = np.nan
    y = fastconv.depthwise_conv2d(x, np.ones((2, 1, 3, 3), np.float32))
    assert np.isnan(y[0, 1, 0:3, 1:4]).all()
    assert np.isfinite(y[0, 0]).all() and np.isfinite(y[0, 1, 3:]).all()


@pytest.mark.filterwarnings("ignore:Using padding=.same.")
@pytest.mark.parametrize("pass_", PASSES)
def test_same_padding_and_torch(pass_, rng):
    torch = pytest.importorskip("torch")
    for stride, dilation in [(1, 1), (1, 2)]:
        x = rng.standard_normal((2, 4, 10, 13)).astype(np.float32)
        w = rng.standard_normal((8, 1, 4, 3)).astype(np.float32)
        xt = torch.from_numpy(x).requires_grad_()
        wt = torch.from_numpy(w).requires_grad_()
        yt = torch.nn.functional.conv2d(xt, wt, None, stride, "same", dilation, 4)
        # every pass draws grad_out too, so that the next round's data are the same
        gy = rng.standard_normal(tuple(yt.shape)).astype(np.float32)
        if pass_ == "forward":
            y = fastconv.depthwise_conv2d(x, w, stride=stride, padding="same", dilation=dilation)
            np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-4, atol=1e-4)
            continue
        yt.backward(torch.from_numpy(gy))
        gx, gw, _ = fastconv.depthwise_conv2d_backward(gy, x, w, stride=stride, padding="same",
                                                       dilation=dilation)
        if pass_ == "backward_data":
            np.testing.assert_allclose(gx, xt.grad.numpy(), rtol=1e-4, atol=1e-4)
        else:
            np.testing.assert_allclose(gw, wt.grad.numpy(), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("pass_", PASSES)
@pytest.mark.parametrize("case", CASES[:8], ids=case_id)
def test_matches_torch(case, pass_, rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal(case["x_shape"]).astype(np.float32)
    w = rng.standard_normal(case["w_shape"]).astype(np.float32)
    b = rng.standard_normal(case["w_shape"][0]).astype(np.float32)
    t, bo, l, r = case["pads"]
    xt = torch.nn.functional.pad(torch.from_numpy(x), (l, r, t, bo)).requires_grad_()
    wt = torch.from_numpy(w).requires_grad_()
    bt = torch.from_numpy(b).requires_grad_()
    yt = torch.nn.functional.conv2d(xt, wt, bt, case["stride"], 0, case["dilation"], x.shape[1])
    args = dict(stride=case["stride"], padding=padding_arg(case["pads"]), dilation=case["dilation"])
    if pass_ == "forward":
        y = fastconv.depthwise_conv2d(x, w, b, **args)
        np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-4, atol=1e-4)
        return
    gy = rng.standard_normal(tuple(yt.shape)).astype(np.float32)
    yt.backward(torch.from_numpy(gy))
    gx, gw, gb = fastconv.depthwise_conv2d_backward(gy, x, w, **args)
    if pass_ == "backward_data":
        np.testing.assert_allclose(gx, xt.grad.numpy()[:, :, t:t + x.shape[2], l:l + x.shape[3]],
                                   rtol=1e-4, atol=1e-4)
    else:
        np.testing.assert_allclose(gw, wt.grad.numpy(), rtol=1e-4, atol=1e-3)
        np.testing.assert_allclose(gb, bt.grad.numpy(), rtol=1e-4, atol=1e-3)


X = np.zeros((2, 4, 8, 8), np.float32)
W = np.zeros((8, 1, 3, 3), np.float32)


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(x=np.zeros((4, 8, 8), np.float32)), ValueError, r"x to be 4-D \(N, C, H, W\)"),
    (dict(weight=np.zeros((8, 1, 3), np.float32)), ValueError, r"weight to be 4-D"),
    (dict(weight=np.zeros((8, 2, 3, 3), np.float32)), ValueError,
     r"weight of shape \(C\*multiplier, 1, R, S\) with C=4 .* got \(8, 2, 3, 3\)"),
    (dict(weight=np.zeros((6, 1, 3, 3), np.float32)), ValueError, r"with C=4"),
    (dict(stride=0), ValueError, r"stride must be >= 1"),
    (dict(dilation=(1, 0)), ValueError, r"dilation must be >= 1"),
    (dict(padding=-1), ValueError, r"padding must be >= 0"),
    (dict(padding="full"), ValueError, r"padding must be an int, a pair, 'same' or 'valid'"),
    (dict(weight=np.zeros((8, 1, 9, 3), np.float32)), ValueError, r"effective height 9"),
    (dict(bias=np.zeros(4, np.float32)), ValueError, r"bias of shape \(8,\)"),
    (dict(x=np.zeros((2, 4, 8, 8), np.complex64)), TypeError, r"x must hold real numbers"),
    (dict(stride=1.5), TypeError, r"stride must be an int"),
    (dict(padding=2**62), ValueError, r"more than fastconv can index"),
])
def test_rejects(kwargs, exc, match):
    args = dict(x=X, weight=W)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        fastconv.depthwise_conv2d(**args)


def test_backward_rejects_wrong_grad_shape():
    with pytest.raises(ValueError, match=r"grad_out of shape \(2, 8, 6, 6\)"):
        fastconv.depthwise_conv2d_backward(np.zeros((2, 4, 6, 6), np.float32), X, W)


def test_batch_zero_forward():
    y = fastconv.depthwise_conv2d(np.zeros((0, 4, 8, 8), np.float32), W)
    assert y.shape == (0, 8, 6, 6)


def test_batch_zero_backward():
    gx, gw, gb = fastconv.depthwise_conv2d_backward(np.zeros((0, 8, 6, 6), np.float32),
                                                    np.zeros((0, 4, 8, 8), np.float32), W)
    assert gx.shape == (0, 4, 8, 8) and not gw.any() and not gb.any()

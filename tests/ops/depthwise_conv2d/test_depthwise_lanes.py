"""The depthwise forward with channels in the vector lanes (conv/depthwise.c,
run_forward_lanes): output rows of at most 8 columns, one output channel per input
channel; its backward-weights over the same transposed input; and the stride-1
backward-data as that forward of grad_y with the taps turned around (input rows of at
most 8 columns, padding up to the kernel's extent). Against
the float64 reference on every ISA path (4, 8 or 16 lanes) and 1-3 threads: channel
counts that fill no whole vector, strides, dilations, asymmetric and large paddings,
kernels up to 5x5 and 1x1, bias; the fused epilogue through conv2d; and where the route
is taken (the test hook counts its runs)."""
import numpy as np
import pytest

import fastconv
from conv_cases import padding_arg
from library_hooks import run_counter
from reference import assert_close, conv2d_backward_ref, conv2d_ref

from .test_depthwise_conv2d import case_id

_runs = run_counter("fc_depthwise_lanes_runs")


def _cases(count, seed, backward_data=False):
    """Random cases the forward's route serves (8 output columns at most), or the
    backward-data's (stride 1, 8 input columns at most, padding up to the extent)."""
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        C, N = int(rng.choice([1, 3, 5, 17, 33, 40])), int(rng.choice([1, 2, 3]))
        R, S = int(rng.integers(1, 6)), int(rng.integers(1, 6))
        stride = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        dilation = (int(rng.choice([1, 1, 2])), int(rng.choice([1, 1, 2])))
        pads = tuple(int(p) for p in rng.integers(0, 4, size=4))
        H, W = int(rng.integers(1, 16)), int(rng.integers(1, 16))
        eh, ew = (R - 1) * dilation[0] + 1, (S - 1) * dilation[1] + 1
        if eh > H + pads[0] + pads[1] or ew > W + pads[2] + pads[3]:
            continue
        if backward_data:
            stride = (1, 1)
            if W > 8 or max(pads[:2]) > eh - 1 or max(pads[2:]) > ew - 1:
                continue
        elif (W + pads[2] + pads[3] - ew) // stride[1] + 1 > 8:   # the route's 8 columns
            continue
        cases.append(dict(x_shape=(N, C, H, W), w_shape=(C, 1, R, S), stride=stride,
                          pads=pads, dilation=dilation))
    return cases


CASES = _cases(24, seed=7331) + [
    # MobileNet's 7x7 layers scaled down in channels, a stride-2 14x14 map, 1x1
    dict(x_shape=(2, 20, 7, 7), w_shape=(20, 1, 3, 3), stride=(1, 1), pads=(1, 1, 1, 1),
         dilation=(1, 1)),
    dict(x_shape=(1, 24, 7, 7), w_shape=(24, 1, 5, 5), stride=(1, 1), pads=(2, 2, 2, 2),
         dilation=(1, 1)),
    dict(x_shape=(3, 9, 14, 14), w_shape=(9, 1, 3, 3), stride=(2, 2), pads=(1, 1, 1, 1),
         dilation=(1, 1)),
    dict(x_shape=(1, 18, 5, 6), w_shape=(18, 1, 1, 1), stride=(1, 1), pads=(0, 0, 0, 0),
         dilation=(1, 1)),
]


def _forward(c, rng, **kw):
    x = rng.standard_normal(c["x_shape"]).astype(np.float32)
    w = rng.standard_normal(c["w_shape"]).astype(np.float32)
    b = rng.standard_normal(c["w_shape"][0]).astype(np.float32)
    args = dict(stride=c["stride"], padding=padding_arg(c["pads"]), dilation=c["dilation"])
    before = _runs()
    if kw:   # the epilogue: conv2d's (groups = C > 1 runs the depthwise kernels)
        y = fastconv.conv2d(x, w, b, groups=c["x_shape"][1], **args, **kw)
    else:
        y = fastconv.depthwise_conv2d(x, w, b, **args)
    took = _runs() - before
    rargs = (c["stride"], c["pads"], c["dilation"], c["x_shape"][1])
    return x, w, b, y, took, rargs


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_matches_reference(isa, threads, case, rng):
    x, w, b, y, took, rargs = _forward(case, rng)
    assert took == 1
    _, _, R, S = case["w_shape"]
    assert_close(y, conv2d_ref(x, w, b, *rargs), conv2d_ref(np.abs(x), np.abs(w), np.abs(b),
                                                           *rargs), R * S + 1, what="forward")


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_backward_weights_matches_reference(isa, threads, case, rng):
    x = rng.standard_normal(case["x_shape"]).astype(np.float32)
    w = rng.standard_normal(case["w_shape"]).astype(np.float32)
    C = case["x_shape"][1]
    args = dict(stride=case["stride"], padding=padding_arg(case["pads"]),
                dilation=case["dilation"])
    rargs = (case["stride"], case["pads"], case["dilation"], C)
    gy = rng.standard_normal(conv2d_ref(x, w, None, *rargs).shape).astype(np.float32)
    before = _runs()
    _, gw, gb = fastconv.depthwise_conv2d_backward(gy, x, w, **args, input_grad=False)
    assert _runs() == before + 1
    _, rw, rb = conv2d_backward_ref(gy, x, w, *rargs)
    _, aw, ab = conv2d_backward_ref(np.abs(gy), np.abs(x), w, *rargs)
    terms = gy.shape[0] * gy.shape[2] * gy.shape[3]
    assert_close(gw, rw, aw, terms, what="grad_weight")
    assert_close(gb, rb, ab, terms, what="grad_bias")


@pytest.mark.parametrize("case", CASES[-4:], ids=case_id)
def test_fused_epilogue(isa, case, rng):
    """scale, a residual and ReLU applied on the way out of the lanes."""
    K = case["w_shape"][0]
    N, _, H, W = case["x_shape"]
    scale = rng.uniform(-2, 2, K).astype(np.float32)
    probe = _forward(case, rng)[3]
    res = rng.standard_normal(probe.shape).astype(np.float32)
    x, w, b, y, took, rargs = _forward(case, rng, scale=scale, residual=res, relu=True)
    assert took == 1
    s = scale.astype(np.float64)[None, :, None, None]
    conv = conv2d_ref(x, w, None, *rargs)
    want = np.maximum(s * conv + b[None, :, None, None] + res, 0)
    absref = np.abs(s) * conv2d_ref(np.abs(x), np.abs(w), None, *rargs) + \
        np.abs(b)[None, :, None, None] + np.abs(res)
    _, _, R, S = case["w_shape"]
    assert_close(y, want, absref, R * S + 3, what="epilogue")


BWD_CASES = _cases(16, seed=7332, backward_data=True) + [
    dict(x_shape=(2, 20, 7, 7), w_shape=(20, 1, 5, 5), stride=(1, 1), pads=(2, 2, 2, 2),
         dilation=(1, 1))]


@pytest.mark.parametrize("case", BWD_CASES, ids=case_id)
def test_backward_data_matches_reference(isa, threads, case, rng):
    x = rng.standard_normal(case["x_shape"]).astype(np.float32)
    w = rng.standard_normal(case["w_shape"]).astype(np.float32)
    C = case["x_shape"][1]
    args = dict(stride=1, padding=padding_arg(case["pads"]), dilation=case["dilation"])
    rargs = ((1, 1), case["pads"], case["dilation"], C)
    gy = rng.standard_normal(conv2d_ref(x, w, None, *rargs).shape).astype(np.float32)
    before = _runs()
    gx, _, _ = fastconv.depthwise_conv2d_backward(gy, x, w, **args, weight_grad=False)
    assert _runs() == before + 1
    _, _, R, S = case["w_shape"]
    assert_close(gx, conv2d_backward_ref(gy, x, w, *rargs)[0],
                 conv2d_backward_ref(np.abs(gy), x, np.abs(w), *rargs)[0], R * S,
                 what="grad_x")


def test_route(rng):
    """Taken on rows of up to 8 output columns with one output channel per input
    channel; not on 9 columns nor with a channel multiplier."""
    def took(x_shape, w_shape, groups, padding=1):
        x = rng.standard_normal(x_shape).astype(np.float32)
        w = rng.standard_normal(w_shape).astype(np.float32)
        before = _runs()
        fastconv.conv2d(x, w, padding=padding, groups=groups)
        return _runs() - before
    assert took((1, 32, 8, 8), (32, 1, 3, 3), 32) == 1
    assert took((1, 32, 9, 9), (32, 1, 3, 3), 32) == 0
    assert took((1, 16, 7, 7), (32, 1, 3, 3), 16) == 0

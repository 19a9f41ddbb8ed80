"""Backward-data of stride-1 convolutions as the forward convolution of grad_y with the
flipped weights (src_c/conv/bwd_data_flipped.c): im2col's backward-data route where the
flipped padding dilation*(kernel-1) - pad is >= 0 on every side, there are fewer output
than input channels and the input is at most 1.25x the output's positions
(conv2d.c, im2col_bwd_flipped). Checked against the float64 reference on every ISA
path, with the shapes that keep GEMM + col2im (strides > 1, larger paddings, more
output channels) alongside."""
import numpy as np
import pytest

import fastconv
from fastconv import _C
from conv_cases import case_id, check_bwd_data_caller_workspace, check_conv_case, padding_arg


def _cases(count, seed):
    """Random shapes: stride 1 mostly (some 2, some mixed), kernels 1..5 with odd and
    asymmetric paddings up to the flipped limit and past it, dilations, groups, batch
    1, channel counts such as 3, 5, 13, 17."""
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        groups = int(rng.choice([1, 1, 1, 2, 3]))
        Cg = int(rng.choice([1, 2, 3, 5, 8, 13, 17]))
        Kg = int(rng.choice([1, 3, 5, 9, 13, 17]))
        R, S = int(rng.integers(1, 6)), int(rng.integers(1, 6))
        dil = (int(rng.choice([1, 1, 2, 3])), int(rng.choice([1, 1, 2])))
        stride = [(1, 1)] * 6 + [(2, 2), (1, 2), (2, 1)]
        stride = stride[int(rng.integers(0, len(stride)))]
        # within the flipped limit dilation*(kernel-1), or up to 2 past it on a side
        lim = (dil[0] * (R - 1), dil[0] * (R - 1), dil[1] * (S - 1), dil[1] * (S - 1))
        past = 3 if rng.random() < 0.3 else 1
        pads = tuple(int(rng.integers(0, m + past)) for m in lim)
        N = int(rng.choice([1, 1, 2, 3]))
        H, W = int(rng.integers(1, 16)), int(rng.integers(1, 24))
        if dil[0] * (R - 1) + 1 > H + pads[0] + pads[1]:
            continue
        if dil[1] * (S - 1) + 1 > W + pads[2] + pads[3]:
            continue
        cases.append(dict(x_shape=(N, Cg * groups, H, W), w_shape=(Kg * groups, Cg, R, S),
                          stride=stride, pads=pads, dilation=dil, groups=groups))
    return cases


CASES = _cases(60, 2026)
# shapes the rule and the layouts care about: 1x1 (x as the columns), a narrow output
# (the weights-as-B orientation), a padding past the limit on one side only, "valid"
CASES += [
    dict(x_shape=(1, 17, 7, 7), w_shape=(13, 17, 1, 1), stride=(1, 1), pads=(0, 0, 0, 0),
         dilation=(1, 1), groups=1),
    dict(x_shape=(1, 40, 5, 5), w_shape=(24, 40, 3, 3), stride=(1, 1), pads=(1, 1, 1, 1),
         dilation=(1, 1), groups=1),
    dict(x_shape=(2, 6, 9, 10), w_shape=(9, 2, 3, 3), stride=(1, 1), pads=(3, 0, 1, 2),
         dilation=(1, 1), groups=3),
    dict(x_shape=(2, 5, 11, 9), w_shape=(3, 5, 5, 3), stride=(1, 1), pads=(0, 0, 0, 0),
         dilation=(1, 2), groups=1),
]


def _flipped_pads(c):
    R, S = c["w_shape"][2:]
    (dh, dw), (t, b, l, r) = c["dilation"], c["pads"]
    return (dh * (R - 1) - t, dh * (R - 1) - b, dw * (S - 1) - l, dw * (S - 1) - r)


def _takes_flipped(c):
    """The rule of conv2d.c's im2col_bwd_flipped, restated."""
    N, C, H, W = c["x_shape"]
    K, _, R, S = c["w_shape"]
    t, b, l, r = c["pads"]
    OH = H + t + b - c["dilation"][0] * (R - 1)
    OW = W + l + r - c["dilation"][1] * (S - 1)
    return (c["stride"] == (1, 1) and min(_flipped_pads(c)) >= 0 and K < C
            and 4 * H * W <= 5 * OH * OW)


def test_cases_cover_both_routes():
    """The random cases reach the flipped route and every reason to keep col2im."""
    flipped = [c for c in CASES if _takes_flipped(c)]
    cropped = [c for c in CASES if c["stride"] == (1, 1) and min(_flipped_pads(c)) < 0]
    strided = [c for c in CASES if c["stride"] != (1, 1)]
    wider = [c for c in CASES if c["w_shape"][0] >= c["x_shape"][1]]
    assert len(flipped) >= 12 and len(cropped) >= 5 and len(strided) >= 5 and len(wider) >= 5
    assert any(c["groups"] > 1 for c in flipped) and any(c["x_shape"][0] == 1 for c in flipped)
    assert any(c["dilation"] != (1, 1) for c in flipped)


@pytest.mark.parametrize("algorithm", ["im2col", "auto"])
@pytest.mark.parametrize("c", CASES, ids=case_id)
def test_backward_data(isa, c, algorithm):
    check_conv_case(fastconv, c, algorithm, np.random.default_rng(5), "backward_data")


@pytest.mark.parametrize("c", CASES[:24], ids=case_id)
def test_caller_workspace(c):
    """Through the C API with im2col and the caller's workspace (exact size serves, 64
    bytes less is refused before grad_x is touched)."""
    check_bwd_data_caller_workspace(fastconv, c, "im2col", 9)


def _flipped_forward(gy, w, c):
    """grad_x as fastconv's own im2col forward of grad_y with the flipped weights."""
    G = c["groups"]
    K, Cg, R, S = w.shape
    wf = w.reshape(G, K // G, Cg, R, S)[:, :, :, ::-1, ::-1].transpose(0, 2, 1, 3, 4)
    wf = np.ascontiguousarray(wf.reshape(G * Cg, K // G, R, S))
    return fastconv.conv2d(gy, wf, padding=padding_arg(_flipped_pads(c)),
                           dilation=c["dilation"], groups=G, algorithm="im2col")


@pytest.mark.parametrize("xs,K,pads,groups,flipped", [
    ((1, 64, 56, 56), 16, (1, 1, 1, 1), 1, True),    # ResNet 56x56 at batch 1, 64 -> 16
    ((2, 24, 20, 17), 12, (1, 0, 2, 1), 3, True),    # asymmetric padding, groups
    ((1, 64, 56, 56), 64, (1, 1, 1, 1), 1, False),   # ResNet 56x56, 64 -> 64: col2im
    ((2, 16, 20, 17), 24, (1, 0, 2, 1), 1, False),   # more output channels: col2im
])
def test_auto_route(xs, K, pads, groups, flipped):
    """"auto" runs im2col's backward-data as the flipped forward exactly where the rule
    says: then its grad_x is bit for bit that of fastconv's own im2col forward of grad_y
    with the flipped weights, while GEMM + col2im sums the kernel taps in another order
    (thousands of differing last bits); either way it matches the float64 reference."""
    from reference import conv2d_backward_ref
    c = dict(x_shape=xs, w_shape=(K, xs[1] // groups, 3, 3), stride=(1, 1), pads=pads,
             dilation=(1, 1), groups=groups)
    sel = _C.conv2d_select_algorithm(xs, K, 3, 3, (1, 1), pads, (1, 1), groups, 1)
    assert sel == "im2col"
    rng = np.random.default_rng(11)
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(c["w_shape"]).astype(np.float32)
    OH, OW = xs[2] + pads[0] + pads[1] - 2, xs[3] + pads[2] + pads[3] - 2
    gy = rng.standard_normal((xs[0], K, OH, OW)).astype(np.float32)
    gx = fastconv.conv2d_backward(gy, x, w, padding=padding_arg(pads), groups=groups,
                                  weight_grad=False)[0]
    assert np.array_equal(gx, _flipped_forward(gy, w, c)) == flipped
    assert _takes_flipped(c) == flipped
    ref = conv2d_backward_ref(gy, x, w, (1, 1), pads, (1, 1), groups)[0]
    np.testing.assert_allclose(gx, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


def test_strided_keeps_col2im():
    """A stride-2 convolution has no flipped forward: im2col's backward-data stays
    GEMM + col2im and matches the reference."""
    from reference import conv2d_backward_ref
    rng = np.random.default_rng(13)
    x = rng.standard_normal((2, 16, 15, 15)).astype(np.float32)
    w = rng.standard_normal((24, 16, 3, 3)).astype(np.float32)
    gy = rng.standard_normal((2, 24, 8, 8)).astype(np.float32)
    gx = fastconv.conv2d_backward(gy, x, w, stride=2, padding=1, algorithm="im2col",
                                  weight_grad=False)[0]
    ref = conv2d_backward_ref(gy, x, w, (2, 2), (1, 1, 1, 1), (1, 1), 1)[0]
    np.testing.assert_allclose(gx, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())

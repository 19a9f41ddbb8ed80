"""Direct convolution with few input channels (the flat-tap kernel, conv/smallc.h, that
conv/direct.c runs for <= 4 channels per group and a spatial kernel): forward with and
without the fused epilogue, backward-data and backward-weights against the float64
reference, on every ISA, over random shapes (1-4 channels, odd sizes, strides 1-4,
asymmetric paddings, dilations, batch 1 and more, output channels not a multiple of
8), plus the AUTO choice for the first layers it was measured on."""
import numpy as np
import pytest

import fastconv
from fastconv import _C
from reference import assert_close, conv2d_backward_ref, conv2d_ref


def _cases(count, seed):
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        N = int(rng.choice([1, 1, 2, 3]))
        C = int(rng.integers(1, 5))
        K = int(rng.choice([1, 3, 4, 5, 8, 9, 13, 17, 24]))
        R, S = (int(v) for v in rng.integers(1, 12, size=2))
        if R * S == 1:
            continue
        sh, sw = (int(v) for v in rng.integers(1, 5, size=2))
        dh, dw = (int(v) for v in rng.choice([1, 1, 2, 3], size=2))
        pads = tuple(int(v) for v in rng.integers(0, 4, size=4))
        H, W = (int(v) for v in rng.integers(1, 40, size=2))
        OH = (H + pads[0] + pads[1] - (R - 1) * dh - 1) // sh + 1
        OW = (W + pads[2] + pads[3] - (S - 1) * dw - 1) // sw + 1
        if OH < 1 or OW < 1:
            continue
        out.append(((N, C, H, W), (K, C, R, S), (sh, sw), pads, (dh, dw)))
    return out


CASES = _cases(40, 2026)
# the first layers themselves, batch 1, at a reduced map size where it keeps the
# structure (stride phases, padding) and at full size for ResNet conv1
LAYERS = [
    ((1, 3, 224, 224), (64, 3, 7, 7), (2, 2), (3, 3, 3, 3), (1, 1)),   # ResNet conv1
    ((1, 3, 67, 67), (64, 3, 11, 11), (4, 4), (2, 2, 2, 2), (1, 1)),   # AlexNet conv1
    ((2, 3, 30, 33), (64, 3, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1)),     # VGG conv1
]


def _pads_arg(p):
    return ((p[0], p[1]), (p[2], p[3]))


def _data(xs, ws, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    b = rng.standard_normal(ws[0]).astype(np.float32)
    return rng, x, w, b


def _terms(ws):
    return ws[1] * ws[2] * ws[3]


@pytest.mark.parametrize("xs,ws,stride,pads,dil", CASES + LAYERS)
def test_forward(isa, xs, ws, stride, pads, dil):
    _, x, w, b = _data(xs, ws)
    y = fastconv.conv2d(x, w, b, stride, _pads_arg(pads), dil, algorithm="direct")
    ref = conv2d_ref(x, w, b, stride, pads, dil)
    absref = conv2d_ref(np.abs(x), np.abs(w), np.abs(b), stride, pads, dil)
    assert_close(y, ref, absref, _terms(ws) + 1)


@pytest.mark.parametrize("xs,ws,stride,pads,dil", CASES[:16])
@pytest.mark.parametrize("relu", [False, True])
def test_forward_epilogue(isa, xs, ws, stride, pads, dil, relu):
    rng, x, w, b = _data(xs, ws, 1)
    y0 = conv2d_ref(x, w, None, stride, pads, dil)
    scale = rng.standard_normal(ws[0]).astype(np.float32)
    res = rng.standard_normal(y0.shape).astype(np.float32)
    y = fastconv.conv2d(x, w, b, stride, _pads_arg(pads), dil, algorithm="direct",
                        scale=scale, residual=res, relu=relu)
    ref = scale[None, :, None, None] * y0 + b[None, :, None, None] + res
    if relu:
        ref = np.maximum(ref, 0.0)
    absref = (np.abs(scale)[None, :, None, None] *
              conv2d_ref(np.abs(x), np.abs(w), None, stride, pads, dil) +
              np.abs(b)[None, :, None, None] + np.abs(res))
    assert_close(y, ref, absref, _terms(ws) + 2)


def test_forward_residual_is_output(isa):
    """The residual may be the output array itself (read before each store)."""
    xs, ws, stride, pads, dil = CASES[3]
    _, x, w, b = _data(xs, ws, 2)
    y0 = conv2d_ref(x, w, b, stride, pads, dil)
    y = np.random.default_rng(3).standard_normal(y0.shape).astype(np.float32)
    ref = y0 + y
    absref = conv2d_ref(np.abs(x), np.abs(w), np.abs(b), stride, pads, dil) + np.abs(y)
    got = fastconv.conv2d(x, w, b, stride, _pads_arg(pads), dil, algorithm="direct",
                          residual=y)
    assert_close(got, ref, absref, _terms(ws) + 2)


# planes large enough that backward-weights runs in chunks of grad_y (one segment at
# unit row stride, whole output rows otherwise; odd chunk tails)
LARGE = [
    ((2, 2, 70, 60), (7, 2, 5, 5), (1, 1), (2, 2, 2, 2), (1, 1)),
    ((1, 3, 97, 131), (5, 3, 3, 4), (1, 2), (1, 0, 2, 1), (2, 1)),
    ((2, 1, 161, 90), (9, 1, 7, 7), (2, 3), (3, 2, 3, 3), (1, 1)),
]


@pytest.mark.parametrize("xs,ws,stride,pads,dil", CASES[:20] + LAYERS + LARGE)
def test_backward(isa, xs, ws, stride, pads, dil):
    _check_backward(xs, ws, stride, pads, dil)


# The chunks of an item add to their thread's vector sums (fc_direct_bwd_weights.vacc):
# items of several input channels and blocks of output channels (20: 8 + 8 + 4) over
# 1-3 threads.
@pytest.mark.parametrize("xs,ws,stride,pads,dil", LARGE + [
    ((2, 12, 60, 70), (20, 12, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1))])
def test_backward_chunks_on_threads(isa, threads, xs, ws, stride, pads, dil):
    _check_backward(xs, ws, stride, pads, dil)


def _check_backward(xs, ws, stride, pads, dil):
    rng, x, w, _ = _data(xs, ws, 4)
    y = conv2d_ref(x, w, None, stride, pads, dil)
    gy = rng.standard_normal(y.shape).astype(np.float32)
    gx, gw, gb = fastconv.conv2d_backward(gy, x, w, stride, _pads_arg(pads), dil,
                                          algorithm="direct")
    rx, rw, rb = conv2d_backward_ref(gy, x, w, stride, pads, dil)
    ax, aw, _ = conv2d_backward_ref(np.abs(gy), np.abs(x), np.abs(w), stride, pads, dil)
    assert_close(gx, rx, ax, ws[0] * ws[2] * ws[3], what="grad_x")
    assert_close(gw, rw, aw, gy.shape[0] * gy.shape[2] * gy.shape[3], what="grad_w")
    assert_close(gb, rb, np.abs(gy).sum(axis=(0, 2, 3)), gy.size // gy.shape[1],
                 what="grad_b")


@pytest.mark.parametrize("xs,ws,stride,pads", [(l[0], l[1], l[2], l[3]) for l in LAYERS] + [
    ((16, 3, 227, 227), (64, 3, 11, 11), (4, 4), (2, 2, 2, 2)),
    ((16, 3, 224, 224), (64, 3, 7, 7), (2, 2), (3, 3, 3, 3)),
    ((1, 1, 28, 28), (20, 1, 5, 5), (1, 1), (0, 0, 0, 0)),
    ((1, 4, 32, 32), (32, 4, 3, 3), (1, 1), (1, 1, 1, 1)),
])
def test_auto_picks_direct_forward(xs, ws, stride, pads):
    got = _C.conv2d_select_algorithm(xs, ws[0], ws[2], ws[3], stride, pads, (1, 1), 1, 0)
    assert got == "direct"


@pytest.mark.parametrize("xs,ws,groups", [
    ((1, 3, 32, 32), (64, 3, 1, 1), 1),     # 1x1: no taps to flatten, GEMM as before
    ((1, 8, 32, 32), (64, 8, 3, 3), 1),     # more channels: im2col as before
    ((1, 64, 16, 16), (256, 2, 3, 3), 32),  # grouped, 2 per group: not measured
])
def test_auto_keeps_im2col_elsewhere(xs, ws, groups):
    got = _C.conv2d_select_algorithm(xs, ws[0], ws[2], ws[3], (1, 1), (1, 1, 1, 1), (1, 1),
                                     groups, 0)
    assert got == "im2col"

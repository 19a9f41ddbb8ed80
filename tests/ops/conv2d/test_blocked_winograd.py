"""Winograd F(2x2,3x3) and F(4x4,3x3) on the blocked layout (conv2d_nchw8c(algorithm=
"winograd_f23" / "winograd_f43"), conv/blocked_winograd.c), and F(2x2,5x5)
("winograd_f23" on a 5x5 weight), against the float64 reference
on every ISA path: odd maps (cropped tiles), channels not a multiple of 8, paddings 0-3
and asymmetric, batch 1 and > 1, maps of several bands, every epilogue combination, the
residual updated in place; non-finite values spoil only the outputs whose receptive
field holds them; the plan's rule and its test hook; arguments Winograd cannot serve.
Error: the norm-wise bounds of conv2d's algorithms of the same names; F(2x2,5x5), whose
points are F(4x4,3x3)'s, F(4x4,3x3)'s."""
import numpy as np
import pytest

import fastconv
from fastconv import _C
from fastconv.functional.blocked import (conv2d_nchw8c, from_nchw8c, pack_nchw8c_weights,
                                         to_nchw8c)
from reference import EPS32, conv2d_ref

from .test_blocked import COMBOS, combo_id, nchw8c_ref

ALGOS = ["winograd_f23", "winograd_f43"]
FACTOR = {"winograd_f23": 4.0, "winograd_f43": 16.0}   # as in test_winograd.py


def _factor(algo, ws):
    return FACTOR["winograd_f43"] if ws[2] == 5 else FACTOR[algo]


def _cases(count, seed, R=3):
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        N = int(rng.choice([1, 1, 2, 3]))
        C, K = int(rng.integers(1, 40)), int(rng.integers(1, 40))
        pads = tuple(int(p) for p in rng.integers(0, R + 1, size=4))
        H, W = int(rng.integers(1, 20)), int(rng.integers(1, 20))
        if H + pads[0] + pads[1] < R or W + pads[2] + pads[3] < R:
            continue
        cases.append(((N, C, H, W), (K, C, R, R), pads))
    return cases


# ResNet-like layers scaled down in channels; odd maps crop the last tile row/column
RESNET = [((1, C, H, H), (K, C, 3, 3), (1, 1, 1, 1))
          for C, K, H in [(16, 16, 28), (24, 40, 14), (32, 32, 7), (64, 64, 13)]]
CASES = _cases(20, seed=2311) + RESNET
# F(2x2,5x5): odd maps and paddings 0-5, AlexNet's and GoogLeNet's 5x5 layers scaled down
CASES5 = _cases(12, seed=5511, R=5) + [((1, C, H, H), (K, C, 5, 5), (2, 2, 2, 2))
                                       for C, K, H in [(24, 64, 13), (32, 48, 7)]]


def case_id(c):
    xs, ws, pads = c
    return f"x{'x'.join(map(str, xs))}-K{ws[0]}-p{''.join(map(str, pads))}"


def _run(c, combo, rng, algo, in_place=False, packed=True):
    xs, ws, pads = c
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    conv = conv2d_ref(x, w, pads=pads)
    absconv = conv2d_ref(np.abs(x), np.abs(w), pads=pads)
    use_scale, use_bias, use_res, relu = combo
    K = ws[0]
    scale = rng.uniform(-2, 2, K).astype(np.float32) if use_scale else None
    bias = rng.standard_normal(K).astype(np.float32) if use_bias else None
    res = rng.standard_normal(conv.shape).astype(np.float32) if use_res else None
    s = np.ones(K) if scale is None else scale.astype(np.float64)
    b = np.zeros(K) if bias is None else bias.astype(np.float64)
    r = 0.0 if res is None else res.astype(np.float64)
    want = s[None, :, None, None] * conv + b[None, :, None, None] + r
    if relu:
        want = np.maximum(want, 0.0)
    xb = to_nchw8c(x)
    resb = None if res is None else nchw8c_ref(res)
    padding = ((pads[0], pads[1]), (pads[2], pads[3]))
    if in_place:
        yb = resb
        pw = pack_nchw8c_weights(w, algo)
        _C.conv2d_blocked_winograd_forward(algo, xb, xs, pw.packed, pw.plain, scale, bias, yb,
                                           relu, yb, pads)
    else:
        wt = pack_nchw8c_weights(w, algo) if packed else w
        yb = conv2d_nchw8c(xb, wt, bias, 1, padding, scale=scale, residual=resb, relu=relu,
                           algorithm=None if packed else algo)
    N, _, OH, OW = conv.shape
    assert yb.shape == (N, -(-K // 8), OH, OW, 8)
    assert not yb[:, -1, :, :, K - 8 * (yb.shape[1] - 1):].any(), "padded channels not zero"
    got = from_nchw8c(yb, K).astype(np.float64)
    # norm-wise, the scale and the epilogue's own terms on top of the convolution's bound
    tol = (_factor(algo, ws) * EPS32 * np.sqrt(xs[1] * ws[2] * ws[3] + 2) *
           (np.abs(s).max() * absconv.max() + np.abs(b).max() + np.abs(r).max()))
    err = np.abs(got - want).max()
    assert err <= tol, f"{algo} {case_id(c)}: max error {err:.3g} > {tol:.3g}"


@pytest.mark.parametrize("algo", ALGOS)
@pytest.mark.parametrize("c", CASES, ids=case_id)
def test_plain_forward(isa, c, algo, rng):
    _run(c, (False, False, False, False), rng, algo, packed=False)


@pytest.mark.parametrize("c", CASES5, ids=case_id)
def test_plain_forward_5x5(isa, c, rng):
    _run(c, (False, False, False, False), rng, "winograd_f23", packed=False)


@pytest.mark.parametrize("algo", ALGOS)
@pytest.mark.parametrize("combo", COMBOS, ids=combo_id)
def test_every_epilogue(isa, combo, algo, rng):
    for c in CASES[:5] + RESNET[:2] + (CASES5[:3] if algo == "winograd_f23" else []):
        _run(c, combo, rng, algo)


@pytest.mark.parametrize("algo", ALGOS)
@pytest.mark.parametrize("combo", [c for c in COMBOS if c[2]], ids=combo_id)
def test_residual_is_y(isa, combo, algo, rng):
    for c in CASES[:4] + RESNET[1:2] + (CASES5[:2] if algo == "winograd_f23" else []):
        _run(c, combo, rng, algo, in_place=True)


@pytest.mark.parametrize("algo", ALGOS)
@pytest.mark.parametrize("threads", [1, 3])
def test_thread_counts(threads, algo, rng):
    before = fastconv.get_num_threads()
    fastconv.set_num_threads(threads)
    try:
        for c in CASES[:6] + RESNET + (CASES5[-2:] if algo == "winograd_f23" else []):
            _run(c, (True, True, True, True), rng, algo)
    finally:
        fastconv.set_num_threads(before)


SPOIL = [((1, 12, 9, 11), (10, 12, 3, 3), (1, 1, 1, 1)),
         ((2, 5, 8, 6), (9, 5, 3, 3), (0, 2, 1, 3)),
         ((1, 12, 10, 9), (10, 12, 5, 5), (2, 2, 2, 2)),
         ((2, 5, 8, 7), (9, 5, 5, 5), (0, 3, 1, 4))]


def _algo_cases(cases):
    """(algorithm, case) pairs: 3x3 cases under both algorithms, 5x5 under F(2x2,5x5)."""
    return [pytest.param(a, c, id=f"{a}-{case_id(c)}") for c in cases for a in ALGOS
            if c[1][2] == 3 or a == "winograd_f23"]


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("algo, c", _algo_cases(SPOIL))
def test_non_finite_input_spoils_its_footprint(isa, c, value, algo, rng):
    """One bad input pixel: exactly the outputs whose 3x3 (5x5) window reads it are
    non-finite (not its whole tile window: F(4x4)'s transforms spread it over the 4x4
    outputs of each tile whose 6x6 window holds it), the others as accurate as without
    it."""
    xs, ws, pads = c
    for at in [(0, 0, 0, 0), (xs[0] - 1, xs[1] - 1, xs[2] - 1, xs[3] - 1),
               (0, xs[1] // 2, xs[2] // 2, xs[3] // 2)]:
        x = rng.standard_normal(xs).astype(np.float32)
        x[at] = value
        w = rng.standard_normal(ws).astype(np.float32)
        b = rng.standard_normal(ws[0]).astype(np.float32)
        ref = conv2d_ref(x, w, b, pads=pads)
        absref = conv2d_ref(np.nan_to_num(np.abs(x), posinf=0.0), np.abs(w), np.abs(b),
                            pads=pads)
        padding = ((pads[0], pads[1]), (pads[2], pads[3]))
        y = from_nchw8c(conv2d_nchw8c(to_nchw8c(x), w, b, 1, padding,
                                      algorithm=algo), ws[0]).astype(np.float64)
        bad = ~np.isfinite(ref)
        assert bad.any()
        np.testing.assert_array_equal(~np.isfinite(y), bad)
        same_sign = np.isinf(ref) & np.isinf(y)
        np.testing.assert_array_equal(np.sign(y[same_sign]), np.sign(ref[same_sign]))
        tol = _factor(algo, ws) * EPS32 * np.sqrt(xs[1] * ws[2] * ws[3] + 1) * \
            absref[~bad].max()
        assert np.abs(y[~bad] - ref[~bad]).max() <= tol


@pytest.mark.parametrize("algo", ALGOS)
def test_infinite_weight_over_padding_only(isa, algo, rng):
    """A filter tap that only ever reads padding (the corner tap on a 1-pixel-wide map with
    padding on one side) makes no NaN: direct sums skip it, and so does the fix-up."""
    x = rng.standard_normal((1, 4, 5, 1)).astype(np.float32)
    w = rng.standard_normal((3, 4, 3, 3)).astype(np.float32)
    w[1, 2, 0, 0] = np.inf                   # column 0 of taps reads the left padding only
    padding = ((1, 1), (1, 1))               # one output column
    y = from_nchw8c(conv2d_nchw8c(to_nchw8c(x), w, None, 1, padding,
                                  algorithm=algo), 3).astype(np.float64)
    ref = conv2d_ref(x, np.where(np.isinf(w), 0, w), pads=(1, 1, 1, 1))
    assert np.isfinite(y).all()
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("algo", ALGOS)
def test_huge_finite_inputs_do_not_overflow(isa, algo, rng):
    """Inputs near FLT_MAX whose direct sum is finite stay finite (the transforms may
    overflow; those outputs are recomputed directly)."""
    x = np.zeros((1, 1, 6, 6), np.float32)
    x[0, 0, 2, 2] = 3.0e38
    x[0, 0, 2, 3] = -3.0e38
    w = np.zeros((1, 1, 3, 3), np.float32)
    w[0, 0, 1, 1] = 1.0
    y = from_nchw8c(conv2d_nchw8c(to_nchw8c(x), w, None, 1, 1, algorithm=algo), 1)
    np.testing.assert_array_equal(y, x)


# Several bands (conv/blocked_winograd.c: about 1 MB of V and M, 64+ tiles each, over the
# batch's tile rows): 64 -> 64 at 40x40 runs 4 bands of 5 tile rows under F(2x2), 2 of
# 5 under F(4x4); 40 -> 48 at 45x37 batch 2 (23 and 12 tile rows an image) bands of
# 10, 10, 10, 10, 6 tile rows under F(2x2), 3 of 8 under F(4x4), across images; so does
# batch 3 of 64 at 24x24: 4 bands of 9 tile rows (F(2x2), 12 an image), 2 of 9 (F(4x4), 6).
# F(2x2,5x5): 48 -> 24 at 26x21 (13 tile rows of 11 tiles) runs bands of 7 and 6.
BANDS = [((1, 64, 40, 40), (64, 64, 3, 3), (1, 1, 1, 1)),
         ((2, 40, 45, 37), (48, 40, 3, 3), (1, 2, 0, 1)),
         ((3, 64, 24, 24), (64, 64, 3, 3), (1, 1, 1, 1)),
         ((1, 48, 26, 21), (24, 48, 5, 5), (2, 1, 2, 2))]


@pytest.mark.parametrize("algo, c", _algo_cases(BANDS))
def test_several_bands(isa, c, algo, rng):
    _run(c, (True, True, True, True), rng, algo)
    _run(c, (False, True, True, False), rng, algo, in_place=True)


def test_plan_rule(rng):
    """The plan's rule: 3x3 stride-1 layers of 64+ channels on maps of 16+ 2x2 tiles, by
    F(4x4) where it has 49+ tiles (ResNet's 56x56 and 28x28; at batch > 1 16+ in the
    batch, whose bands run across images: 14x14, and 7x7 from batch 4),
    F(2x2) below; not narrow layers or smaller maps; never under
    set_precision("highest"); the test hook forces it either way."""
    from library_hooks import forced
    rule = _C.conv2d_plan_blocked_winograd
    for C, H, algo in [(64, 56, "winograd_f43"), (128, 28, "winograd_f43"),
                       (256, 14, "winograd_f23"), (512, 7, "winograd_f23")]:
        assert rule((1, C, H, H), C, (1, 1, 1, 1)) == algo
    assert rule((2, 256, 14, 14), 256, (1, 1, 1, 1)) == "winograd_f43"   # batch > 1
    assert rule((2, 512, 7, 7), 512, (1, 1, 1, 1)) == "winograd_f23"   # 8 tiles
    assert rule((4, 512, 7, 7), 512, (1, 1, 1, 1)) == "winograd_f43"   # 16
    assert rule((1, 512, 5, 5), 512, (1, 1, 1, 1)) == "direct"      # 9 tiles
    assert rule((1, 16, 14, 14), 16, (1, 1, 1, 1)) == "direct"
    with forced("fc_conv_blocked_winograd_set_mode"):
        assert rule((1, 16, 14, 14), 16, (1, 1, 1, 1)) == "winograd_f23"
    with forced("fc_conv_blocked_winograd_set_mode", 0):
        assert rule((1, 256, 14, 14), 256, (1, 1, 1, 1)) == "direct"
    # 5x5: F(2x2,5x5) from 24 channels in and out (48 on one side) on 16+ tiles
    for xs, K in [((1, 96, 27, 27), 256), ((1, 24, 14, 14), 64), ((1, 48, 7, 7), 128)]:
        assert rule(xs, K, (2, 2, 2, 2), 5) == "winograd_f23"
    for xs, K in [((1, 16, 28, 28), 32), ((1, 32, 28, 28), 32), ((1, 64, 5, 5), 64)]:
        assert rule(xs, K, (2, 2, 2, 2), 5) == "direct"
    with forced("fc_conv_blocked_winograd_set_mode"):
        assert rule((1, 16, 28, 28), 32, (2, 2, 2, 2), 5) == "winograd_f23"
    fastconv.set_precision("highest")
    try:
        assert rule((1, 256, 14, 14), 256, (1, 1, 1, 1)) == "direct"
    finally:
        fastconv.set_precision("high")


@pytest.mark.parametrize("call, match", [
    (lambda: pack_nchw8c_weights(np.zeros((4, 4, 5, 5), np.float32), "winograd_f43"),
     "3x3 weight"),
    (lambda: pack_nchw8c_weights(np.zeros((4, 4, 7, 7), np.float32), "winograd_f23"),
     "3x3 or 5x5 weight"),
    (lambda: pack_nchw8c_weights(np.zeros((4, 4, 1, 3), np.float32), "winograd_f43"),
     "3x3 weight"),
    (lambda: conv2d_nchw8c(np.zeros((1, 1, 9, 9, 8), np.float32),
                           np.zeros((4, 4, 3, 3), np.float32), stride=2,
                           algorithm="winograd_f23"), "stride 1"),
    (lambda: conv2d_nchw8c(np.zeros((1, 1, 9, 9, 8), np.float32),
                           np.zeros((4, 4, 3, 3), np.float32), dilation=2,
                           algorithm="winograd_f23"), "dilation 1"),
])
def test_unsupported(call, match):
    with pytest.raises(fastconv.UnsupportedError, match=match):
        call()


def test_bad_algorithm_names():
    w = np.zeros((4, 4, 3, 3), np.float32)
    with pytest.raises(ValueError, match="algorithm must be one of"):
        pack_nchw8c_weights(w, "winograd")
    with pytest.raises(ValueError, match="packed for algorithm 'direct'"):
        conv2d_nchw8c(np.zeros((1, 1, 5, 5, 8), np.float32), pack_nchw8c_weights(w),
                      algorithm="winograd_f23")


@pytest.mark.parametrize("algo", ALGOS)
def test_empty_batch(algo):
    w = np.ones((4, 4, 3, 3), np.float32)
    yb = conv2d_nchw8c(np.zeros((0, 1, 5, 5, 8), np.float32), w, padding=1, algorithm=algo)
    assert yb.shape == (0, 1, 5, 5, 8)

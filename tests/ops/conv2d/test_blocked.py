"""The blocked-layout (NCHW8c) direct convolution (fastconv.functional.blocked) against
conv2d_ref (float64) on every ISA path: odd shapes, channels not a multiple of 8,
kernels 1x1 to 5x5, strides 1-3, paddings 0-2, dilation, batch 1 and > 1, every epilogue
combination, the residual updated in place; the reorders exactly; bad arguments."""
import itertools

import numpy as np
import pytest

import fastconv
from fastconv import _C
from fastconv.functional.blocked import (Nchw8cWeights, conv2d_nchw8c, from_nchw8c,
                                         pack_nchw8c_weights, to_nchw8c)
from reference import assert_close, conv2d_ref

COMBOS = list(itertools.product([False, True], repeat=4))   # scale, bias, residual, relu


def combo_id(c):
    return "-".join(n for n, on in zip(("scale", "bias", "res", "relu"), c) if on) or "none"


def nchw8c_ref(x):
    """The blocked layout built with NumPy alone: pad C to a multiple of 8, split it."""
    N, C, H, W = x.shape
    B = -(-C // 8)
    xp = np.zeros((N, B * 8, H, W), x.dtype)
    xp[:, :C] = x
    return xp.reshape(N, B, 8, H, W).transpose(0, 1, 3, 4, 2).copy()


def _cases(count, seed):
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        N = int(rng.choice([1, 1, 2, 3]))
        C, K = int(rng.integers(1, 40)), int(rng.integers(1, 40))
        R, S = int(rng.choice([1, 3, 3, 3, 2, 5])), int(rng.choice([1, 3, 3, 3, 4]))
        stride = (int(rng.choice([1, 1, 2, 3])), int(rng.choice([1, 1, 2])))
        dilation = (int(rng.choice([1, 1, 1, 2])), int(rng.choice([1, 1, 2])))
        pads = tuple(int(p) for p in rng.integers(0, 3, size=4))
        H, W = int(rng.integers(1, 17)), int(rng.integers(1, 17))
        if (R - 1) * dilation[0] + 1 > H + pads[0] + pads[1]:
            continue
        if (S - 1) * dilation[1] + 1 > W + pads[2] + pads[3]:
            continue
        cases.append(dict(x_shape=(N, C, H, W), w_shape=(K, C, R, S), stride=stride,
                          pads=pads, dilation=dilation))
    return cases


# ResNet-like 3x3 layers (scaled down in channels), stride 1 and 2, padding 1: tiles of
# many pixels, several output-block pairs, an odd block count.
RESNET_CASES = [dict(x_shape=(1, C, H, H), w_shape=(K, C, 3, 3), stride=(s, s),
                     pads=(1, 1, 1, 1), dilation=(1, 1))
                for C, K, H, s in [(16, 16, 28, 1), (24, 40, 14, 1), (32, 32, 7, 1),
                                   (16, 32, 14, 2), (32, 64, 7, 2), (8, 24, 9, 1)]]
RANDOM_CASES = _cases(24, seed=1717)


def case_id(c):
    return (f"x{'x'.join(map(str, c['x_shape']))}-w{'x'.join(map(str, c['w_shape']))}"
            f"-s{c['stride'][0]}{c['stride'][1]}-p{''.join(map(str, c['pads']))}"
            f"-d{c['dilation'][0]}{c['dilation'][1]}")


def _padding(pads):
    t, b, l, r = pads
    return ((t, b), (l, r))


def run_case(c, combo, rng, in_place=False, packed=True):
    x = rng.standard_normal(c["x_shape"]).astype(np.float32)
    w = rng.standard_normal(c["w_shape"]).astype(np.float32)
    geo = dict(stride=c["stride"], pads=c["pads"], dilation=c["dilation"])
    conv = conv2d_ref(x, w, **geo)
    absconv = conv2d_ref(np.abs(x), np.abs(w), **geo)
    use_scale, use_bias, use_res, relu = combo
    K = c["w_shape"][0]
    scale = rng.uniform(-2, 2, K).astype(np.float32) if use_scale else None
    bias = rng.standard_normal(K).astype(np.float32) if use_bias else None
    res = rng.standard_normal(conv.shape).astype(np.float32) if use_res else None
    s = np.ones(K) if scale is None else scale.astype(np.float64)
    b = np.zeros(K) if bias is None else bias.astype(np.float64)
    r = 0.0 if res is None else res.astype(np.float64)
    want = s[None, :, None, None] * conv + b[None, :, None, None] + r
    mag = np.abs(s)[None, :, None, None] * absconv + np.abs(b)[None, :, None, None] + np.abs(r)
    if relu:
        want = np.maximum(want, 0.0)
    xb = to_nchw8c(x)
    resb = None if res is None else nchw8c_ref(res)
    wt = pack_nchw8c_weights(w) if packed else w
    if in_place:
        yb = resb
        _C.conv2d_blocked_forward(xb, c["x_shape"], wt.packed, c["w_shape"], scale, bias, yb,
                                  relu, yb, c["stride"], c["pads"], c["dilation"])
    else:
        yb = conv2d_nchw8c(xb, wt, bias, c["stride"], _padding(c["pads"]), c["dilation"],
                           scale=scale, residual=resb, relu=relu)
    N, _, OH, OW = conv.shape
    assert yb.shape == (N, -(-K // 8), OH, OW, 8)
    # the padded output channels are zeros
    assert not yb[:, -1, :, :, K - 8 * (yb.shape[1] - 1):].any()
    terms = int(np.prod(c["w_shape"][1:])) + 2
    assert_close(from_nchw8c(yb, K), want, mag, terms, what=f"blocked y {case_id(c)}")


@pytest.mark.parametrize("c", RANDOM_CASES + RESNET_CASES, ids=case_id)
def test_plain_forward(isa, c, rng):
    run_case(c, (False, False, False, False), rng, packed=False)


@pytest.mark.parametrize("combo", COMBOS, ids=combo_id)
def test_every_epilogue(isa, combo, rng):
    for c in RANDOM_CASES[:6] + RESNET_CASES[:3]:
        run_case(c, combo, rng)


@pytest.mark.parametrize("combo", [c for c in COMBOS if c[2]], ids=combo_id)
def test_residual_is_y(isa, combo, rng):
    """yb may be the residual buffer, updated in place (the C API's promise)."""
    for c in RANDOM_CASES[:3] + RESNET_CASES[3:5]:
        run_case(c, combo, rng, in_place=True)


# Weights too large for one L2-sized group of output blocks (conv/blocked.c splits the
# output blocks into groups of pairs): 3x3 with 300 input channels (a group per pair,
# K=40: 5 blocks, the last alone) and 1x1 with 2000 (2 pairs a group, K=75: 10 blocks);
# batch 2, stride 2, the tiles crossing rows.
GROUP_CASES = [dict(x_shape=(N, C, H, H), w_shape=(K, C, R, R), stride=(s, s),
                    pads=(p, p, p, p), dilation=(1, 1))
               for N, C, K, H, R, s, p in [(1, 300, 40, 6, 3, 1, 1), (2, 300, 19, 7, 3, 2, 1),
                                           (1, 2000, 75, 5, 1, 1, 0),
                                           (2, 2000, 33, 4, 1, 2, 0)]]


@pytest.mark.parametrize("c", GROUP_CASES, ids=case_id)
def test_groups_of_output_blocks(isa, c, rng):
    run_case(c, (True, True, True, True), rng)
    run_case(c, (False, False, False, False), rng)


# Groups of unequal size, split over 1-3 threads by their work (conv/blocked.c): 128
# channels 3x3 make pairs of 73.7 KB, so 16 output blocks run in groups of 6, 6 and 4,
# and 17 blocks in 6, 6 and 5 (the last pair a single block); batch 1 and 3.
UNEVEN_CASES = [dict(x_shape=(N, 128, H, H), w_shape=(K, 128, 3, 3), stride=(1, 1),
                     pads=(1, 1, 1, 1), dilation=(1, 1))
                for N, K, H in [(1, 128, 9), (3, 136, 5)]]


@pytest.mark.parametrize("c", UNEVEN_CASES, ids=case_id)
def test_unequal_groups_over_threads(isa, threads, c, rng):
    run_case(c, (False, True, True, True), rng)
    # in place, an item run twice (threads' runs overlapping) would add the residual twice
    run_case(c, (False, True, True, True), rng, in_place=True)


# Padding rows: conv/blocked.c groups the output rows into bands whose taps read the
# map's data in the same rows of taps and runs only those (make_bands). Output rows that
def _geometry_cases(rows):
    return [dict(x_shape=(N, C, H, W), w_shape=(K, C, R, S), stride=st, pads=pads,
                 dilation=dil) for N, C, H, W, K, R, S, st, pads, dil in rows]


# read padding alone (pad 4 and 5 around a 3-tap kernel: the epilogue of a zero sum),
# dilation 2, stride 2 against pad 3, a 7x7 kernel on a 7x7 map padded by 3 (7 bands),
# a single data row, unequal top and bottom; batch 1-3, odd channel counts.
BAND_CASES = _geometry_cases([
    (2, 13, 5, 6, 17, 3, 3, (1, 1), (4, 5, 1, 1), (1, 1)),
    (1, 9, 7, 8, 11, 3, 3, (1, 1), (3, 2, 2, 2), (2, 1)),
    (3, 17, 9, 9, 19, 5, 5, (2, 1), (3, 3, 2, 2), (1, 1)),
    (2, 16, 7, 7, 24, 7, 7, (1, 1), (3, 3, 3, 3), (1, 1)),
    (2, 8, 1, 9, 8, 3, 3, (1, 1), (2, 2, 1, 1), (1, 1)),
    (1, 5, 12, 5, 13, 5, 3, (3, 1), (0, 4, 1, 0), (1, 2)),
])
# Padded layers of more than 256 output pixels read their input in place (conv/blocked.c,
# blk_in_place_pays): only taps over data run, a pixel's origin may lie in the padding
# (before the map on its first row), corners are tiles of their own. ResNet's 3x3 at
# 28x28, unequal and oversized pads (columns and rows over padding alone), strides,
# dilation, 1xS and Rx1 kernels, 9x9 (more than 64 taps: the C loop), batch 1-3.
IN_PLACE_CASES = _geometry_cases([
    (2, 16, 28, 28, 24, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1)),
    (1, 13, 17, 19, 9, 3, 3, (1, 1), (0, 2, 1, 0), (1, 1)),
    (3, 7, 16, 18, 17, 3, 3, (1, 1), (4, 0, 0, 5), (1, 1)),
    (1, 9, 40, 37, 11, 3, 5, (2, 1), (3, 2, 2, 3), (1, 2)),
    (2, 20, 24, 23, 16, 1, 7, (1, 1), (0, 0, 3, 3), (1, 1)),
    (1, 8, 26, 20, 8, 5, 1, (1, 1), (2, 2, 0, 0), (2, 1)),
    (1, 8, 17, 17, 12, 9, 9, (1, 1), (4, 4, 4, 4), (1, 1)),
])


@pytest.mark.parametrize("c", BAND_CASES + IN_PLACE_CASES, ids=case_id)
def test_taps_over_padding_skipped(isa, threads, c, rng):
    for combo in [(False, False, False, False), (True, True, True, True),
                  (False, True, False, True), (True, True, True, False)]:
        run_case(c, combo, rng)
    run_case(c, (False, True, True, False), rng, in_place=True)


# Padded 1x1 layers, and strided ones at batch 1, whose input conv/blocked.c gathers
# into a dense map first (zeros where the padding is read): odd sizes, unequal strides
# and pads, batch 2; unpadded strided ones at batch 2 and 3 read in place (every sw-th
# pixel of every sh-th row), one group of output blocks and several.
GATHER_CASES = [dict(x_shape=(N, C, H, W), w_shape=(K, C, 1, 1), stride=st, pads=pads,
                     dilation=(1, 1))
                for N, C, K, H, W, st, pads in [
                    (1, 16, 24, 13, 13, (2, 2), (0, 0, 0, 0)),
                    (2, 21, 9, 9, 11, (2, 3), (1, 0, 2, 1)),
                    (1, 8, 17, 6, 5, (1, 1), (1, 1, 1, 1)),
                    (3, 35, 40, 7, 7, (3, 1), (0, 2, 0, 0)),
                    (2, 21, 19, 9, 11, (2, 3), (0, 0, 0, 0)),
                    (3, 16, 40, 14, 13, (2, 2), (0, 0, 0, 0)),
                    (2, 300, 200, 6, 7, (2, 1), (0, 0, 0, 0))]]


@pytest.mark.parametrize("c", GATHER_CASES, ids=case_id)
def test_gathered_1x1(isa, c, rng):
    for combo in [(False, False, False, False), (True, True, True, True),
                  (False, True, False, True)]:
        run_case(c, combo, rng)


# Each thread pads (or gathers) the input rows its own tiles read first: padded 3x3 and
# gathered 1x1 layers with one group of output blocks (the rows split by the threads'
# pixels) and with several (split evenly), batch 1 and 3, over 1-3 threads. A batch
# whose weights stay in cache runs image-major (each thread a run of images, then of
# groups: the uneven groups above at batch 3, and here 200 output channels at batch 2);
# at batch 1 many groups are handed out dynamically.
SPLIT_CASES = [dict(x_shape=(N, C, H, W), w_shape=(K, C, R, R), stride=(s, s), pads=pads,
                    dilation=(1, 1))
               for N, C, K, H, W, R, s, pads in [
                   (1, 16, 24, 23, 19, 3, 1, (1, 1, 1, 1)),
                   (3, 24, 16, 9, 14, 3, 2, (1, 2, 0, 1)),
                   (3, 200, 40, 6, 7, 3, 1, (1, 1, 1, 1)),
                   (1, 21, 35, 17, 13, 1, 2, (0, 0, 0, 0)),
                   (3, 13, 9, 11, 10, 1, 1, (1, 0, 0, 2)),
                   # 13 groups of one pair: image-major at batch 2 (2.2 MB of weights),
                   # handed out dynamically at batch 1 (2 and 3 threads)
                   (2, 300, 200, 6, 7, 3, 1, (1, 1, 1, 1)),
                   (1, 300, 200, 6, 7, 3, 1, (1, 1, 1, 1))]]


@pytest.mark.parametrize("c", SPLIT_CASES, ids=case_id)
def test_input_rows_prepared_by_each_thread(isa, threads, c, rng):
    run_case(c, (False, True, False, True), rng)


@pytest.mark.parametrize("N,C,K", [(2, 20, 36), (1, 300, 200), (3, 300, 200)],
                         ids=["static", "dynamic", "image-major"])
def test_threads_do_not_change_bits(rng, N, C, K):
    """Each output is summed by one kernel call in a fixed order, whatever the split
    (equal-work runs; with many groups of output blocks, groups handed out at batch 1
    and runs of images at batch 3)."""
    x = to_nchw8c(rng.standard_normal((N, C, 11, 13)).astype(np.float32))
    w = pack_nchw8c_weights(rng.standard_normal((K, C, 3, 3)).astype(np.float32))
    before = fastconv.get_num_threads()
    try:
        outs = []
        for t in (1, 2, 3):
            fastconv.set_num_threads(t)
            outs.append(conv2d_nchw8c(x, w, stride=(1, 2), padding=1, relu=True))
    finally:
        fastconv.set_num_threads(before)
    assert np.array_equal(outs[0], outs[1]) and np.array_equal(outs[0], outs[2])


def test_padded_channels_of_inputs_ignored(rng):
    """Garbage (NaN) in the residual's padded channels does not reach the output, whose
    padded channels stay zero."""
    x = rng.standard_normal((1, 5, 6, 7)).astype(np.float32)
    w = rng.standard_normal((11, 5, 3, 3)).astype(np.float32)
    res = nchw8c_ref(rng.standard_normal((1, 11, 6, 7)).astype(np.float32))
    res[:, -1, :, :, 3:] = np.nan
    yb = conv2d_nchw8c(to_nchw8c(x), w, padding=1, residual=res)
    assert np.isfinite(yb).all()
    assert not yb[:, -1, :, :, 3:].any()


@pytest.mark.parametrize("R,K", [(3, 40), (1, 36), (3, 12)])
@pytest.mark.parametrize("relu", [False, True])
def test_non_finite_through_the_epilogue(isa, R, K, relu, rng):
    """The epilogue keeps IEEE semantics on every tile (quads, pairs, single blocks):
    a NaN input makes NaN outputs with and without the ReLU (max(0, NaN) is NaN, as in
    torch), a -inf one makes -inf outputs (positive weights), 0 after the ReLU."""
    x = np.abs(rng.standard_normal((2, 16, 9, 11))).astype(np.float32)
    w = np.abs(rng.standard_normal((K, 16, R, R))).astype(np.float32)
    bias = np.zeros(K, np.float32)
    x[0, 3, 4, 5] = np.nan
    x[1, 7, 2, 8] = -np.inf
    yb = conv2d_nchw8c(to_nchw8c(x), w, bias, 1, R // 2, relu=relu)
    got = from_nchw8c(yb, K)
    want = conv2d_ref(x, w, stride=(1, 1), pads=(R // 2,) * 4, dilation=(1, 1))
    if relu:
        want = np.where(np.isnan(want), want, np.maximum(want, 0.0))
    assert np.array_equal(np.isnan(got), np.isnan(want)) and np.isnan(got).any()
    assert np.array_equal(np.isneginf(got), np.isneginf(want))
    assert np.isneginf(got).any() != relu
    fin = np.isfinite(want)
    assert np.allclose(got[fin], want[fin], rtol=1e-4, atol=1e-4)
    # a zero map with zero weights: +0 sums, bias -0 keeps no sign through + 0
    z = conv2d_nchw8c(to_nchw8c(np.zeros((1, 16, 5, 5), np.float32)),
                      np.zeros((K, 16, R, R), np.float32), np.full(K, -0.0, np.float32),
                      1, R // 2, relu=relu)
    assert not np.signbit(z).any()


@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (2, 3, 5, 7), (1, 8, 4, 4), (3, 17, 3, 9),
                                   (1, 64, 7, 7), (0, 5, 2, 2)])
def test_reorders_round_trip_exactly(shape, rng):
    x = rng.standard_normal(shape).astype(np.float32)
    x.flat[::7] = np.nan   # bits, not values: NaN and signed zeros travel unchanged
    x.flat[1::11] = -0.0
    xb = to_nchw8c(x)
    want = nchw8c_ref(x)
    assert xb.dtype == np.float32 and xb.shape == want.shape
    assert np.array_equal(xb.view(np.uint32), want.view(np.uint32))
    back = from_nchw8c(xb, shape[1])
    assert np.array_equal(back.view(np.uint32), x.view(np.uint32))


def test_from_nchw8c_drops_padded_channels(rng):
    xb = rng.standard_normal((2, 2, 3, 4, 8)).astype(np.float32)
    got = from_nchw8c(xb, 13)
    want = xb.transpose(0, 1, 4, 2, 3).reshape(2, 16, 3, 4)[:, :13]
    assert np.array_equal(got, want)


def test_plain_and_packed_weights_agree(rng):
    x = to_nchw8c(rng.standard_normal((1, 9, 8, 8)).astype(np.float32))
    w = rng.standard_normal((10, 9, 3, 3)).astype(np.float32)
    pw = pack_nchw8c_weights(w)
    assert isinstance(pw, Nchw8cWeights) and pw.shape == w.shape
    assert np.array_equal(conv2d_nchw8c(x, w, padding=1), conv2d_nchw8c(x, pw, padding=1))


def test_float64_inputs_converted(rng):
    x = rng.standard_normal((1, 3, 5, 5))
    w = rng.standard_normal((4, 3, 3, 3))
    y = from_nchw8c(conv2d_nchw8c(to_nchw8c(x), w), 4)
    want = conv2d_ref(x.astype(np.float32), w.astype(np.float32))
    assert_close(y, want, conv2d_ref(np.abs(x), np.abs(w)), 27)


def test_empty_batch():
    yb = conv2d_nchw8c(np.zeros((0, 1, 5, 5, 8), np.float32), np.zeros((3, 2, 3, 3), np.float32))
    assert yb.shape == (0, 1, 3, 3, 8)


XB = np.zeros((1, 1, 6, 6, 8), np.float32)
WT = np.zeros((4, 5, 3, 3), np.float32)


@pytest.mark.parametrize("call,exc,match", [
    (lambda: conv2d_nchw8c(XB[0], WT), ValueError, r"x to be 5-D"),
    (lambda: conv2d_nchw8c(np.zeros((1, 2, 6, 6, 8), np.float32), WT), ValueError,
     r"expects x of shape \(N, 1, H, W, 8\)"),
    (lambda: conv2d_nchw8c(np.zeros((1, 1, 6, 6, 4), np.float32), WT), ValueError,
     r"expects x of shape"),
    (lambda: conv2d_nchw8c(XB, WT[0]), ValueError, r"weight to be 4-D"),
    (lambda: conv2d_nchw8c(XB, WT, stride=0), ValueError, r"stride must be >= 1"),
    (lambda: conv2d_nchw8c(XB, WT, padding=-1), ValueError, r"padding"),
    (lambda: conv2d_nchw8c(XB, np.zeros((4, 5, 9, 9), np.float32)), ValueError, r"height|width"),
    (lambda: conv2d_nchw8c(XB, WT, np.zeros(3, np.float32)), ValueError, r"bias of shape \(4,\)"),
    (lambda: conv2d_nchw8c(XB, WT, scale=np.zeros(5, np.float32)), ValueError, r"scale"),
    (lambda: conv2d_nchw8c(XB, WT, padding=1, residual=np.zeros((1, 4, 6, 6), np.float32)),
     ValueError, r"residual"),
    (lambda: conv2d_nchw8c(XB, WT, relu=1), TypeError, r"relu must be a bool"),
    (lambda: conv2d_nchw8c(XB.astype(complex), WT), TypeError, r"x must hold real numbers"),
    (lambda: to_nchw8c(np.zeros((2, 3, 4), np.float32)), ValueError, r"x to be 4-D"),
    (lambda: to_nchw8c(np.zeros((1, 0, 4, 4), np.float32)), ValueError, r"empty dimension"),
    (lambda: from_nchw8c(XB, 9), ValueError, r"expected x of shape \(N, 2, H, W, 8\)"),
    (lambda: from_nchw8c(XB, 0), ValueError, r"channels must be >= 1"),
    (lambda: from_nchw8c(XB, 2.0), TypeError, r"channels must be an int"),
    (lambda: pack_nchw8c_weights(np.zeros((4, 0, 3, 3), np.float32)), ValueError,
     r"empty dimension"),
])
def test_bad_arguments(call, exc, match):
    with pytest.raises(exc, match=match):
        call()

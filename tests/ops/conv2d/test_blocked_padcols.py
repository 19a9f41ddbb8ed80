"""Padding columns in the blocked forward (conv/blocked.c's make_tiles): the output
pixels run in segments of one band of rows and one class of columns, each over the taps
that read the map's data, tiles spanning rows and holding pixels that are not
consecutive. Against the float64 reference: 3x3 to 7x7, 1x7 and 7x1 kernels, pads 0-3
(asymmetric, and wider than the kernel reaches: columns over padding alone), strides
1-3, dilation 1-2, 1x1 to 15x15 maps, 5/13/17 channels, batch 1 and 3, every epilogue,
1-3 threads, every ISA; through the public blocked forward, the NCHW path that pads
while it reorders (forced and AUTO on 5x5) and the flipped backward-data. An infinite
weight over padding columns alone leaves those outputs finite; NaN passes ReLU."""
import numpy as np
import pytest

import fastconv
from conv_cases import check_conv_case
from library_hooks import forced as forced_mode, run_counter
from reference import assert_close, conv2d_ref

from .test_blocked import COMBOS, case_id, combo_id, run_case
from .test_epilogue import run_case as run_nchw_case

_runs = run_counter("fc_conv_blocked_nchw_runs")


def _case(xs, ws, stride=(1, 1), pads=(0, 0, 0, 0), dilation=(1, 1)):
    return dict(x_shape=xs, w_shape=ws, stride=stride, pads=pads, dilation=dilation, groups=1)


COL_CASES = [
    _case((1, 13, 7, 7), (17, 13, 3, 3), pads=(1, 1, 1, 1)),       # ResNet's 7x7 in miniature
    _case((3, 5, 7, 7), (13, 5, 3, 3), pads=(0, 0, 1, 1)),         # columns only
    _case((1, 17, 14, 14), (5, 17, 3, 3), pads=(1, 1, 1, 1)),
    _case((2, 13, 13, 13), (17, 13, 5, 5), pads=(2, 2, 2, 2)),     # AlexNet's conv3 shape
    _case((1, 5, 9, 11), (13, 5, 7, 7), pads=(3, 3, 3, 3)),
    _case((1, 13, 8, 15), (5, 13, 1, 7), pads=(0, 0, 3, 3)),       # 1x7
    _case((3, 17, 15, 6), (13, 17, 7, 1), pads=(3, 3, 0, 0)),      # 7x1
    _case((1, 8, 5, 6), (8, 8, 3, 3), pads=(0, 0, 4, 5)),          # columns over padding alone
    _case((2, 13, 6, 9), (17, 13, 3, 3), pads=(1, 2, 0, 3)),       # asymmetric
    _case((1, 5, 11, 11), (17, 5, 3, 3), stride=(1, 2), pads=(1, 1, 2, 1)),
    _case((1, 13, 10, 13), (5, 13, 3, 5), stride=(2, 3), pads=(2, 0, 3, 2), dilation=(1, 2)),
    _case((3, 5, 1, 1), (13, 5, 3, 3), pads=(1, 1, 1, 1)),         # 1x1 map
    _case((1, 5, 1, 7), (13, 5, 3, 3), pads=(1, 1, 2, 2)),         # one row
    _case((1, 17, 7, 1), (5, 17, 3, 3), pads=(1, 1, 1, 1)),        # one column
    _case((2, 13, 12, 9), (13, 13, 5, 3), pads=(3, 1, 2, 2), dilation=(2, 2)),
    _case((1, 16, 15, 15), (24, 16, 5, 5), stride=(3, 3), pads=(3, 2, 3, 1)),
    _case((2, 13, 7, 9), (17, 13, 1, 1), stride=(2, 3), pads=(1, 0, 2, 1)),   # 1x1 gathered
    _case((1, 5, 6, 6), (13, 5, 3, 3), pads=(3, 3, 3, 3)),         # pads past the reach
    # wider maps, 19 and 14 output columns
    _case((2, 13, 5, 19), (17, 13, 3, 3), pads=(1, 1, 2, 1)),
    _case((1, 5, 4, 14), (13, 5, 3, 5), pads=(1, 1, 3, 2)),
]


def _random_cases(count, seed):
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        R, S = (int(v) for v in rng.choice([1, 3, 5, 7], size=2))
        stride = tuple(int(v) for v in rng.choice([1, 1, 2, 3], size=2))
        dilation = tuple(int(v) for v in rng.choice([1, 1, 2], size=2))
        pads = tuple(int(p) for p in rng.integers(0, 4, size=4))
        H, W = int(rng.integers(1, 16)), int(rng.integers(1, 16))
        if (R - 1) * dilation[0] + 1 > H + pads[0] + pads[1]:
            continue
        if (S - 1) * dilation[1] + 1 > W + pads[2] + pads[3]:
            continue
        C, K = (int(v) for v in rng.choice([5, 13, 17], size=2))
        cases.append(_case((int(rng.choice([1, 3])), C, H, W), (K, C, R, S), stride, pads,
                           dilation))
    return cases


RANDOM_CASES = _random_cases(24, seed=4321)


@pytest.mark.parametrize("c", COL_CASES + RANDOM_CASES, ids=case_id)
def test_public_forward(isa, threads, c, rng):
    for combo in [(False, False, False, False), (True, True, True, True)]:
        run_case(c, combo, rng)
    run_case(c, (False, True, True, True), rng, in_place=True)


@pytest.mark.parametrize("combo", COMBOS, ids=combo_id)
def test_public_forward_every_epilogue(isa, combo, rng):
    for c in COL_CASES[:6] + COL_CASES[-4:]:
        run_case(c, combo, rng)
        if combo[2]:
            run_case(c, combo, rng, in_place=True)


@pytest.fixture
def forced():
    with forced_mode("fc_conv_blocked_nchw_set_mode"):
        yield


@pytest.mark.parametrize("c", COL_CASES + RANDOM_CASES[:12], ids=case_id)
def test_nchw_forced(isa, forced, threads, c, rng):
    before = _runs()
    check_conv_case(fastconv, c, "auto", rng, "forward")
    assert _runs() == before + 1


@pytest.mark.parametrize("combo", COMBOS, ids=combo_id)
def test_nchw_forced_every_epilogue(isa, forced, combo, rng):
    for c in COL_CASES[:4] + COL_CASES[7:9]:
        run_nchw_case(c, "auto", combo, rng)
        if combo[2]:
            run_nchw_case(c, "auto", combo, rng, in_place=True)


@pytest.mark.parametrize("xs,K", [((2, 24, 13, 13), 20), ((3, 20, 14, 11), 17), ((2, 21, 13, 15), 21)])
def test_auto_5x5_takes_it(isa, threads, xs, K, rng):
    """AUTO's own choice (not forced) on 5x5 pad 2 layers: the path pads while it
    reorders and tells the blocked forward its data columns."""
    before = _runs()
    check_conv_case(fastconv, _case(xs, (K, xs[1], 5, 5), pads=(2, 2, 2, 2)), "auto", rng,
                    "forward")
    assert _runs() == before + 1


@pytest.mark.parametrize("c", [
    _case((2, 24, 14, 13), (20, 24, 5, 5), pads=(2, 2, 2, 2)),     # AUTO's own choice
    _case((3, 13, 7, 7), (17, 13, 3, 3), pads=(1, 1, 1, 1)),
    _case((2, 17, 9, 8), (5, 17, 5, 3), pads=(3, 1, 0, 2)),         # asymmetric columns
    _case((1, 5, 6, 11), (13, 5, 7, 7), pads=(2, 4, 1, 5)),
    _case((1, 13, 9, 9), (17, 13, 3, 3), pads=(2, 2, 1, 3), dilation=(1, 2)),
], ids=case_id)
def test_flipped_backward_data(isa, threads, c, rng):
    with forced_mode("fc_conv_blocked_nchw_set_mode"):
        before = _runs()
        check_conv_case(fastconv, c, "auto", rng, "backward_data")
        assert _runs() == before + 1


# An infinite weight at a tap that reads only padding columns for some outputs: those
# taps are skipped, so the outputs stay finite (and equal the convolution without that
# tap), as oneDNN's; the others read it on data. Checked at the pixels of segments of 4+
# pixels (the small ones, 1-row bands' corners, run their band's taps: blocked.c).
INF_CASES = [  # (case, rows checked)
    (_case((1, 13, 7, 7), (17, 13, 3, 3), pads=(0, 0, 1, 1)), "all"),
    (_case((2, 5, 7, 7), (13, 5, 3, 3), pads=(1, 1, 1, 1)), "inner"),
    (_case((1, 13, 9, 9), (5, 13, 5, 5), pads=(2, 2, 2, 2)), "inner"),
]


def _inf_check(y, c, w, x, s, rows):
    """The inf weights at tap column s (middle row of taps): the S//2 output columns on
    that side read padding there, the others the map."""
    wz = w.copy()
    wz[:, :, :, s] = 0.0
    geo = dict(stride=c["stride"], pads=c["pads"], dilation=c["dilation"])
    want = conv2d_ref(x, wz, **geo)
    mag = conv2d_ref(np.abs(x), np.abs(wz), **geo)
    reach, OH, OW = c["w_shape"][3] // 2, want.shape[2], want.shape[3]
    r = slice(0, OH) if rows == "all" else slice(c["pads"][0], OH - c["pads"][1])
    pad, data = ((slice(0, reach), slice(reach, OW)) if s == 0 else
                 (slice(OW - reach, OW), slice(0, OW - reach)))
    got = np.asarray(y)[:, :, r, pad]
    assert np.isfinite(got).all()
    assert_close(got, want[:, :, r, pad], mag[:, :, r, pad], int(np.prod(w.shape[1:])))
    assert not np.isfinite(np.asarray(y)[:, :, r, data]).any()


@pytest.mark.parametrize("c,rows", INF_CASES, ids=lambda v: case_id(v) if
                         isinstance(v, dict) else str(v))
def test_inf_weight_over_padding_columns(isa, threads, c, rows, rng):
    from fastconv.functional.blocked import (conv2d_nchw8c, from_nchw8c,
                                             pack_nchw8c_weights, to_nchw8c)
    x = rng.standard_normal(c["x_shape"]).astype(np.float32)
    w0 = rng.standard_normal(c["w_shape"]).astype(np.float32)
    R, S = c["w_shape"][2:]
    t, b, l, r = c["pads"]
    for s in (0, S - 1):
        w = w0.copy()
        # the middle row of taps only, so the rows' skipping does not decide the result
        w[:, :, R // 2, s] = np.inf
        yb = conv2d_nchw8c(to_nchw8c(x), pack_nchw8c_weights(w), None, c["stride"],
                           ((t, b), (l, r)), c["dilation"])
        _inf_check(from_nchw8c(yb, c["w_shape"][0]), c, w, x, s, rows)
        with forced_mode("fc_conv_blocked_nchw_set_mode"):
            before = _runs()
            y = fastconv.conv2d(x, w, stride=c["stride"], padding=((t, b), (l, r)),
                                dilation=c["dilation"])
            assert _runs() == before + 1
        _inf_check(y, c, w, x, s, rows)


@pytest.mark.parametrize("c", [COL_CASES[0], COL_CASES[3], COL_CASES[8]], ids=case_id)
def test_nan_passes_relu(isa, c, rng):
    """A NaN in the map's edge column reaches, through ReLU, exactly the outputs whose
    taps read it; the others stay exact."""
    from fastconv.functional.blocked import (conv2d_nchw8c, from_nchw8c,
                                             pack_nchw8c_weights, to_nchw8c)
    x = rng.standard_normal(c["x_shape"]).astype(np.float32)
    w = rng.standard_normal(c["w_shape"]).astype(np.float32)
    x[0, 1, x.shape[2] // 2, 0] = np.nan
    x[-1, 0, 0, -1] = np.nan
    geo = dict(stride=c["stride"], pads=c["pads"], dilation=c["dilation"])
    want = np.maximum(conv2d_ref(x, w, **geo), 0.0)
    nan = np.isnan(want)
    assert nan.any() and not nan.all()
    mag = conv2d_ref(np.nan_to_num(np.abs(x)), np.abs(w), **geo)
    t, b, l, r = c["pads"]
    yb = conv2d_nchw8c(to_nchw8c(x), pack_nchw8c_weights(w), None, c["stride"],
                       ((t, b), (l, r)), c["dilation"], relu=True)
    y = from_nchw8c(yb, c["w_shape"][0])
    np.testing.assert_array_equal(np.isnan(y), nan)
    assert_close(np.where(nan, 0, y), np.where(nan, 0, want), mag, int(np.prod(w.shape[1:])))

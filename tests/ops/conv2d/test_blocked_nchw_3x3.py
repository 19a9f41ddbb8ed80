"""AUTO's 3x3 rule for the blocked NCHW kernel (conv2d.c, blocked_3x3_pays): the forward
(conv/blocked_nchw.c) and backward-data as the flipped forward (conv/bwd_data_flipped.c,
the weights flipped straight into the blocked arrangement) where a 3x3 stride-1 layer
has 64 or more input and output channels, neither more than twice the other, an input
of at most 2^19 floats, and maps up to 14x14 or batch 1; the forward not where im2col
reads its weights in place. Where the ISA's kernel table sets all_3x3 (AVX-512) every
such layer, the in-place forward only on outputs of more than 64 positions, and the
forward of such layers at stride 2 too (outputs of more than 64 positions); and there
narrower stride-1 layers (16+ channels, under 64 on one side) on maps under 28x28,
whatever AUTO picked for them (blocked_narrow_3x3). Checked:
the routes against the float64 reference (odd channel counts, batch 1-3, every ISA, 1-3
threads), the flipped route forced on odd shapes, the caller's workspace, and that AUTO
takes the path exactly where the rule says."""


import numpy as np
import pytest

import fastconv
from fastconv import _C
from conv_cases import case_id, check_bwd_data_caller_workspace, check_conv_case
from library_hooks import forced as forced_mode, run_counter

from .test_bwd_data_flipped import CASES as FLIP_CASES, _flipped_pads

# forwards through the blocked NCHW path so far, backward-data's flipped ones included
_runs = run_counter("fc_conv_blocked_nchw_runs")

INPLACE_MAX_COLS = 256   # im2col.h, FC_IM2COL_INPLACE_MAX_COLS


def _out(c):
    N, _, H, W = c["x_shape"]
    K, _, R, S = c["w_shape"]
    t, b, l, r = c["pads"]
    (sh, sw), (dh, dw) = c["stride"], c["dilation"]
    return N, K, (H + t + b - dh * (R - 1) - 1) // sh + 1, (W + l + r - dw * (S - 1) - 1) // sw + 1


def _all_3x3():
    """The active ISA's kernel table takes every 3x3 layer (registry.c: all_3x3)."""
    return fastconv.get_isa() == "avx512"


def _pays_3x3(N, C, K, H, W, OH, OW, stride1=True):
    """blocked_3x3_pays, restated (no dilation, one group checked by callers)."""
    if K > 2 * C or C > 2 * K:
        return False
    # blocked_narrow_3x3: 16-63 channels on one side, maps under 28x28, stride 1
    if _all_3x3() and stride1 and 16 <= min(C, K) < 64 and OH * OW < 28 * 28:
        return True
    return C >= 64 and K >= 64 and (_all_3x3() or (N * C * H * W <= 1 << 19
                                                  and (OH * OW <= 14 * 14 or N == 1)))


def _expected(c):
    """(forward, backward-data) through the blocked path by AUTO's 3x3 rule, for cases
    where AUTO picks im2col (asserted by the tests)."""
    N, C, H, W = c["x_shape"]
    K, _, R, S = c["w_shape"]
    plain = (R, S) == (3, 3) and c["stride"] == (1, 1) and c["dilation"] == (1, 1) and \
        c["groups"] == 1
    _, _, OH, OW = _out(c)
    # the in-place im2col's outputs (up to INPLACE_MAX_COLS) stay with it, all_3x3's
    # above 64 positions excepted
    fwd = plain and _pays_3x3(N, C, K, H, W, OH, OW) and \
        N * OH * OW > (64 if _all_3x3() else INPLACE_MAX_COLS)
    # stride 2 where the table takes all 3x3 layers, outputs of more than 64 positions
    fwd = fwd or ((R, S) == (3, 3) and c["stride"] == (2, 2) and c["dilation"] == (1, 1) and
                  c["groups"] == 1 and _all_3x3() and _pays_3x3(N, C, K, H, W, OH, OW, False) and
                  N * OH * OW > 64)
    # the flipped forward: K and C swapped, grad_y in, the input's H x W out
    bwd = plain and min(_flipped_pads(c)) >= 0 and _pays_3x3(N, K, C, OH, OW, H, W)
    return fwd, bwd


def _case(xs, K, pads=(1, 1, 1, 1), stride=(1, 1), dilation=(1, 1)):
    return dict(x_shape=xs, w_shape=(K, xs[1], 3, 3), stride=stride, pads=pads,
                dilation=dilation, groups=1)


# Shapes the rule takes, with odd channel counts, batch 1-3, asymmetric and no padding.
RULE_CASES = [
    _case((1, 65, 17, 17), 65),                       # batch 1, 289 positions: both
    _case((2, 67, 9, 11), 67),                        # 198 columns: in place (all_3x3: both)
    _case((3, 64, 10, 10), 64),                       # both
    _case((2, 72, 13, 14), 72, pads=(0, 2, 1, 1)),    # asymmetric padding: both
    _case((2, 64, 12, 12), 64, pads=(0, 0, 0, 0)),    # unpadded: in place (all_3x3: both)
]


# Stride 2 by the rule where the table sets all_3x3: odd channels and maps, batch 1-3,
# asymmetric padding.
STRIDED_CASES = [
    _case((1, 65, 17, 17), 67, stride=(2, 2)),
    _case((3, 64, 14, 15), 128, pads=(0, 1, 1, 0), stride=(2, 2)),
    _case((3, 96, 11, 9), 72, stride=(2, 2)),         # 90 output positions
]


@pytest.mark.parametrize("case", STRIDED_CASES, ids=case_id)
def test_strided_rule_matches_reference(isa, threads, case):
    rng = np.random.default_rng(29)
    before = _runs()
    check_conv_case(fastconv, case, "auto", rng, "forward")
    assert _runs() - before == _expected(case)[0] == _all_3x3()


def _select(c, pass_):
    return _C.conv2d_select_algorithm(c["x_shape"], c["w_shape"][0], 3, 3, c["stride"], c["pads"],
                                      c["dilation"], 1, pass_)


def test_rule_cases_reach_both_routes():
    exp = [_expected(c) for c in RULE_CASES]
    assert all(b for _, b in exp) and sum(f for f, _ in exp) == (5 if _all_3x3() else 3)
    assert all(_select(c, p) == "im2col" for c in RULE_CASES for p in (0, 1))


@pytest.mark.parametrize("pass_", ["forward", "backward_data"])
@pytest.mark.parametrize("case", RULE_CASES, ids=case_id)
def test_rule_routes_match_reference(isa, threads, case, pass_):
    """By AUTO's rule (no hook): the blocked forward or the flipped backward-data where
    the rule says, against the float64 reference."""
    rng = np.random.default_rng(31)
    before = _runs()
    check_conv_case(fastconv, case, "auto", rng, pass_)
    assert _runs() - before == _expected(case)[pass_ == "backward_data"]


# Backward-data through the flipped blocked route forced by the test hook: odd channel
# counts (partial blocks, an odd number of output blocks), kernels 1x1 to 5x5,
# asymmetric paddings up to the flipped limit, dilations; stride 1, one group.
FORCED_CASES = [c for c in FLIP_CASES
                if c["stride"] == (1, 1) and c["groups"] == 1 and min(_flipped_pads(c)) >= 0]


def test_forced_cases_cover():
    assert len(FORCED_CASES) >= 12
    assert any(c["dilation"] != (1, 1) for c in FORCED_CASES)
    assert any(c["x_shape"][1] % 8 and c["w_shape"][0] % 8 for c in FORCED_CASES)
    assert any(c["x_shape"][1] > c["w_shape"][0] for c in FORCED_CASES)
    assert any(c["x_shape"][1] < c["w_shape"][0] for c in FORCED_CASES)


@pytest.mark.parametrize("case", FORCED_CASES, ids=case_id)
def test_forced_backward_data_matches_reference(isa, threads, case):
    rng = np.random.default_rng(37)
    with forced_mode("fc_conv_blocked_nchw_set_mode"):
        before = _runs()
        check_conv_case(fastconv, case, "auto", rng, "backward_data")
        assert _runs() == before + 1


def test_forced_keeps_explicit_and_strided(rng):
    """The hook forces only AUTO's stride-1 backward-data: an explicit algorithm and a
    stride-2 layer (no flipped forward) keep theirs."""
    x = rng.standard_normal((2, 9, 11, 11)).astype(np.float32)
    w = rng.standard_normal((7, 9, 3, 3)).astype(np.float32)
    gy = rng.standard_normal((2, 7, 11, 11)).astype(np.float32)
    gy2 = rng.standard_normal((2, 7, 6, 6)).astype(np.float32)
    with forced_mode("fc_conv_blocked_nchw_set_mode"):
        before = _runs()
        for algo in ("im2col", "direct"):
            fastconv.conv2d_backward(gy, x, w, padding=1, algorithm=algo, weight_grad=False)
        fastconv.conv2d_backward(gy2, x, w, stride=2, padding=1, weight_grad=False)
        assert _runs() == before


@pytest.mark.parametrize("case", RULE_CASES[:3] + FORCED_CASES[:6], ids=case_id)
def test_caller_workspace(case):
    """Through the C API with AUTO and the caller's workspace (the hook on, so every case
    takes the flipped blocked route): exactly the reported size serves, 64 bytes less is
    refused before grad_x is touched."""
    with forced_mode("fc_conv_blocked_nchw_set_mode"):
        check_bwd_data_caller_workspace(fastconv, case, "auto", 41, _runs)


# AUTO's choice at the rule's edges: (x shape, K, pads, stride, dilation), each with
# what the rule says for the forward and the backward-data (restated by _expected,
# asserted here literally too, so that the restatement cannot drift unnoticed).
EDGES = [  # ..., (forward, backward-data), the same where the table's all_3x3 is set
    ((1, 64, 56, 56), 64, 1, 1, 1, (True, True), (True, True)),      # ResNet 56x56 batch 1
    ((1, 64, 20, 20), 64, 1, 1, 1, (True, True), (True, True)),      # batch 1, over 14x14
    ((1, 64, 15, 15), 64, 1, 1, 1, (False, True), (True, True)),     # 225 columns: in place
    ((1, 64, 8, 8), 64, 1, 1, 1, (False, True), (False, True)),      # 64 columns: in place
    ((2, 64, 14, 14), 64, 1, 1, 1, (True, True), (True, True)),      # 14x14 at batch 2
    ((2, 64, 15, 15), 64, 1, 1, 1, (False, False), (True, True)),    # over 14x14 at batch 2
    ((2, 64, 7, 7), 64, 1, 1, 1, (False, True), (True, True)),       # 98 columns: in place
    ((2, 63, 14, 14), 63, 1, 1, 1, (False, False), (True, True)),    # 63 channels: narrow
    ((4, 32, 8, 8), 32, 1, 1, 1, (False, False), (True, True)),      # CIFAR's 8x8 stage
    ((1, 48, 4, 4), 48, 1, 1, 1, (False, False), (False, True)),     # 16 columns: in place
    ((2, 15, 14, 14), 16, 1, 1, 1, (False, False), (False, False)),  # 15 input channels
    ((2, 40, 14, 14), 81, 1, 1, 1, (False, False), (False, False)),  # narrow, over twice
    ((2, 65, 14, 14), 65, 1, 1, 1, (True, True), (True, True)),      # 65 channels
    ((2, 64, 14, 14), 72, 1, 1, 1, (True, True), (True, True)),      # more output channels
    ((2, 72, 14, 14), 64, 1, 1, 1, (True, True), (True, True)),      # fewer output channels
    ((2, 64, 14, 14), 128, 1, 1, 1, (True, True), (True, True)),     # twice as many
    ((2, 64, 14, 14), 129, 1, 1, 1, (False, False), (False, False)),  # more than twice
    ((2, 129, 14, 14), 64, 1, 1, 1, (False, False), (False, False)),  # fewer than half
    ((2, 64, 14, 14), 63, 1, 1, 1, (False, False), (True, True)),    # 63 output: narrow

    ((10, 256, 14, 14), 256, 1, 1, 1, (True, True), (True, True)),   # 501,760 input floats
    ((12, 256, 13, 13), 384, 1, 1, 1, (True, False), (True, True)),  # grad_y over 2^19
    ((13, 256, 13, 13), 384, 1, 1, 1, (False, False), (True, True)),  # 562,432 input floats
    ((2, 64, 27, 27), 64, 1, 2, 1, (False, False), (True, False)),   # stride 2 (14x14 out)
    ((1, 64, 15, 15), 64, 1, 2, 1, (False, False), (False, False)),  # stride 2, 64 positions
    ((1, 64, 17, 17), 128, 1, 2, 1, (False, False), (True, False)),  # stride 2, 81 positions
    ((2, 63, 27, 27), 126, 1, 2, 1, (False, False), (False, False)),  # stride 2, 63 channels
    ((2, 64, 16, 16), 64, 2, 1, 2, (False, False), (False, False)),  # dilation 2
]

@pytest.mark.parametrize("xs,K,want", [
    ((2, 16, 27, 27), 16, True),    # under 28x28: blocked, where AUTO picks F(4x4)
    ((2, 16, 28, 28), 16, False),   # 28x28: direct_narrow_3x3 keeps it
    ((8, 24, 20, 20), 20, True),
], ids=["16-at-27x27", "16-at-28x28", "24-to-20-at-20x20"])
def test_narrow_layers_leave_winograd_and_direct_below_28x28(rng, xs, K, want):
    """blocked_narrow_3x3 replaces AUTO's Winograd and direct too, not only im2col: the
    narrow layers run blocked forward and backward-data on maps under 28x28."""
    c = _case(xs, K)
    assert _expected(c) == ((want, want) if _all_3x3() else (False, False))
    assert _select(c, 0) != "im2col"
    for pass_ in ("forward", "backward_data"):
        before = _runs()
        check_conv_case(fastconv, c, "auto", rng, pass_)
        assert _runs() - before == (want and _all_3x3())


@pytest.mark.parametrize("xs,K,pad,stride,dil,want,want_all", EDGES,
                         ids=["x".join(map(str, e[0])) + f"-k{e[1]}-s{e[3]}-d{e[4]}"
                              for e in EDGES])
def test_auto_takes_it_exactly_where_the_rule_says(xs, K, pad, stride, dil, want, want_all):
    c = _case(xs, K, (pad,) * 4, (stride, stride), (dil, dil))
    want = want_all if _all_3x3() else want
    assert _expected(c) == want
    assert _select(c, 0) == "im2col" and _select(c, 1) == "im2col"
    rng = np.random.default_rng(43)
    x = rng.standard_normal(xs).astype(np.float32)
    w = (rng.standard_normal((K, xs[1], 3, 3)) / 16).astype(np.float32)
    gy = rng.standard_normal(_out(c)).astype(np.float32)
    args = dict(padding=pad, stride=stride, dilation=dil)
    before = _runs()
    y = fastconv.conv2d(x, w, **args)
    assert (_runs() - before == 1) == want[0]
    before = _runs()
    gx = fastconv.conv2d_backward(gy, x, w, weight_grad=False, **args)[0]
    assert (_runs() - before == 1) == want[1]
    # either way the results agree with im2col's (which the rule never replaces)
    np.testing.assert_allclose(y, fastconv.conv2d(x, w, algorithm="im2col", **args),
                               rtol=1e-4, atol=1e-4 * np.abs(y).max())
    gx2 = fastconv.conv2d_backward(gy, x, w, algorithm="im2col", weight_grad=False, **args)[0]
    np.testing.assert_allclose(gx, gx2, rtol=1e-4, atol=1e-4 * np.abs(gx2).max())

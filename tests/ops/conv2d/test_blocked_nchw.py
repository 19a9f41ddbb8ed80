"""The NCHW forward through the blocked direct kernel with the reorders at the call's
edge (conv/blocked_nchw.c): forced on through the library's test hook for random shapes
(odd sizes, batch 1, 5/13/17 channels, strides, paddings, dilations, 1x1 to 7x7)
against the float64 reference, on every ISA and 1-3 threads; every epilogue combination,
the residual as y included; and AUTO's rule takes it on a 5x5 layer and not on a 3x3
one, a small map, or an explicit algorithm."""

import numpy as np
import pytest

import fastconv
from fastconv import _C
from conv_cases import case_id, check_conv_case, random_conv_cases
from library_hooks import forced as forced_mode, run_counter

from .test_epilogue import COMBOS, combo_id, run_case

# forwards that took the path so far (a counter in the library)
_runs = run_counter("fc_conv_blocked_nchw_runs")


@pytest.fixture
def forced():
    """Every AUTO forward of one group takes the path, whatever its shape."""
    with forced_mode("fc_conv_blocked_nchw_set_mode"):
        yield


def _case(xs, ws, stride=(1, 1), pads=(0, 0, 0, 0), dilation=(1, 1)):
    return dict(x_shape=xs, w_shape=ws, stride=stride, pads=pads, dilation=dilation, groups=1)


def _channel_cases(count, seed):
    """Channel counts 5, 13, 17 (not multiples of the block of 8), 3x3 to 7x7 kernels
    mostly at stride 1, odd maps, batch 1 mostly."""
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        C, K = int(rng.choice([5, 13, 17])), int(rng.choice([5, 13, 17]))
        R, S = int(rng.choice([3, 5, 5, 7])), int(rng.choice([3, 5, 5, 7]))
        stride = (int(rng.choice([1, 1, 2])), int(rng.choice([1, 1, 2])))
        dilation = (int(rng.choice([1, 1, 2])), 1)
        pads = tuple(int(p) for p in rng.integers(0, 4, size=4))
        H, W = int(rng.integers(1, 16)), int(rng.integers(1, 20))
        if (R - 1) * dilation[0] + 1 > H + pads[0] + pads[1]:
            continue
        if (S - 1) * dilation[1] + 1 > W + pads[2] + pads[3]:
            continue
        cases.append(_case((int(rng.choice([1, 1, 2, 3])), C, H, W), (K, C, R, S), stride,
                           pads, dilation))
    return cases


CASES = [c for c in random_conv_cases(24, seed=9201) if c["groups"] == 1] + \
    _channel_cases(14, seed=9202) + [
        # dense5x5 in miniature: 2 output blocks and a partial third, pad 2
        _case((2, 17, 9, 11), (21, 17, 5, 5), pads=(2, 2, 2, 2)),
        # no padding, one output pixel per image
        _case((3, 8, 5, 5), (8, 8, 5, 5)),
        # asymmetric padding, 1x1 output column
        _case((1, 13, 6, 3), (5, 13, 5, 5), pads=(1, 0, 2, 0)),
        # the reorder's padding rows, whose taps the blocked forward skips: output rows
        # over padding alone, dilation, stride against padding, 7x7 on 7x7 padded by 3
        _case((2, 13, 5, 6), (17, 13, 3, 3), pads=(4, 5, 1, 1)),
        _case((1, 9, 7, 8), (11, 9, 3, 3), pads=(3, 2, 2, 2), dilation=(2, 1)),
        _case((3, 17, 9, 9), (19, 17, 5, 5), stride=(2, 1), pads=(3, 3, 2, 2)),
        _case((2, 16, 7, 7), (24, 16, 7, 7), pads=(3, 3, 3, 3)),
    ]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_forward_matches_reference(isa, forced, threads, case, rng):
    before = _runs()
    check_conv_case(fastconv, case, "auto", rng, "forward")
    assert _runs() == before + 1


EPILOGUE_CASES = CASES[:3] + CASES[-3:]


@pytest.mark.parametrize("combo", COMBOS, ids=combo_id)
def test_epilogue(isa, forced, combo, rng):
    before = _runs()
    for c in EPILOGUE_CASES:
        run_case(c, "auto", combo, rng)
    assert _runs() == before + len(EPILOGUE_CASES)


@pytest.mark.parametrize("threads_", [1, 2, 3])
@pytest.mark.parametrize("combo", [c for c in COMBOS if c[2]], ids=combo_id)
def test_epilogue_residual_is_y(isa, forced, combo, threads_, rng):
    """y may be the residual buffer, updated in place (the C API's promise)."""
    before_threads = fastconv.get_num_threads()
    fastconv.set_num_threads(threads_)
    try:
        before = _runs()
        for c in EPILOGUE_CASES:
            run_case(c, "auto", combo, rng, in_place=True)
        assert _runs() == before + len(EPILOGUE_CASES)
    finally:
        fastconv.set_num_threads(before_threads)


def test_empty_batch(forced):
    x = np.zeros((0, 9, 7, 7), np.float32)
    w = np.ones((6, 9, 5, 5), np.float32)
    y = fastconv.conv2d(x, w, padding=2)
    assert y.shape == (0, 6, 7, 7)


def _select(xs, K, R, pad):
    return _C.conv2d_select_algorithm(xs, K, R, R, (1, 1), (pad,) * 4, (1, 1), 1, 0)


def test_auto_takes_it_on_5x5(rng):
    """A dense5x5-like layer (5x5, pad 2, 16+ channels, a batch of 14x14 maps): AUTO
    runs it (still reported as im2col, the algorithm it replaces) and agrees with im2col."""
    x = rng.standard_normal((3, 24, 14, 14)).astype(np.float32)
    w = (rng.standard_normal((20, 24, 5, 5)) / 24).astype(np.float32)
    b = rng.standard_normal(20).astype(np.float32)
    assert _select(x.shape, 20, 5, 2) == "im2col"
    before = _runs()
    y = fastconv.conv2d(x, w, b, padding=2, relu=True)
    assert _runs() == before + 1
    want = fastconv.conv2d(x, w, b, padding=2, algorithm="im2col", relu=True)
    assert _runs() == before + 1
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("xs,K", [((4, 6, 14, 14), 16), ((4, 15, 14, 14), 32)],
                         ids=["lenet-c3", "15-to-32"])
def test_auto_takes_it_with_few_input_channels(rng, xs, K):
    """5x5 with 6-15 input channels and 16-32 output channels (LeNet's C3)."""
    before = _runs()
    check_conv_case(fastconv, _case(xs, (K, xs[1], 5, 5)), "auto", rng, "forward")
    assert _runs() == before + 1


@pytest.mark.parametrize("xs,K,pad", [((4, 16, 14, 14), 6, 0), ((2, 24, 16, 16), 8, 2)],
                         ids=["16-to-6", "24-to-8"])
def test_auto_backward_data_with_few_output_channels(rng, xs, K, pad):
    """The same rule on the flipped forward: backward-data of 5x5 layers with 16-32
    input and 6-15 output channels runs blocked (conv2d.c, bwd_blocked_flipped)."""
    before = _runs()
    check_conv_case(fastconv, _case(xs, (K, xs[1], 5, 5), pads=(pad,) * 4), "auto", rng,
                    "backward_data")
    assert _runs() == before + 1


@pytest.mark.parametrize("xs,K,R,pad", [
    ((3, 24, 28, 28), 20, 3, 1),     # 3x3 from 28x28 up (blocked_narrow_3x3): direct
    ((1, 24, 7, 7), 20, 5, 2),       # a small map: im2col with the weights in place
    ((3, 4, 14, 14), 20, 5, 2),      # fewer than 6 input channels
    ((3, 8, 14, 14), 40, 5, 2),      # 6-15 input channels, more than 32 output channels
    ((3, 8, 14, 14), 12, 5, 2),      # 6-15 input channels, fewer than 16 output channels
], ids=["3x3", "small-map", "4-channels", "8-to-40", "8-to-12"])
def test_auto_leaves_it(rng, xs, K, R, pad):
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal((K, xs[1], R, R)).astype(np.float32)
    before = _runs()
    fastconv.conv2d(x, w, padding=pad)
    assert _runs() == before


def test_strided_and_dilated_5x5_stay_with_im2col(rng):
    x = rng.standard_normal((3, 24, 15, 15)).astype(np.float32)
    w = rng.standard_normal((20, 24, 5, 5)).astype(np.float32)
    before = _runs()
    fastconv.conv2d(x, w, stride=2, padding=2)
    fastconv.conv2d(x, w, dilation=2, padding=4)
    assert _runs() == before


def test_explicit_algorithms_keep_their_meaning(forced, rng):
    x = rng.standard_normal((3, 24, 14, 14)).astype(np.float32)
    w = rng.standard_normal((20, 24, 5, 5)).astype(np.float32)
    before = _runs()
    for algo in ("im2col", "direct"):
        fastconv.conv2d(x, w, padding=2, algorithm=algo)
    gy = rng.standard_normal((3, 20, 14, 14)).astype(np.float32)
    fastconv.conv2d_backward(gy, x, w, padding=2, input_grad=False)   # backward-weights
    for algo in ("im2col", "direct"):
        fastconv.conv2d_backward(gy, x, w, padding=2, algorithm=algo)
    assert _runs() == before


# Backward-data through the flipped forward on the blocked kernel (bwd_data_flipped.c):
# AUTO's choice at stride 1 for 5x5+ layers with no more output than input channels, or
# with up to three times as many and 16+ input channels where the padding keeps the map's size
# (bwd_blocked_wider_pays), on more positions than im2col's in-place range (256).
BWD_CASES = [
    _case((2, 24, 14, 13), (20, 24, 5, 5), pads=(2, 2, 2, 2)),
    _case((3, 17, 9, 11), (17, 17, 5, 5), pads=(2, 2, 2, 2)),
    _case((4, 21, 8, 10), (17, 21, 5, 5), pads=(3, 3, 1, 1)),   # rows and columns differ
    _case((2, 19, 12, 12), (16, 19, 7, 7), pads=(3, 3, 3, 3)),
    # more output channels (Inception's 35x35 5x5, 48 -> 64, in miniature)
    _case((3, 17, 9, 11), (29, 17, 5, 5), pads=(2, 2, 2, 2)),   # odd counts, 4 output blocks
    _case((1, 16, 17, 19), (32, 16, 5, 5), pads=(2, 2, 2, 2)),  # batch 1, exactly twice
    _case((3, 20, 10, 9), (33, 20, 5, 7), pads=(2, 2, 3, 3)),   # 5x7, rows and columns differ
    _case((2, 16, 13, 11), (24, 16, 7, 7), pads=(3, 3, 3, 3)),  # 7x7
    _case((2, 48, 12, 12), (64, 48, 5, 5), pads=(2, 2, 2, 2)),  # Inception's channels
    _case((2, 16, 12, 12), (33, 16, 5, 5), pads=(2, 2, 2, 2)),  # more than twice
    _case((1, 32, 17, 17), (96, 32, 5, 5), pads=(2, 2, 2, 2)),  # three times (AlexNet's 2.7x)
]


@pytest.mark.parametrize("case", BWD_CASES, ids=case_id)
def test_backward_data_takes_it_and_matches_reference(isa, threads, case, rng):
    x = rng.standard_normal(case["x_shape"]).astype(np.float32)
    w = rng.standard_normal(case["w_shape"]).astype(np.float32)
    t, b, l, r = case["pads"]
    x64 = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (t, b), (l, r)))
    K, C, R, S = case["w_shape"]
    N, _, Hp, Wp = x64.shape
    OH, OW = Hp - R + 1, Wp - S + 1
    gy = rng.standard_normal((N, K, OH, OW)).astype(np.float32)
    # float64 reference: scatter gy through w onto the padded input, then crop
    gxp = np.zeros_like(x64)
    for i in range(R):
        for j in range(S):
            gxp[:, :, i:i + OH, j:j + OW] += np.einsum("nkhw,kc->nchw", gy.astype(np.float64),
                                                       w[:, :, i, j].astype(np.float64))
    want = gxp[:, :, t:Hp - b, l:Wp - r]
    before = _runs()
    gx, _, _ = fastconv.conv2d_backward(gy, x, w, padding=(t, l), weight_grad=False)
    assert _runs() == before + 1
    scale = np.abs(want).max()
    assert np.abs(gx - want).max() <= 1e-5 * scale * np.sqrt(K * R * S)


def test_backward_data_more_outputs_asymmetric_padding(isa, threads, rng):
    """The wider rule with an asymmetric padding that keeps the map's size (the flipped
    forward's own padding is then asymmetric the other way)."""
    before = _runs()
    check_conv_case(fastconv, _case((3, 20, 10, 9), (33, 20, 5, 5), pads=(1, 3, 3, 1)),
                    "auto", rng, "backward_data")
    assert _runs() == before + 1


@pytest.mark.parametrize("case", [
    _case((2, 16, 12, 12), (49, 16, 5, 5), pads=(2, 2, 2, 2)),   # more than three times
    _case((2, 13, 12, 12), (20, 13, 5, 5), pads=(2, 2, 2, 2)),   # under 16 input channels
    _case((2, 16, 12, 12), (24, 16, 5, 5)),                       # unpadded: grad_x larger
    _case((2, 16, 12, 12), (24, 16, 5, 5), pads=(1, 1, 1, 1)),   # padded, still larger
    _case((2, 16, 28, 28), (24, 16, 3, 3), pads=(1, 1, 1, 1)),   # 3x3 from 28x28: direct
    _case((1, 16, 12, 12), (24, 16, 5, 5), pads=(2, 2, 2, 2)),   # 144 positions: in place
], ids=case_id)
def test_backward_data_with_more_outputs_outside_the_rule_stays_with_im2col(rng, case):
    """Backward-data with more output than input channels takes the flipped blocked
    forward only inside bwd_blocked_wider_pays (BWD_CASES, above); the rule's edges stay
    with im2col and still match the reference."""
    before = _runs()
    check_conv_case(fastconv, case, "auto", rng, "backward_data")
    assert _runs() == before

"""AUTO's NCHW forward, backward-data and backward-weights of 5x5 stride-1 layers
through Winograd F(2x2,5x5) on the blocked layout (conv2d.c, blocked_winograd_5x5;
conv/blocked_winograd.c, conv/blocked_winograd_bwd_weights.c): 6x6 tiles with F(4x4,3x3)'s
points, so its input transform, the filters (the backward-data's flipped) transformed
on every call, the weight gradient GT dU G. Checked against the float64 reference with
both test hooks forcing the route on odd shapes (channels not multiples of 8, batch 1-3,
asymmetric padding up to 4, every ISA, 1-3 threads), the epilogue through it, the
non-finite fix-ups reading 5x5 windows, and where the rule takes it."""

import numpy as np
import pytest

import fastconv
from library_hooks import forced, run_counter
from reference import conv2d_backward_ref, conv2d_ref

from .test_blocked_nchw_winograd import (_cases, case_id, epilogue_through_route,
                                         nan_stays_in_its_window, winograd_and_direct)
from .test_blocked_winograd_bwd_weights import _grads
from .test_winograd import FACTOR, assert_norm_close   # Winograd's bound is norm-wise

_runs = run_counter("fc_conv_blocked_nchw_winograd_runs")
_bww_runs = run_counter("fc_conv_blocked_winograd_bwd_weights_runs")
# F(2x2,5x5) shares F(4x4,3x3)'s points and so its bound's factor (measured worst over
# 200 such cases on each ISA: 1.2-1.6 of the unit, against 16; backward-weights, 60 on
# each: 4.8)
F25 = FACTOR["winograd_f43"]


CASES = _cases(16, seed=5525, R=5) + [((2, 64, 11, 9), (72, 64, 5, 5), (2, 2, 2, 2))]


@pytest.fixture
def route():
    with forced("fc_conv_blocked_nchw_set_mode"), forced("fc_conv_blocked_winograd_set_mode"):
        yield


def _padding(pads):
    return ((pads[0], pads[1]), (pads[2], pads[3]))


@pytest.mark.parametrize("c", CASES, ids=case_id)
def test_forward_matches_reference(isa, threads, route, c, rng):
    xs, ws, pads = c
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    b = rng.standard_normal(ws[0]).astype(np.float32)
    before = _runs()
    y = fastconv.conv2d(x, w, b, padding=_padding(pads))
    assert _runs() == before + 1
    ref = conv2d_ref(x, w, b, pads=pads)
    absref = conv2d_ref(np.abs(x), np.abs(w), np.abs(b), pads=pads)
    assert_norm_close(y, ref, absref, 25 * xs[1], F25, "forward")


@pytest.mark.parametrize("c", CASES, ids=case_id)
def test_backward_data_matches_reference(isa, threads, route, c, rng):
    """The flipped forward: K and C swapped, the 5x5 filters turned around while they are
    transformed; its padding is 4 - the layer's."""
    xs, ws, pads = c
    N, C, H, W = xs
    OH, OW = H + pads[0] + pads[1] - 4, W + pads[2] + pads[3] - 4
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    gy = rng.standard_normal((N, ws[0], OH, OW)).astype(np.float32)
    before = _runs()
    gx, _, _ = fastconv.conv2d_backward(gy, x, w, padding=_padding(pads), weight_grad=False)
    assert _runs() == before + 1
    ref = conv2d_backward_ref(gy, x, w, pads=pads)[0]
    absref = conv2d_backward_ref(np.abs(gy), x, np.abs(w), pads=pads)[0]
    assert_norm_close(gx, ref, absref, 25 * ws[0], F25, "grad_x")


@pytest.mark.parametrize("c", CASES, ids=case_id)
def test_backward_weights_matches_reference(isa, threads, route, c, rng):
    xs, ws, pads = c
    x, w, gy, gw, gb = _grads(xs, ws, pads, rng)
    _, rw, rb = conv2d_backward_ref(gy, x, w, pads=pads)
    _, aw, ab = conv2d_backward_ref(np.abs(gy), np.abs(x), w, pads=pads)
    terms = gy.shape[0] * gy.shape[2] * gy.shape[3]
    assert_norm_close(gw, rw, aw, terms, F25, "grad_weight")
    assert_norm_close(gb, rb, ab, terms, 8.0, "grad_bias")


def test_backward_weights_non_finite(isa, route, rng):
    """A NaN in x's channel 3 spoils grad_weight[:, 3] only (every tap reads it); +inf
    in grad_y's channel 2 gives the direct sums' infinities and NaNs, exactly: those
    filters are recomputed directly."""
    def poison(x, gy):
        x[0, 3, 6, 7] = np.nan
        gy[0, 2, 4, 5] = np.inf

    pads = (2, 2, 2, 2)
    x, w, gy, gw, _ = _grads((1, 11, 14, 14), (9, 11, 5, 5), pads, rng, poison)
    with np.errstate(invalid="ignore"):
        _, rw, _ = conv2d_backward_ref(gy, x, w, pads=pads)
    np.testing.assert_array_equal(np.isnan(gw), np.isnan(rw))
    np.testing.assert_array_equal(np.isposinf(gw), np.isposinf(rw))
    np.testing.assert_array_equal(np.isneginf(gw), np.isneginf(rw))
    ok = np.ones(gw.shape, bool)
    ok[:, 3] = ok[2] = False
    assert np.isfinite(gw[ok]).all()
    _, aw, _ = conv2d_backward_ref(np.abs(np.nan_to_num(gy, posinf=0)),
                                   np.abs(np.nan_to_num(x)), w, pads=pads)
    assert_norm_close(np.where(ok, gw, 0), np.where(ok, rw, 0), aw, 14 * 14, F25,
                      "grad_weight")


def test_forward_epilogue(isa, route, rng):
    epilogue_through_route(rng, (2, 20, 13, 12), (13, 20, 5, 5), (2, 1, 3, 2), F25)


def test_backward_data_nan_stays_in_its_window(isa, route, rng):
    """A NaN in grad_y spoils only the grad_x pixels whose 5x5 window reads it; the
    others, tiles holding it included, are recomputed directly from the flipped
    filters and match the reference."""
    nan_stays_in_its_window(rng, 14, 6, 7, 5, F25)


def test_backward_weights_rule(rng):
    """Without the hooks, backward-weights follows the forward's rule."""
    def takes(xs, K):
        x = rng.standard_normal(xs).astype(np.float32)
        w = rng.standard_normal((K, xs[1], 5, 5)).astype(np.float32)
        gy = rng.standard_normal((xs[0], K) + xs[2:]).astype(np.float32)
        before = _bww_runs()
        fastconv.conv2d_backward(gy, x, w, padding=2, input_grad=False)
        return _bww_runs() - before
    assert takes((1, 96, 27, 27), 256) == 1
    assert takes((4, 32, 28, 28), 32) == 0 and takes((2, 64, 7, 7), 64) == 0


def test_rule(rng):
    """Without the hooks: AlexNet's 96 -> 256 at 27x27 and a batch-1 14x14 map with 64
    channels take F(2x2,5x5); 32 channels in and out, 16 input channels, 7x7 maps (16
    tiles) and set_precision('highest') do not."""
    for xs, K in [((1, 96, 27, 27), 256), ((1, 64, 14, 14), 64)]:
        y, direct, took = winograd_and_direct(rng, xs, K, 5, -1)
        assert took == 1 and not np.array_equal(y, direct), (xs, K)
    for xs, K in [((4, 32, 28, 28), 32), ((4, 16, 28, 28), 64), ((2, 64, 7, 7), 64)]:
        y, direct, took = winograd_and_direct(rng, xs, K, 5, -1)
        assert took == 0 and np.array_equal(y, direct), (xs, K)
    before = fastconv.get_precision()
    fastconv.set_precision("highest")
    try:
        y, direct, took = winograd_and_direct(rng, (1, 96, 27, 27), 256, 5, -1)
    finally:
        fastconv.set_precision(before)
    assert took == 0 and np.array_equal(y, direct)

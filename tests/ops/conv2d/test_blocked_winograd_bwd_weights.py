"""AUTO's backward-weights of 3x3 stride-1 layers by Winograd on the blocked layout
(conv/blocked_winograd_bwd_weights.c): V = BT x B and Y = A grad_y AT per tile, one
GEMM per transform position summing Y^T V over the batch's tiles in bands, gw =
GT dU G. Checked against the float64 reference with the hooks forcing the route on odd
shapes (channels not multiples of 8, batch 1-3, asymmetric padding, several bands,
every ISA, 1-3 threads), grad_bias beside it, non-finite inputs (the direct sum's
values), an empty batch, and where AUTO's rule takes it."""

import numpy as np
import pytest

import fastconv
from fastconv import _C
from library_hooks import forced, run_counter
from reference import conv2d_backward_ref

from .test_blocked_nchw_winograd import _cases, _grow, case_id, route  # noqa: F401 (fixture)
from .test_winograd import FACTOR, assert_norm_close

_runs = run_counter("fc_conv_blocked_winograd_bwd_weights_runs")


CASES = _cases(16, seed=5003)
# One band of a whole batch (bands: about 8 MB of tiles, 128+ tiles): 40 -> 48 at 45x37
# batch 3 (F(4x4): 36 tile rows of 9); and two of 23 and 22 tile rows, the first across
# images: 72 -> 64 at 60x60 batch 3 (F(4x4): 15 rows of 15 tiles an image).
BANDS = [((3, 40, 45, 37), (48, 40, 3, 3), (1, 2, 0, 1)),
         ((3, 72, 60, 60), (64, 72, 3, 3), (1, 1, 1, 1))]


def _grads(xs, ws, pads, rng, mutate=None):
    """x, w, grad_y and the layer's weight and bias gradients (R x R weights ws), the
    route asserted taken."""
    N, C, H, W = xs
    OH, OW = H + pads[0] + pads[1] - ws[2] + 1, W + pads[2] + pads[3] - ws[3] + 1
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    gy = rng.standard_normal((N, ws[0], OH, OW)).astype(np.float32)
    if mutate:
        mutate(x, gy)
    before = _runs()
    _, gw, gb = fastconv.conv2d_backward(gy, x, w, padding=((pads[0], pads[1]),
                                                           (pads[2], pads[3])),
                                         input_grad=False)
    assert _runs() == before + 1
    return x, w, gy, gw, gb


def _check(xs, ws, pads, algo, rng):
    x, w, gy, gw, gb = _grads(xs, ws, pads, rng)
    _, rw, rb = conv2d_backward_ref(gy, x, w, pads=pads)
    _, aw, ab = conv2d_backward_ref(np.abs(gy), np.abs(x), w, pads=pads)
    N, OH, OW = gy.shape[0], gy.shape[2], gy.shape[3]
    assert_norm_close(gw, rw, aw, N * OH * OW, FACTOR[algo], "grad_weight")
    assert_norm_close(gb, rb, ab, N * OH * OW, 8.0, "grad_bias")


@pytest.mark.parametrize("c", CASES, ids=case_id)
def test_matches_reference(isa, threads, route, c, rng):
    xs, ws, pads = _grow(c, route)
    assert _C.conv2d_plan_blocked_winograd(xs, ws[0], pads) == route
    _check(xs, ws, pads, route, rng)


@pytest.mark.parametrize("c", BANDS, ids=case_id)
def test_bands(isa, c, rng):
    xs, ws, pads = c
    with forced("fc_conv_blocked_nchw_set_mode"), forced("fc_conv_blocked_winograd_set_mode"):
        assert _C.conv2d_plan_blocked_winograd(xs, ws[0], pads) == "winograd_f43"
        _check(xs, ws, pads, "winograd_f43", rng)


def test_nan_spoils_only_its_channel(isa, route, rng):
    """A NaN in channel 3 of x: the direct sum makes grad_weight[:, 3] NaN (every tap
    reads it), and so does Winograd (those filters recomputed directly); the other
    input channels' gradients stay finite and match."""
    xs = (1, 11, 30, 30) if route == "winograd_f43" else (1, 11, 12, 12)
    pads = (1, 1, 1, 1)

    def poison(x, gy):
        x[0, 3, 6, 7] = np.nan

    x, w, gy, gw, _ = _grads(xs, (9, 11, 3, 3), pads, rng, poison)
    assert np.isnan(gw[:, 3]).all()
    rest = np.delete(gw, 3, axis=1)
    _, rw, _ = conv2d_backward_ref(gy, np.nan_to_num(x), w, pads=pads)
    _, aw, _ = conv2d_backward_ref(np.abs(gy), np.abs(np.nan_to_num(x)), w, pads=pads)
    assert np.isfinite(rest).all()
    assert_norm_close(rest, np.delete(rw, 3, axis=1), np.delete(aw, 3, axis=1),
                      xs[2] * xs[3], FACTOR[route], "grad_weight")


def test_infinity_gives_the_direct_sums_values(isa, route, rng):
    """+inf in grad_y: the direct sums are +-inf or NaN (inf - inf) by the signs of the
    x values they meet; Winograd's non-finite filters are recomputed to exactly those."""
    xs = (1, 6, 30, 30) if route == "winograd_f43" else (1, 6, 12, 12)
    pads = (1, 1, 1, 1)

    def poison(x, gy):
        gy[0, 2, 4, 5] = np.inf
        gy[0, 2, 8, 1] = np.inf

    x, w, gy, gw, _ = _grads(xs, (5, 6, 3, 3), pads, rng, poison)
    with np.errstate(invalid="ignore"):
        _, rw, _ = conv2d_backward_ref(gy, x, w, pads=pads)
    np.testing.assert_array_equal(np.isnan(gw), np.isnan(rw))
    np.testing.assert_array_equal(np.isposinf(gw), np.isposinf(rw))
    np.testing.assert_array_equal(np.isneginf(gw), np.isneginf(rw))
    assert np.isfinite(np.delete(gw, 2, axis=0)).all()


def test_empty_batch(route):
    x = np.zeros((0, 9, 12, 12), np.float32)
    gy = np.zeros((0, 5, 12, 12), np.float32)
    w = np.ones((5, 9, 3, 3), np.float32)
    _, gw, gb = fastconv.conv2d_backward(gy, x, w, padding=1, input_grad=False)
    assert not gw.any() and not gb.any()


@pytest.mark.skipif(fastconv._C.cpu_isa() != "avx512", reason="AVX-512's all_3x3 rule")
def test_rule(rng):
    """Without the hooks, with AVX-512's table: 3x3 layers of 64+ channels where the
    batch has 48+ tiles of the rule's size (F(2x2) where F(4x4) has fewer: 512 channels
    at 7x7 batch 4); not at batch 2 (32 tiles of 2x2), not under
    set_precision('highest'), not an explicit algorithm."""
    def takes(xs, **kw):
        x = rng.standard_normal(xs).astype(np.float32)
        w = rng.standard_normal((xs[1], xs[1], 3, 3)).astype(np.float32)
        before = _runs()
        fastconv.conv2d_backward(x, x, w, padding=1, input_grad=False, **kw)
        return _runs() - before
    isa = fastconv.get_isa()
    fastconv.set_isa("avx512")
    try:
        assert takes((1, 64, 28, 28)) == 1
        assert takes((4, 512, 7, 7)) == 1
        assert takes((2, 512, 7, 7)) == 0
        assert takes((1, 64, 28, 28), algorithm="im2col") == 0
        precision = fastconv.get_precision()
        fastconv.set_precision("highest")
        try:
            assert takes((1, 64, 28, 28)) == 0
        finally:
            fastconv.set_precision(precision)
    finally:
        fastconv.set_isa(isa)

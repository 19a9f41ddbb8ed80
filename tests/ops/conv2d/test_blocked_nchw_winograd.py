"""AUTO's NCHW forward and backward-data through Winograd on the blocked layout (conv2d.c,
blocked_winograd; conv/blocked_nchw.c): where the plan runs a 3x3 stride-1 layer on
the blocked kernel with the reorders at the call's edge, the inference plan's rule
picks F(2x2) or F(4x4) and the batch has 48+ tiles, the filters are transformed (the
backward-data's flipped) on every call. Checked against the float64 reference with
both test hooks forcing the route on odd shapes (channels not multiples of 8, batch
1-3, asymmetric padding, every ISA, 1-3 threads), the epilogue through it, the
non-finite fix-up reading the flipped filters, and where the rule takes it."""

import numpy as np
import pytest

import fastconv
from fastconv import _C
from library_hooks import forced, run_counter
from reference import conv2d_backward_ref, conv2d_ref

from .test_winograd import FACTOR, assert_norm_close   # Winograd's bound is norm-wise

_runs = run_counter("fc_conv_blocked_nchw_winograd_runs")


def _cases(count, seed, R=3):
    """Random R x R layers (3 or 5), paddings up to R - 1 (a flipped forward's limit)."""
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        N = int(rng.choice([1, 2, 3]))
        C, K = int(rng.integers(1, 30)), int(rng.integers(1, 30))
        pads = tuple(int(p) for p in rng.integers(0, R, size=4))
        H, W = int(rng.integers(1, 16)), int(rng.integers(1, 16))
        if H + pads[0] + pads[1] < R or W + pads[2] + pads[3] < R:
            continue
        cases.append(((N, C, H, W), (K, C, R, R), pads))
    return cases


CASES = _cases(16, seed=4027) + [((2, 64, 9, 9), (72, 64, 3, 3), (1, 1, 1, 1))]


def case_id(c):
    xs, ws, pads = c
    return f"x{'x'.join(map(str, xs))}-K{ws[0]}-p{''.join(map(str, pads))}"


@pytest.fixture(params=["winograd_f23", "winograd_f43"])
def route(request):
    """Both hooks on; the rule under the hook picks the tile size by the shape, so each
    test sizes its maps for the route (F(4x4): 49+ 4x4 tiles an image, 16+ in a batch)."""
    with forced("fc_conv_blocked_nchw_set_mode"), forced("fc_conv_blocked_winograd_set_mode"):
        yield request.param


def _algo(xs, K, pads):
    return _C.conv2d_plan_blocked_winograd(xs, K, pads)


def _grow(c, algo):
    """c, its map sized so that the rule under the hook picks `algo`: F(4x4) needs 49+
    4x4 tiles an image (or 16+ in a batch > 1), F(2x2) fewer (batch 1, up to 12x12)."""
    (N, C, H, W), ws, pads = c
    if algo == "winograd_f43":
        H, W = max(H, 30), max(W, 30)
    else:
        H, W = min(H, 12), min(W, 12)
        N = 1
    return (N, C, H, W), ws, pads


@pytest.mark.parametrize("c", CASES, ids=case_id)
def test_forward_matches_reference(isa, threads, route, c, rng):
    xs, ws, pads = _grow(c, route)
    assert _algo(xs, ws[0], pads) == route
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    b = rng.standard_normal(ws[0]).astype(np.float32)
    before = _runs()
    y = fastconv.conv2d(x, w, b, padding=((pads[0], pads[1]), (pads[2], pads[3])))
    assert _runs() == before + 1
    ref = conv2d_ref(x, w, b, pads=pads)
    absref = conv2d_ref(np.abs(x), np.abs(w), np.abs(b), pads=pads)
    assert_norm_close(y, ref, absref, 9 * xs[1], FACTOR[route], "forward")


@pytest.mark.parametrize("c", CASES, ids=case_id)
def test_backward_data_matches_reference(isa, threads, route, c, rng):
    """The flipped forward: K and C swapped, the filters turned around while they are
    transformed; its padding is 2 - the layer's."""
    xs, ws, pads = _grow(c, route)
    N, C, H, W = xs
    OH, OW = H + pads[0] + pads[1] - 2, W + pads[2] + pads[3] - 2
    assert _algo((N, ws[0], OH, OW), C, tuple(2 - p for p in pads)) == route
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    gy = rng.standard_normal((N, ws[0], OH, OW)).astype(np.float32)
    before = _runs()
    gx, _, _ = fastconv.conv2d_backward(gy, x, w, padding=((pads[0], pads[1]),
                                                           (pads[2], pads[3])),
                                        weight_grad=False)
    assert _runs() == before + 1
    ref = conv2d_backward_ref(gy, x, w, pads=pads)[0]
    absref = conv2d_backward_ref(np.abs(gy), x, np.abs(w), pads=pads)[0]
    assert_norm_close(gx, ref, absref, 9 * ws[0], FACTOR[route], "grad_x")


def test_forward_epilogue(isa, route, rng):
    xs = (2, 20, 30, 29) if route == "winograd_f43" else (1, 20, 12, 11)
    assert _algo(xs, 13, (1, 0, 2, 1)) == route
    epilogue_through_route(rng, xs, (13, 20, 3, 3), (1, 0, 2, 1), FACTOR[route])


def epilogue_through_route(rng, xs, ws, pads, factor):
    """scale, bias, a residual and ReLU fused into the forward (the route asserted
    taken), within the bound plus the epilogue's own terms."""
    K = ws[0]
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    scale = rng.uniform(-2, 2, K).astype(np.float32)
    bias = rng.standard_normal(K).astype(np.float32)
    ref = conv2d_ref(x, w, pads=pads)
    res = rng.standard_normal(ref.shape).astype(np.float32)
    before = _runs()
    y = fastconv.conv2d(x, w, bias, padding=((pads[0], pads[1]), (pads[2], pads[3])),
                        scale=scale, residual=res, relu=True)
    assert _runs() == before + 1
    want = np.maximum(scale[None, :, None, None] * ref + bias[None, :, None, None] + res, 0)
    absref = np.abs(scale)[None, :, None, None] * conv2d_ref(np.abs(x), np.abs(w), pads=pads)
    assert_norm_close(y, want, absref + np.abs(bias)[None, :, None, None] + np.abs(res),
                      ws[2] * ws[3] * xs[1] + 2, factor, "epilogue")


def test_backward_data_nan_stays_in_its_window(isa, route, rng):
    """A NaN in grad_y spoils only the grad_x pixels whose 3x3 window reads it; the
    others, tiles holding it included, are recomputed directly from the flipped
    filters and match the reference."""
    H, h, c = (30, 10, 13) if route == "winograd_f43" else (12, 5, 6)
    assert _algo((1, 17, H, H), 24, (1, 1, 1, 1)) == route
    nan_stays_in_its_window(rng, H, h, c, 3, FACTOR[route])


def nan_stays_in_its_window(rng, H, h, c, R, factor):
    """The backward-data of a 24 -> 17 R x R layer (padding R // 2, H x H maps) with a
    NaN at grad_y[0, 5, h, c]: NaN exactly in the R x R window around (h, c), the rest
    within the bound; the route asserted taken."""
    N, C, K, p = 1, 24, 17, R // 2
    x = rng.standard_normal((N, C, H, H)).astype(np.float32)
    w = rng.standard_normal((K, C, R, R)).astype(np.float32)
    gy = rng.standard_normal((N, K, H, H)).astype(np.float32)
    gy[0, 5, h, c] = np.nan
    before = _runs()
    gx, _, _ = fastconv.conv2d_backward(gy, x, w, padding=p, weight_grad=False)
    assert _runs() == before + 1
    spoiled = np.zeros(gx.shape, bool)
    spoiled[0, :, h - p:h + p + 1, c - p:c + p + 1] = True
    assert np.isnan(gx[spoiled]).all() and np.isfinite(gx[~spoiled]).all()
    ref = conv2d_backward_ref(np.nan_to_num(gy), x, w, pads=(p,) * 4)[0]
    absref = conv2d_backward_ref(np.abs(np.nan_to_num(gy)), x, np.abs(w), pads=(p,) * 4)[0]
    assert_norm_close(np.where(spoiled, 0, gx), np.where(spoiled, 0, ref), absref, R * R * K,
                      factor, "grad_x")


def winograd_and_direct(rng, xs, K=None, R=3, blocked=1):
    """AUTO's forward of an R x R layer (K filters, default C; padding R // 2) with the
    blocked route forced (blocked=1; -1: AUTO's rule) and the Winograd rule as it is,
    and with Winograd forced off; and how many times Winograd ran."""
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal((K or xs[1], xs[1], R, R)).astype(np.float32) * 0.05
    with forced("fc_conv_blocked_nchw_set_mode", blocked):
        before = _runs()
        y = fastconv.conv2d(x, w, padding=R // 2)
        took = _runs() - before
        with forced("fc_conv_blocked_winograd_set_mode", 0):
            direct = fastconv.conv2d(x, w, padding=R // 2)
    return y, direct, took


def test_rule(rng):
    """Without the Winograd hook: where the batch has 48+ tiles of the rule's size (a
    Winograd result differs from the direct kernel's in its last bits), F(2x2) where the
    rule's F(4x4) has fewer (512 channels at 7x7 batch 4: 16 tiles of 4x4, 64 of 2x2),
    not at batch 2 (32 tiles of 2x2) nor under set_precision('highest')."""
    y, direct, took = winograd_and_direct(rng, (1, 64, 28, 28))
    assert took == 1 and not np.array_equal(y, direct)
    y, direct, took = winograd_and_direct(rng, (4, 512, 7, 7))
    assert took == 1 and not np.array_equal(y, direct)
    y, direct, took = winograd_and_direct(rng, (2, 512, 7, 7))
    assert took == 0 and np.array_equal(y, direct)
    before = fastconv.get_precision()
    fastconv.set_precision("highest")
    try:
        y, direct, took = winograd_and_direct(rng, (1, 64, 28, 28))
    finally:
        fastconv.set_precision(before)
    assert took == 0 and np.array_equal(y, direct)

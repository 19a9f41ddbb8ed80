"""Winograd and non-finite values: a NaN or an infinity in the input spoils exactly the
outputs whose 3x3 receptive field holds it (the float64 reference's, the direct
algorithm's and torch's footprint), not the whole (m+2)x(m+2) tile window, and inputs
near FLT_MAX that the direct sum survives do not overflow in the transforms. Forward,
backward-data and the pre-transformed C entry points, F(2x2) and F(4x4), every ISA."""
import numpy as np
import pytest

import fastconv
from conv_cases import conv_out_shape, padding_arg
from reference import EPS32, conv2d_backward_ref, conv2d_ref

ALGOS = ["winograd_f23", "winograd_f43"]
FACTOR = {"winograd_f23": 4.0, "winograd_f43": 16.0}   # as in test_winograd.py
# Winograd serves forward and backward-data (its weight gradient is the direct one's)
PASSES = ["forward", "backward_data"]

# (x_shape, w_shape, pads, groups)
SHAPES = [
    ((1, 4, 9, 9), (6, 4, 3, 3), (1, 1, 1, 1), 1),
    ((2, 6, 13, 11), (8, 3, 3, 3), (0, 0, 0, 0), 2),      # groups, batch, no padding
    ((3, 5, 10, 17), (7, 5, 3, 3), (2, 2, 2, 2), 1),      # padding 2, wide odd rows
    ((2, 4, 7, 21), (6, 2, 3, 3), (1, 2, 0, 2), 2),       # asymmetric padding
    ((1, 3, 5, 6), (16, 3, 3, 3), (3, 1, 2, 3), 1),       # padding > 2: backward crops
]


def _positions(shape, rng):
    """Corners, edges, the interior, a second channel and the last image."""
    N, C, H, W = shape
    pos = [(0, 0, 0, 0), (0, C - 1, 0, W - 1), (N - 1, 0, H - 1, 0), (N - 1, C - 1, H - 1, W - 1),
           (0, 0, 0, W // 2), (N - 1, C // 2, H // 2, W - 1), (0, C // 2, H // 2, W // 2)]
    for _ in range(3):
        pos.append(tuple(int(rng.integers(0, s)) for s in shape))
    return pos


def _spoil(a, positions, rng):
    """A copy of a with NaN, +inf or -inf at some of the positions (a random subset of at
    least one, so that most cases have one or two bad values and some have many)."""
    a = a.copy()
    keep = rng.random(len(positions)) < 0.35
    keep[rng.integers(0, len(positions))] = True
    for p, k in zip(positions, keep):
        if k:
            a[p] = rng.choice([np.nan, np.inf, -np.inf])
    return a


def _check(got, ref, absref, terms, factor, what):
    got = np.asarray(got, np.float64)
    bad_got, bad_ref = ~np.isfinite(got), ~np.isfinite(ref)
    assert bad_ref.any(), f"{what}: the case spoils no output"
    diff = bad_got != bad_ref
    assert not diff.any(), (
        f"{what}: {bad_got.sum()} non-finite outputs, the reference has {bad_ref.sum()}; "
        f"first mismatch at {tuple(int(i) for i in np.argwhere(diff)[0])}")
    fin = ~bad_ref
    err = np.abs(got[fin] - ref[fin]).max(initial=0.0)
    tol = factor * EPS32 * np.sqrt(max(terms, 1)) * absref.max()
    assert err <= tol, f"{what}: max error {err:.3g} > {tol:.3g} on the finite outputs"


def _finite0(a):
    return np.where(np.isfinite(a), a, 0.0)


@pytest.mark.parametrize("algorithm", ALGOS)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"x{s[0]}-w{s[1]}-p{s[2]}-g{s[3]}")
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("pass_", PASSES)
def test_footprint(isa, algorithm, shape, seed, pass_):
    xs, ws, pads, groups = shape
    rng = np.random.default_rng(100 + seed)
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    b = rng.standard_normal(ws[0]).astype(np.float32)
    x = _spoil(x, _positions(xs, rng), rng)
    args = dict(padding=padding_arg(pads), groups=groups)
    rargs = ((1, 1), pads, (1, 1), groups)
    K, Cg = ws[:2]

    if pass_ == "forward":
        y = fastconv.conv2d(x, w, b, algorithm=algorithm, **args)
        ref = conv2d_ref(x, w, b, *rargs)
        absref = conv2d_ref(np.abs(_finite0(x)), np.abs(w), np.abs(b), *rargs)
        _check(y, ref, absref, Cg * 9 + 1, FACTOR[algorithm], "forward")
        yd = fastconv.conv2d(x, w, b, algorithm="direct", **args)
        np.testing.assert_array_equal(~np.isfinite(y), ~np.isfinite(yd))
        return

    out_shape = conv_out_shape(xs, ws, (1, 1), pads, (1, 1))
    gy = rng.standard_normal(out_shape).astype(np.float32)
    gy = _spoil(gy, _positions(out_shape, rng), rng)
    gx, _, _ = fastconv.conv2d_backward(gy, _finite0(x).astype(np.float32), w,
                                        algorithm=algorithm, **args)
    rgx = conv2d_backward_ref(gy, _finite0(x), w, *rargs)[0]
    agx = conv2d_backward_ref(np.abs(_finite0(gy)), np.abs(_finite0(x)), np.abs(w), *rargs)[0]
    _check(gx, rgx, agx, (K // groups) * 9, FACTOR[algorithm], "grad_x")


@pytest.mark.parametrize("algorithm", ALGOS)
def test_one_nan_spoils_the_receptive_field_only(isa, algorithm):
    # the example: 144 = 16 channels x 3x3 outputs, not 16 x (4x4 tile)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((1, 8, 16, 16)).astype(np.float32)
    w = rng.standard_normal((16, 8, 3, 3)).astype(np.float32)
    x[0, 3, 6, 9] = np.nan
    y = fastconv.conv2d(x, w, padding=1, algorithm=algorithm)
    assert (~np.isfinite(y)).sum() == 144
    assert np.isnan(y[:, :, 5:8, 8:11]).all()


def _big(shape, mag, rng):
    return (rng.choice([-1.0, 1.0], shape) * rng.uniform(0.5, 1.0, shape) * mag).astype(np.float32)


@pytest.mark.parametrize("algorithm", ALGOS)
@pytest.mark.parametrize("pads", [(0, 0, 0, 0), (1, 1, 1, 1), (2, 1, 0, 2)])
@pytest.mark.parametrize("pass_", PASSES)
def test_large_inputs_do_not_overflow(isa, algorithm, pads, pass_):
    # signed inputs of a few 1e37 (1e38 for F(2x2), whose transforms scale by 4 at
    # most): the transforms reach past FLT_MAX, the exact sums do not
    rng = np.random.default_rng(11)
    mag = 3e37 if algorithm == "winograd_f43" else 1.5e38
    x = _big((2, 2, 12, 12), mag, rng)
    w = (rng.standard_normal((2, 2, 3, 3)) * 0.02).astype(np.float32)
    rargs = ((1, 1), pads)
    ref = conv2d_ref(x, w, None, *rargs)
    if pass_ == "forward":
        y = fastconv.conv2d(x, w, padding=padding_arg(pads), algorithm=algorithm)
        assert np.abs(ref).max() < 3e38
        assert np.isfinite(y).all(), f"forward: {(~np.isfinite(y)).sum()} outputs overflowed"
        absref = conv2d_ref(np.abs(x), np.abs(w), None, *rargs)
        err = np.abs(y - ref).max()
        assert err <= FACTOR[algorithm] * EPS32 * np.sqrt(18) * absref.max()
        return

    gy = _big(ref.shape, mag, rng)
    gx, _, _ = fastconv.conv2d_backward(gy, np.zeros(x.shape, np.float32), w,
                                        padding=padding_arg(pads), algorithm=algorithm)
    rgx = conv2d_backward_ref(gy, np.zeros(x.shape), w, *rargs)[0]
    assert np.abs(rgx).max() < 3e38
    assert np.isfinite(gx).all(), f"grad_x: {(~np.isfinite(gx)).sum()} outputs overflowed"
    agx = conv2d_backward_ref(np.abs(gy), np.zeros(x.shape), np.abs(w), *rargs)[0]
    assert np.abs(gx - rgx).max() <= FACTOR[algorithm] * EPS32 * np.sqrt(18) * agx.max()


@pytest.mark.parametrize("padding", [1, 4])
def test_nonfinite_bias_and_weights_match_torch(isa, padding):
    # Non-finite weights: whether a tap in the zero padding counts (0 * inf = NaN) is
    # not settled: torch skips those taps at padding 1 but not at 4, the float64
    # reference and fastconv's direct kernels multiply them. The Winograd fix-up skips
    # them (torch's padding-1 footprint); a NaN bias spoils its whole channel in all.
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 4, 9, 10)).astype(np.float32)
    w = rng.standard_normal((6, 4, 3, 3)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    b[1] = np.nan
    if padding == 1:
        w[4, 2, 0, 1] = np.inf
    want = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w),
                                      torch.from_numpy(b), padding=padding).numpy()
    for algorithm in ALGOS:
        y = fastconv.conv2d(x, w, b, padding=padding, algorithm=algorithm)
        np.testing.assert_array_equal(~np.isfinite(y), ~np.isfinite(want))
        fin = np.isfinite(want)
        assert np.abs(y[fin] - want[fin]).max() < 1e-3


@pytest.mark.parametrize("algorithm", ALGOS)
@pytest.mark.parametrize("pass_", PASSES)
def test_pretransformed_entry_points(isa, algorithm, pass_):
    # they hold only the transformed weights: the fix-up recovers the 3x3 filters
    from fastconv import _C
    a = _C.ALGORITHMS[algorithm]
    rng = np.random.default_rng(5)
    xs, ws, pads, groups = (2, 6, 11, 9), (8, 3, 3, 3), (1, 2, 0, 1), 2
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    b = rng.standard_normal(8).astype(np.float32)
    x = _spoil(x, _positions(xs, rng), rng)
    rargs = ((1, 1), pads, (1, 1), groups)
    ref = conv2d_ref(x, w, b, *rargs)
    if pass_ == "forward":
        u = _C.conv2d_winograd_transform_weights(xs, w, pads, groups, a, 0)
        y = np.empty(ref.shape, np.float32)
        _C.conv2d_winograd_pretransformed(0, x, u, b, y, xs, ws, pads, groups, a)
        absref = conv2d_ref(np.abs(_finite0(x)), np.abs(w), np.abs(b), *rargs)
        _check(y, ref, absref, 3 * 9 + 1, FACTOR[algorithm], "forward")
        return

    gy = _spoil(rng.standard_normal(ref.shape).astype(np.float32),
                _positions(ref.shape, rng), rng)
    ub = _C.conv2d_winograd_transform_weights(xs, w, pads, groups, a, 1)
    gx = np.empty(xs, np.float32)
    _C.conv2d_winograd_pretransformed(1, gy, ub, None, gx, xs, ws, pads, groups, a)
    rgx = conv2d_backward_ref(gy, np.zeros(xs), w, *rargs)[0]
    agx = conv2d_backward_ref(np.abs(_finite0(gy)), np.zeros(xs), np.abs(w), *rargs)[0]
    _check(gx, rgx, agx, 4 * 9, FACTOR[algorithm], "grad_x")


def test_torch_footprint():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 16, 20, 20)).astype(np.float32)
    w = rng.standard_normal((16, 16, 3, 3)).astype(np.float32)
    x[0, 3, 7, 9] = np.nan
    x[1, 0, 0, 0] = np.inf
    x[1, 5, 19, 12] = -np.inf
    want = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding=1).numpy()
    for algorithm in ALGOS:
        y = fastconv.conv2d(x, w, padding=1, algorithm=algorithm)
        np.testing.assert_array_equal(~np.isfinite(y), ~np.isfinite(want))

"""Winograd F(2x2,3x3) and F(4x4,3x3): forward and backward against the float64
reference on every ISA path, accuracy over channel counts and magnitudes, the
pre-transformed-weights C entry points, and the arguments Winograd cannot serve.

Winograd is accurate in norm, not per element (see the conv2d docstring):
max|y - exact| <= f * eps32 * sqrt(terms) * max(A), A the reduction over |x|, |w|."""
import numpy as np
import pytest

import fastconv
from conv_cases import PASSES, case_id, conv_out_shape, padding_arg, random_conv_cases
from reference import EPS32, assert_close, conv2d_backward_ref, conv2d_ref

ALGOS = ["winograd_f23", "winograd_f43"]
FACTOR = {"winograd_f23": 4.0, "winograd_f43": 16.0}   # documented in conv2d
CASES = random_conv_cases(24, seed=4343, stride1_3x3=True)


def assert_norm_close(got, ref, absref, terms, factor, what):
    got = np.asarray(got, np.float64)
    assert got.shape == ref.shape, f"{what}: shape {got.shape} != {ref.shape}"
    err = np.abs(got - ref).max()
    tol = factor * EPS32 * np.sqrt(max(terms, 1)) * absref.max()
    assert err <= tol, f"{what}: max error {err:.3g} > {tol:.3g} ({err / tol * factor:.2f} x unit)"


def check_winograd(c, algorithm, rng, pass_, mag=1.0):
    """One pass of one case (draws as in the combined check: x, w, b, then grad_out)."""
    x = (rng.standard_normal(c["x_shape"]) * mag).astype(np.float32)
    w = rng.standard_normal(c["w_shape"]).astype(np.float32)
    b = rng.standard_normal(c["w_shape"][0]).astype(np.float32)
    args = dict(stride=c["stride"], padding=padding_arg(c["pads"]), dilation=c["dilation"],
                groups=c["groups"])
    rargs = (c["stride"], c["pads"], c["dilation"], c["groups"])
    K, Cg, R, S = c["w_shape"]
    f = FACTOR[algorithm]
    if pass_ == "forward":
        y = fastconv.conv2d(x, w, b, algorithm=algorithm, **args)
        ref = conv2d_ref(x, w, b, *rargs)
        absref = conv2d_ref(np.abs(x), np.abs(w), np.abs(b), *rargs)
        assert_norm_close(y, ref, absref, Cg * 9 + 1, f, "forward")
        return
    out_shape = conv_out_shape(c["x_shape"], c["w_shape"], c["stride"], c["pads"], c["dilation"])
    gy = rng.standard_normal(out_shape).astype(np.float32)
    gx, gw, gb = fastconv.conv2d_backward(gy, x, w, algorithm=algorithm, **args)
    rgx, rgw, rgb = conv2d_backward_ref(gy, x, w, *rargs)
    agx, agw, agb = conv2d_backward_ref(np.abs(gy), np.abs(x), np.abs(w), *rargs)
    N, _, OH, OW = out_shape
    if pass_ == "backward_data":
        assert_norm_close(gx, rgx, agx, (K // c["groups"]) * 9, f, "grad_x")
    else:
        assert pass_ == "backward_weights", pass_
        # the weight gradient is the direct algorithm's: the elementwise bound holds
        assert_close(gw, rgw, agw, N * OH * OW, 8.0, "grad_weight")
        assert_close(gb, rgb, agb, N * OH * OW, 8.0, "grad_bias")


@pytest.mark.parametrize("pass_", PASSES)
@pytest.mark.parametrize("algorithm", ALGOS)
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_random_sweep(isa, algorithm, case, pass_, rng):
    check_winograd(case, algorithm, rng, pass_)


@pytest.mark.parametrize("algorithm", ALGOS)
@pytest.mark.parametrize("shape", [
    ((1, 17, 13, 33), (19, 17, 3, 3), (1, 1, 1, 1)),   # channels not a vector multiple
    ((3, 5, 9, 70), (7, 5, 3, 3), (0, 2, 3, 1)),      # wide rows: several vector chunks
    ((2, 4, 3, 3), (5, 4, 3, 3), (3, 3, 3, 3)),       # padding > 2: backward crops
    ((1, 2, 1, 1), (3, 2, 3, 3), (1, 1, 1, 1)),       # 1x1 image
])
@pytest.mark.parametrize("pass_", PASSES)
def test_awkward_sizes(isa, algorithm, shape, pass_, rng):
    xs, ws, pads = shape
    check_winograd(dict(x_shape=xs, w_shape=ws, stride=(1, 1), pads=pads, dilation=(1, 1),
                        groups=1), algorithm, rng, pass_)


@pytest.mark.parametrize("algorithm", ALGOS)
@pytest.mark.parametrize("C,mag", [(1, 1e-3), (64, 1e3), (256, 1.0), (512, 1.0)])
@pytest.mark.parametrize("pass_", PASSES)
def test_accuracy_many_channels(algorithm, C, mag, pass_, rng):
    check_winograd(dict(x_shape=(1, C, 9, 10), w_shape=(8, C, 3, 3), stride=(1, 1),
                        pads=(1, 1, 1, 1), dilation=(1, 1), groups=1), algorithm, rng, pass_,
                   mag)


def test_winograd_alias_is_f43(rng):
    x = rng.standard_normal((1, 3, 9, 9)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    np.testing.assert_array_equal(fastconv.conv2d(x, w, algorithm="winograd"),
                                  fastconv.conv2d(x, w, algorithm="winograd_f43"))


def test_f43_differs_from_direct_bitwise(rng):
    # guards against the Winograd names silently running another algorithm
    x = rng.standard_normal((1, 8, 12, 12)).astype(np.float32)
    w = rng.standard_normal((8, 8, 3, 3)).astype(np.float32)
    yd = fastconv.conv2d(x, w, padding=1, algorithm="direct")
    assert not np.array_equal(fastconv.conv2d(x, w, padding=1, algorithm="winograd_f43"), yd)
    assert not np.array_equal(fastconv.conv2d(x, w, padding=1, algorithm="winograd_f23"), yd)


def test_torch_cross_check(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 32, 14, 15)).astype(np.float32)
    w = rng.standard_normal((24, 32, 3, 3)).astype(np.float32)
    b = rng.standard_normal(24).astype(np.float32)
    want = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w),
                                      torch.from_numpy(b), padding=1).numpy()
    absref = conv2d_ref(np.abs(x), np.abs(w), np.abs(b), pads=(1, 1, 1, 1))
    for algo in ALGOS:
        got = fastconv.conv2d(x, w, b, padding=1, algorithm=algo)
        assert_norm_close(got, want.astype(np.float64), absref, 32 * 9 + 1,
                          FACTOR[algo] + 1, algo)


@pytest.mark.parametrize("algorithm", ["winograd", "winograd_f23", "winograd_f43"])
@pytest.mark.parametrize("kwargs,match", [
    (dict(weight=np.zeros((2, 3, 5, 5), np.float32)), r"got a 5x5 kernel"),
    (dict(weight=np.zeros((2, 3, 3, 1), np.float32)), r"got a 3x1 kernel"),
    (dict(stride=2), r"stride=\(2, 2\)"),
    (dict(stride=(1, 2)), r"stride=\(1, 2\)"),
    (dict(dilation=2), r"dilation=\(2, 2\)"),
])
@pytest.mark.parametrize("pass_", ["forward", "backward"])
def test_unsupported_raises(algorithm, kwargs, match, pass_):
    args = dict(x=np.zeros((1, 3, 10, 10), np.float32),
                weight=np.zeros((2, 3, 3, 3), np.float32), padding=1, algorithm=algorithm)
    args.update(kwargs)
    if pass_ == "forward":
        with pytest.raises(fastconv.UnsupportedError, match=match):
            fastconv.conv2d(**args)
        return
    gy = np.zeros(fastconv.conv2d(**dict(args, algorithm="direct")).shape, np.float32)
    with pytest.raises(NotImplementedError, match="serves only 3x3 kernels"):
        fastconv.conv2d_backward(gy, **args)


def test_c_side_rejects_unsupported():
    # the C library says so too, for callers that skip the Python checks
    from fastconv import _C
    x = np.zeros((1, 3, 10, 10), np.float32)
    w = np.zeros((2, 3, 5, 5), np.float32)
    y = np.zeros((1, 2, 6, 6), np.float32)
    with pytest.raises(fastconv.UnsupportedError, match="conv2d"):
        _C.conv2d_forward(x, w, None, y, (1, 1), (0, 0, 0, 0), (1, 1), 1,
                          _C.ALGORITHMS["winograd_f43"])


@pytest.mark.parametrize("pass_", ["forward", "backward_data"])
@pytest.mark.parametrize("algorithm", ALGOS)
def test_pretransformed_weights_give_the_same_result(algorithm, pass_, rng):
    from fastconv import _C
    a = _C.ALGORITHMS[algorithm]
    x = rng.standard_normal((2, 6, 11, 9)).astype(np.float32)
    w = rng.standard_normal((8, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(8).astype(np.float32)
    pads = (1, 2, 0, 1)
    y = fastconv.conv2d(x, w, b, padding=padding_arg(pads), groups=2, algorithm=algorithm)
    if pass_ == "forward":
        u = _C.conv2d_winograd_transform_weights(x.shape, w, pads, 2, a, 0)
        y2 = np.empty_like(y)
        _C.conv2d_winograd_pretransformed(0, x, u, b, y2, x.shape, w.shape, pads, 2, a)
        np.testing.assert_array_equal(y2, y)
        return
    gy = rng.standard_normal(y.shape).astype(np.float32)
    gx, _, _ = fastconv.conv2d_backward(gy, x, w, padding=padding_arg(pads), groups=2,
                                        algorithm=algorithm)
    ub = _C.conv2d_winograd_transform_weights(x.shape, w, pads, 2, a, 1)
    gx2 = np.empty_like(gx)
    _C.conv2d_winograd_pretransformed(1, gy, ub, None, gx2, x.shape, w.shape, pads, 2, a)
    np.testing.assert_array_equal(gx2, gx)


def test_pretransformed_rejects_unsupported_and_short_buffers():
    from fastconv import _C
    w5 = np.zeros((2, 3, 5, 5), np.float32)
    with pytest.raises(fastconv.UnsupportedError):
        _C.conv2d_winograd_transform_weights((1, 3, 8, 8), w5, (0, 0, 0, 0), 1,
                                             _C.ALGORITHMS["winograd_f43"], 0)
    with pytest.raises(fastconv.UnsupportedError):
        _C.conv2d_winograd_transform_weights((1, 3, 8, 8), np.zeros((2, 3, 3, 3), np.float32),
                                             (0, 0, 0, 0), 1, _C.ALGORITHMS["direct"], 0)
    x = np.zeros((1, 3, 8, 8), np.float32)
    with pytest.raises(ValueError, match="u: expected"):
        _C.conv2d_winograd_pretransformed(0, x, np.zeros(5, np.float32), None,
                                          np.zeros((1, 2, 6, 6), np.float32), x.shape,
                                          (2, 3, 3, 3), (0, 0, 0, 0), 1,
                                          _C.ALGORITHMS["winograd_f43"])

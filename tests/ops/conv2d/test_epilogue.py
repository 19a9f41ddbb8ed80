"""The fused forward epilogue y = act(scale * conv(x, w) + bias + residual) of conv2d
and depthwise_conv2d, every algorithm and ISA path, against conv2d_ref (float64) with
the epilogue applied in float64; in place (residual is y) through the C entry point;
the Winograd pre-transformed form; non-finite fix-up; bad arguments."""
import itertools

import numpy as np
import pytest

import fastconv
from fastconv import _C
from conv_cases import case_id, padding_arg, random_conv_cases
from reference import EPS32, assert_close, conv2d_ref

# (scale, bias, residual, relu): every combination
COMBOS = list(itertools.product([False, True], repeat=4))


def combo_id(c):
    return "-".join(n for n, on in zip(("scale", "bias", "res", "relu"), c) if on) or "none"


def _depthwise_cases(count, seed):
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        C, m = int(rng.integers(2, 11)), int(rng.choice([1, 1, 2, 3]))
        R, S = int(rng.integers(1, 6)), int(rng.integers(1, 6))
        stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        dilation = (int(rng.choice([1, 2])), int(rng.choice([1, 2])))
        pads = tuple(int(p) for p in rng.integers(0, 3, size=4))
        H, W = int(rng.integers(3, 20)), int(rng.integers(3, 40))
        if (R - 1) * dilation[0] + 1 > H + pads[0] + pads[1]:
            continue
        if (S - 1) * dilation[1] + 1 > W + pads[2] + pads[3]:
            continue
        cases.append(dict(x_shape=(int(rng.choice([1, 2])), C, H, W), w_shape=(C * m, 1, R, S),
                          stride=stride, pads=pads, dilation=dilation, groups=C))
    return cases


GENERAL_CASES = random_conv_cases(5, seed=715)
WINOGRAD_CASES = random_conv_cases(4, seed=716, stride1_3x3=True)
DEPTHWISE_CASES = _depthwise_cases(4, seed=717)
ALGORITHM_CASES = [("direct", GENERAL_CASES), ("im2col", GENERAL_CASES),
                   ("winograd_f23", WINOGRAD_CASES), ("winograd_f43", WINOGRAD_CASES),
                   ("depthwise", DEPTHWISE_CASES)]


def epilogue_inputs(rng, K, out_shape, combo):
    use_scale, use_bias, use_res, relu = combo
    scale = rng.uniform(-2, 2, K).astype(np.float32) if use_scale else None
    bias = rng.standard_normal(K).astype(np.float32) if use_bias else None
    res = rng.standard_normal(out_shape).astype(np.float32) if use_res else None
    return scale, bias, res, relu


def epilogue_ref(conv, absconv, scale, bias, res, relu):
    """(y, bound magnitude) in float64: the epilogue of the exact convolution, and the
    magnitudes whose rounding the float32 result may carry."""
    s = np.ones(conv.shape[1]) if scale is None else scale.astype(np.float64)
    b = np.zeros(conv.shape[1]) if bias is None else bias.astype(np.float64)
    r = 0.0 if res is None else res.astype(np.float64)
    y = s[None, :, None, None] * conv + b[None, :, None, None] + r
    mag = np.abs(s)[None, :, None, None] * absconv + np.abs(b)[None, :, None, None] + np.abs(r)
    if relu:
        y = np.maximum(y, 0.0)
    return y, mag


def run_case(c, algorithm, combo, rng, in_place=False):
    x = rng.standard_normal(c["x_shape"]).astype(np.float32)
    w = rng.standard_normal(c["w_shape"]).astype(np.float32)
    geo = dict(stride=c["stride"], pads=c["pads"], dilation=c["dilation"], groups=c["groups"])
    conv = conv2d_ref(x, w, **geo)
    absconv = conv2d_ref(np.abs(x), np.abs(w), **geo)
    scale, bias, res, relu = epilogue_inputs(rng, c["w_shape"][0], conv.shape, combo)
    want, mag = epilogue_ref(conv, absconv, scale, bias, res, relu)
    if in_place:
        y = res.copy()
        _C.conv2d_forward_ex(x, w, scale, bias, y, relu, y, c["stride"],
                             tuple(c["pads"]), c["dilation"], c["groups"],
                             _C.ALGORITHMS[algorithm])
    else:
        y = fastconv.conv2d(x, w, bias, c["stride"], padding_arg(c["pads"]), c["dilation"],
                            c["groups"], algorithm, scale=scale, residual=res, relu=relu)
        if res is not None:
            assert not np.shares_memory(y, res)
    terms = int(np.prod(c["w_shape"][1:])) + 2
    if algorithm.startswith("winograd"):
        # accurate in norm: the bound scales with the largest magnitude of each plane
        mag = np.broadcast_to(mag.max(axis=(2, 3), keepdims=True), mag.shape)
        assert_close(y, want, mag, terms, factor=16.0, what=f"{algorithm} y")
    else:
        assert_close(y, want, mag, terms, what=f"{algorithm} y")


@pytest.mark.parametrize("combo", COMBOS, ids=combo_id)
@pytest.mark.parametrize("algorithm,cases", ALGORITHM_CASES, ids=[a for a, _ in ALGORITHM_CASES])
def test_every_combination(isa, algorithm, cases, combo, rng):
    for c in cases:
        run_case(c, algorithm, combo, rng)


@pytest.mark.parametrize("combo", [c for c in COMBOS if c[2]], ids=combo_id)
@pytest.mark.parametrize("algorithm,cases", ALGORITHM_CASES, ids=[a for a, _ in ALGORITHM_CASES])
def test_residual_is_y(isa, algorithm, cases, combo, rng):
    """y may be the residual buffer, updated in place (the C API's promise)."""
    for c in cases[:2]:
        run_case(c, algorithm, combo, rng, in_place=True)


# Shapes that take the other code paths: im2col's multi-image blocks (small planes,
# several images), its 1x1 column chunks (a plane wider than one chunk), its threaded
# GEMM (few blocks), Winograd's several tile blocks, K not a multiple of 8.
PATH_CASES = [
    dict(x_shape=(6, 5, 4, 5), w_shape=(11, 5, 3, 3), stride=(1, 1), pads=(1, 1, 1, 1),
         dilation=(1, 1), groups=1),
    dict(x_shape=(2, 6, 70, 90), w_shape=(13, 6, 1, 1), stride=(1, 1), pads=(0, 0, 0, 0),
         dilation=(1, 1), groups=1),
    dict(x_shape=(1, 3, 61, 75), w_shape=(70, 3, 3, 3), stride=(1, 1), pads=(1, 0, 2, 1),
         dilation=(1, 1), groups=1),
    dict(x_shape=(3, 17, 40, 33), w_shape=(10, 17, 3, 3), stride=(1, 1), pads=(1, 1, 1, 1),
         dilation=(1, 1), groups=1),
]


@pytest.mark.parametrize("in_place", [False, True])
@pytest.mark.parametrize("algorithm", ["direct", "im2col", "winograd_f23", "winograd_f43"])
@pytest.mark.parametrize("case", PATH_CASES, ids=case_id)
def test_code_paths(isa, algorithm, case, in_place, rng):
    if algorithm.startswith("winograd") and case["w_shape"][2:] != (3, 3):
        pytest.skip("Winograd serves 3x3 only")
    for combo in [(True, True, True, True), (False, True, True, True), (True, False, False, True)]:
        run_case(case, algorithm, combo, rng, in_place=in_place and combo[2])


@pytest.mark.parametrize("combo", [(True, True, True, True), (False, False, True, False)],
                         ids=combo_id)
def test_depthwise_conv2d_keywords(isa, combo, rng):
    c = DEPTHWISE_CASES[0]
    x = rng.standard_normal(c["x_shape"]).astype(np.float32)
    w = rng.standard_normal(c["w_shape"]).astype(np.float32)
    geo = dict(stride=c["stride"], pads=c["pads"], dilation=c["dilation"], groups=c["groups"])
    conv, absconv = conv2d_ref(x, w, **geo), conv2d_ref(np.abs(x), np.abs(w), **geo)
    scale, bias, res, relu = epilogue_inputs(rng, c["w_shape"][0], conv.shape, combo)
    want, mag = epilogue_ref(conv, absconv, scale, bias, res, relu)
    y = fastconv.depthwise_conv2d(x, w, bias, c["stride"], padding_arg(c["pads"]),
                                  c["dilation"], scale=scale, residual=res, relu=relu)
    assert_close(y, want, mag, int(np.prod(c["w_shape"][1:])) + 2)


@pytest.mark.parametrize("algorithm", ["winograd_f23", "winograd_f43"])
def test_winograd_pretransformed_ex(isa, algorithm, rng):
    c = dict(x_shape=(2, 7, 11, 13), w_shape=(9, 7, 3, 3), stride=(1, 1), pads=(1, 2, 0, 1),
             dilation=(1, 1), groups=1)
    x = rng.standard_normal(c["x_shape"]).astype(np.float32)
    w = rng.standard_normal(c["w_shape"]).astype(np.float32)
    algo = _C.ALGORITHMS[algorithm]
    u = _C.conv2d_winograd_transform_weights(c["x_shape"], w, c["pads"], 1, algo, 0)
    conv = conv2d_ref(x, w, pads=c["pads"])
    absconv = conv2d_ref(np.abs(x), np.abs(w), pads=c["pads"])
    for combo in [(True, True, True, True), (False, True, False, False), (True, False, True, False)]:
        scale, bias, res, relu = epilogue_inputs(rng, 9, conv.shape, combo)
        want, mag = epilogue_ref(conv, absconv, scale, bias, res, relu)
        mag = np.broadcast_to(mag.max(axis=(2, 3), keepdims=True), mag.shape)
        for in_place in ([False, True] if res is not None else [False]):
            y = res.copy() if in_place else np.empty(conv.shape, np.float32)
            _C.conv2d_winograd_forward_pretransformed_ex(x, u, scale, bias,
                                                         y if in_place else res, relu, y,
                                                         c["w_shape"], c["pads"], 1, algo)
            assert_close(y, want, mag, 63 + 2, factor=16.0)


@pytest.mark.parametrize("pretransformed", [False, True])
@pytest.mark.parametrize("algorithm", ["winograd_f23", "winograd_f43"])
def test_winograd_nonfinite_fixup_with_epilogue(isa, algorithm, pretransformed, rng):
    """Inputs whose Winograd transforms overflow (direct sums do not), a NaN and an
    infinity: the fix-up repairs the convolution before the epilogue, in place too."""
    N, C, K, H, W = 1, 4, 5, 9, 10
    x = rng.uniform(-1, 1, (N, C, H, W)).astype(np.float32)
    x[0, 0, 2:5, 2:5] = 3e38 * np.sign(rng.standard_normal((3, 3)))
    x[0, 1, 7, 8] = np.nan
    x[0, 2, 0, 0] = np.inf
    w = rng.uniform(-1, 1, (K, C, 3, 3)).astype(np.float32) * 1e-3
    scale = rng.uniform(0.5, 2, K).astype(np.float32)
    bias = rng.standard_normal(K).astype(np.float32)
    pads = (1, 1, 1, 1)
    with np.errstate(all="ignore"):
        conv = conv2d_ref(x, w, pads=pads)
        absconv = conv2d_ref(np.where(np.isfinite(x), np.abs(x), 0), np.abs(w), pads=pads)
    res = rng.standard_normal(conv.shape).astype(np.float32)
    with np.errstate(all="ignore"):
        want, mag = epilogue_ref(conv, absconv, scale, bias, res, True)
    algo = _C.ALGORITHMS[algorithm]
    y = res.copy()  # in place
    if pretransformed:
        u = _C.conv2d_winograd_transform_weights(x.shape, w, pads, 1, algo, 0)
        _C.conv2d_winograd_forward_pretransformed_ex(x, u, scale, bias, y, True, y, w.shape,
                                                     pads, 1, algo)
    else:
        _C.conv2d_forward_ex(x, w, scale, bias, y, True, y, (1, 1), pads, (1, 1), 1, algo)
    finite = np.isfinite(want)
    np.testing.assert_array_equal(np.isnan(y), np.isnan(want))
    np.testing.assert_array_equal(np.isposinf(y), np.isposinf(want))
    # the fix-up recomputes in double: its outputs are as close as direct's
    err = np.abs(y[finite] - want[finite])
    assert (err <= 16 * EPS32 * np.sqrt(38) * mag[finite] + 1e-30).all()


def test_relu_keeps_nan_and_clamps():
    x = np.ones((1, 1, 3, 3), np.float32)
    x[0, 0, 0, 0] = np.nan
    w = np.ones((2, 1, 1, 1), np.float32)
    for algorithm in ["direct", "im2col"]:
        y = fastconv.conv2d(x, w, np.array([-5, 0.5], np.float32), algorithm=algorithm,
                            relu=True)
        assert np.isnan(y[0, :, 0, 0]).all()
        assert (y[0, 0].ravel()[1:] == 0).all()
        assert (y[0, 1].ravel()[1:] == 1.5).all()


def test_inputs_converted_and_not_modified(rng):
    x = rng.standard_normal((2, 3, 6, 7))
    w = rng.standard_normal((4, 3, 3, 3))
    scale = [1.5, -1.0, 0.5, 2.0]                      # a list
    res = rng.standard_normal((2, 4, 7, 6)).transpose(0, 1, 3, 2)  # float64, strided
    res_copy = res.copy()
    y = fastconv.conv2d(x, w, padding=1, scale=scale, residual=res, relu=True)
    np.testing.assert_array_equal(res, res_copy)
    conv = conv2d_ref(x, w, pads=(1, 1, 1, 1))
    want = np.maximum(np.array(scale)[None, :, None, None] * conv + res, 0)
    assert_close(y, want, np.abs(want) + 10, 29)


def test_empty_batch():
    y = fastconv.conv2d(np.zeros((0, 3, 5, 5), np.float32), np.zeros((2, 3, 3, 3), np.float32),
                        scale=np.ones(2), residual=np.zeros((0, 2, 3, 3)), relu=True)
    assert y.shape == (0, 2, 3, 3)


def test_errors_name_the_argument():
    x = np.zeros((1, 3, 5, 5), np.float32)
    w = np.zeros((2, 3, 3, 3), np.float32)
    with pytest.raises(ValueError, match="scale"):
        fastconv.conv2d(x, w, scale=np.ones(3))
    with pytest.raises(ValueError, match="scale"):
        fastconv.conv2d(x, w, scale=np.ones((2, 1)))
    with pytest.raises(ValueError, match="residual"):
        fastconv.conv2d(x, w, residual=np.zeros((1, 2, 5, 5)))
    with pytest.raises(ValueError, match="residual"):
        fastconv.conv2d(x, w, residual=np.zeros((2, 3, 3)))
    with pytest.raises(TypeError, match="relu"):
        fastconv.conv2d(x, w, relu="yes")
    with pytest.raises(TypeError, match="residual"):
        fastconv.conv2d(x, w, residual=np.zeros((1, 2, 3, 3), complex))
    with pytest.raises(TypeError):
        fastconv.conv2d(x, w, None, 1, 0, 1, 1, "auto", np.ones(2))  # keyword-only
    with pytest.raises(ValueError, match="scale"):
        fastconv.depthwise_conv2d(x, np.zeros((3, 1, 3, 3), np.float32), scale=np.ones(2))


def test_partial_overlap_is_rejected():
    """residual may be y itself, but not overlap it otherwise (C API: invalid argument)."""
    x = np.ones((1, 1, 4, 4), np.float32)
    w = np.ones((1, 1, 1, 1), np.float32)
    buf = np.zeros(17, np.float32)
    with pytest.raises(ValueError, match="conv2d"):
        _C.conv2d_forward_ex(x, w, None, None, buf[:16], False, buf[1:], (1, 1), (0, 0, 0, 0),
                             (1, 1), 1, _C.ALGORITHMS["direct"])

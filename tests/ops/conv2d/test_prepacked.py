"""The im2col forward from weights packed once (C API fc_conv2d_pack_weights /
fc_conv2d_forward_prepacked_ex, crossing conv2d_pack_weights /
conv2d_forward_prepacked_ex): every epilogue combination over random shapes (strides,
paddings, dilations, groups, 1x1, odd sizes, batch 1 and more, channel counts not a
multiple of 8) on every ISA path against conv2d_ref (float64); the residual updated in
place; one packing serving other input shapes and thread counts; the errors for a
buffer that does not belong to the convolution."""
import itertools

import numpy as np
import pytest

import fastconv
from fastconv import _C
from conv_cases import case_id, random_conv_cases
from reference import assert_close, conv2d_ref

COMBOS = list(itertools.product([False, True], repeat=4))   # scale, bias, residual, relu


def combo_id(c):
    return "-".join(n for n, on in zip(("scale", "bias", "res", "relu"), c) if on) or "none"


def _case(x_shape, w_shape, stride=(1, 1), pads=(0, 0, 0, 0), dilation=(1, 1), groups=1):
    return dict(x_shape=x_shape, w_shape=w_shape, stride=stride, pads=pads,
                dilation=dilation, groups=groups)


RANDOM_CASES = random_conv_cases(10, seed=1717)
# The im2col forward's other paths: 1x1 stride 1 (x is the column matrix; chunks of a
# wide plane), multi-image blocks of small planes (batch > 1 at 7x7), row blocks of a
# large plane, the narrow outputs of deep layers (7x7, 14x14) with channel counts not a
# multiple of 8 or of the GEMM tile, grouped and strided 1x1 (a downsample), dilation.
PATH_CASES = [
    _case((2, 6, 70, 90), (13, 6, 1, 1)),
    _case((3, 20, 7, 7), (19, 20, 1, 1), groups=1),
    _case((1, 24, 9, 11), (30, 8, 1, 1), groups=3),
    _case((1, 37, 14, 14), (45, 37, 1, 1), stride=(2, 2)),
    _case((4, 17, 7, 7), (21, 17, 3, 3), pads=(1, 1, 1, 1)),
    _case((1, 40, 7, 7), (70, 40, 3, 3), pads=(1, 1, 1, 1)),
    _case((1, 33, 14, 14), (35, 33, 3, 3), pads=(1, 1, 1, 1)),
    _case((1, 20, 15, 15), (26, 20, 3, 3), stride=(2, 2), pads=(1, 1, 1, 1)),
    _case((1, 3, 61, 75), (70, 3, 3, 3), pads=(1, 0, 2, 1)),
    _case((2, 12, 13, 9), (18, 6, 3, 2), pads=(2, 1, 0, 3), dilation=(2, 3), groups=2),
    # narrow outputs, packed with the weights as the GEMM's B operand (NR along K)
    _case((1, 20, 7, 7), (48, 20, 3, 3), pads=(1, 1, 1, 1)),
    _case((1, 19, 7, 7), (45, 19, 1, 1)),
    _case((1, 24, 5, 5), (32, 12, 3, 3), pads=(1, 1, 1, 1), groups=2),
    _case((2, 9, 5, 5), (48, 9, 3, 3), pads=(1, 1, 1, 1)),
    _case((1, 16, 14, 13), (32, 16, 3, 3), stride=(2, 2), pads=(1, 1, 1, 1)),
]
CASES = RANDOM_CASES + PATH_CASES


def _inputs(c, combo, rng):
    x = rng.standard_normal(c["x_shape"]).astype(np.float32)
    w = rng.standard_normal(c["w_shape"]).astype(np.float32)
    geo = dict(stride=c["stride"], pads=c["pads"], dilation=c["dilation"], groups=c["groups"])
    conv = conv2d_ref(x, w, **geo)
    absconv = conv2d_ref(np.abs(x), np.abs(w), **geo)
    K = c["w_shape"][0]
    use_scale, use_bias, use_res, relu = combo
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
    return x, w, scale, bias, res, relu, want, mag


def _pack(c, w, x_shape=None):
    return _C.conv2d_pack_weights(x_shape or c["x_shape"], w, c["stride"], tuple(c["pads"]),
                                  c["dilation"], c["groups"])


def _run(c, x, packed, scale, bias, res, relu, y):
    _C.conv2d_forward_prepacked_ex(x, packed, scale, bias, res, relu, y, c["w_shape"],
                                   c["stride"], tuple(c["pads"]), c["dilation"], c["groups"])
    return y


def _check(c, combo, rng, in_place=False):
    x, w, scale, bias, res, relu, want, mag = _inputs(c, combo, rng)
    packed = _pack(c, w)
    y = res.copy() if in_place else np.full(want.shape, np.nan, np.float32)
    _run(c, x, packed, scale, bias, y if in_place else res, relu, y)
    terms = int(np.prod(c["w_shape"][1:])) + 2
    assert_close(y, want, mag, terms, what=f"prepacked {case_id(c)} {combo_id(combo)}")


@pytest.mark.parametrize("combo", COMBOS, ids=combo_id)
def test_every_combination(isa, combo, rng):
    for c in CASES:
        _check(c, combo, rng)


@pytest.mark.parametrize("combo", [c for c in COMBOS if c[2]], ids=combo_id)
def test_residual_is_y(isa, combo, rng):
    """y may be the residual buffer itself, updated in place."""
    for c in CASES[:4] + PATH_CASES:
        _check(c, combo, rng, in_place=True)


@pytest.mark.parametrize("case", PATH_CASES[:6], ids=case_id)
def test_same_values_as_im2col(isa, case, rng):
    """Packing once changes where the panels come from, not the arithmetic: the result
    is the plain im2col forward's, bit for bit."""
    x, w, scale, bias, res, relu, _, _ = _inputs(case, (True, True, True, True), rng)
    got = _run(case, x, _pack(case, w), scale, bias, res, relu,
               np.empty(res.shape, np.float32))
    plain = np.empty(res.shape, np.float32)
    _C.conv2d_forward_ex(x, w, scale, bias, res, relu, plain, case["stride"],
                         tuple(case["pads"]), case["dilation"], case["groups"],
                         _C.ALGORITHMS["im2col"])
    np.testing.assert_array_equal(got, plain)


def test_one_packing_serves_other_inputs_and_threads(isa, rng):
    """The panels depend on the weight only: packed for one input shape and thread
    count, they run any other input of the same channels."""
    c = _case((1, 21, 7, 7), (27, 21, 3, 3), pads=(1, 1, 1, 1))
    w = rng.standard_normal(c["w_shape"]).astype(np.float32)
    before = fastconv.get_num_threads()
    try:
        fastconv.set_num_threads(1)
        packed = _pack(c, w)
        for threads, x_shape, stride in [(2, (3, 21, 16, 11), (1, 1)), (1, (1, 21, 9, 20), (2, 1)),
                                         (2, (2, 21, 30, 31), (2, 2))]:
            fastconv.set_num_threads(threads)
            x = rng.standard_normal(x_shape).astype(np.float32)
            d = dict(c, x_shape=x_shape, stride=stride)
            want = conv2d_ref(x, w, stride=stride, pads=c["pads"])
            mag = conv2d_ref(np.abs(x), np.abs(w), stride=stride, pads=c["pads"])
            y = _run(d, x, packed, None, None, None, False, np.empty(want.shape, np.float32))
            assert_close(y, want, mag, 21 * 9, what=f"threads={threads} x={x_shape}")
    finally:
        fastconv.set_num_threads(before)


def _layout(packed):
    """White box: the orientation word of the packed buffer's header (src_c/conv/
    prepacked.c: magic, version, isa, layout as 32-bit words)."""
    return int(packed[:4].view(np.int32)[3])


def test_both_orientations_are_covered(isa, rng):
    """The cases above run both GEMM orientations: narrow outputs (7x7 and smaller at
    batch 1) with the weights as B, the others with them as A (on AVX2: 49 columns
    fill 54 lanes of MR = 6 tiles against 64 of NR = 16 ones)."""
    layouts = {_layout(_pack(c, np.zeros(c["w_shape"], np.float32))) for c in PATH_CASES}
    if isa == "portable":   # MR 4, NR 8: less to gain, either may win
        assert layouts <= {0, 1}
    else:
        assert layouts == {0, 1}


# ------------------------------------------------------------------------- errors

BASE = _case((1, 8, 9, 9), (12, 8, 3, 3), pads=(1, 1, 1, 1))


def _base_inputs(rng):
    x = rng.standard_normal(BASE["x_shape"]).astype(np.float32)
    w = rng.standard_normal(BASE["w_shape"]).astype(np.float32)
    return x, w, np.empty((1, 12, 9, 9), np.float32)


@pytest.mark.parametrize("other", [
    _case((1, 8, 9, 9), (13, 8, 3, 3), pads=(1, 1, 1, 1)),                 # K
    _case((1, 8, 9, 9), (12, 8, 3, 1), pads=(1, 1, 1, 1)),                 # S
    _case((1, 8, 9, 9), (12, 4, 3, 3), pads=(1, 1, 1, 1), groups=2),      # C/groups, groups
    _case((1, 16, 9, 9), (12, 8, 3, 3), pads=(1, 1, 1, 1), groups=2),     # groups
], ids=["K", "S", "groups-same-size", "groups"])
def test_packed_for_another_weight_shape(other, rng):
    """A buffer packed for another convolution's weight is refused, naming the shape."""
    x, w, y = _base_inputs(rng)
    wo = rng.standard_normal(other["w_shape"]).astype(np.float32)
    packed = _pack(other, wo)
    with pytest.raises(ValueError, match="another weight shape"):
        _run(BASE, x, packed, None, None, None, False, y)


def test_not_a_packed_buffer(rng):
    x, w, y = _base_inputs(rng)
    packed = _pack(BASE, w)
    with pytest.raises(ValueError, match="not weights packed"):
        _run(BASE, x, np.zeros_like(packed), None, None, None, False, y)
    with pytest.raises(ValueError, match="packed"):          # truncated
        _run(BASE, x, packed[:-1].copy(), None, None, None, False, y)
    with pytest.raises(ValueError, match="packed"):          # too short for a header
        _run(BASE, x, packed[:4].copy(), None, None, None, False, y)
    with pytest.raises(TypeError, match="packed"):
        _run(BASE, x, packed.astype(np.float64), None, None, None, False, y)
    with pytest.raises(TypeError, match="packed"):
        _run(BASE, x, packed.reshape(1, -1), None, None, None, False, y)
    with pytest.raises(TypeError, match="packed"):
        _run(BASE, x, list(packed), None, None, None, False, y)


@pytest.mark.skipif(len(fastconv.available_isas()) < 2, reason="one ISA path only")
def test_packed_under_another_isa(rng):
    """Each ISA has its own GEMM blocking: panels packed under one are refused under
    another (pack again after set_isa), and the right ones still run."""
    x, w, y = _base_inputs(rng)
    isas = fastconv.available_isas()
    before = fastconv.get_isa()
    try:
        fastconv.set_isa(isas[0])
        packed = _pack(BASE, w)
        fastconv.set_isa(isas[1])
        with pytest.raises(ValueError, match="active ISA"):
            _run(BASE, x, packed, None, None, None, False, y)
        _run(BASE, x, _pack(BASE, w), None, None, None, False, y)
        want = conv2d_ref(x, w, pads=BASE["pads"])
        assert_close(y, want, conv2d_ref(np.abs(x), np.abs(w), pads=BASE["pads"]), 72)
    finally:
        fastconv.set_isa(before)


def test_bad_descriptor_and_arrays(rng):
    x, w, y = _base_inputs(rng)
    packed = _pack(BASE, w)
    with pytest.raises(ValueError, match="groups"):
        _C.conv2d_pack_weights(BASE["x_shape"], w, (1, 1), (1, 1, 1, 1), (1, 1), 3)
    with pytest.raises(ValueError, match="weight"):          # w of the wrong size
        _C.conv2d_pack_weights((1, 16, 9, 9), w, (1, 1), (1, 1, 1, 1), (1, 1), 1)
    with pytest.raises(TypeError, match="weight"):
        _C.conv2d_pack_weights(BASE["x_shape"], w.astype(np.float64), (1, 1), (1, 1, 1, 1),
                               (1, 1), 1)
    with pytest.raises(ValueError, match="out"):
        _run(BASE, x, packed, None, None, None, False, np.empty((1, 12, 9, 8), np.float32))
    with pytest.raises(ValueError, match="residual"):
        _run(BASE, x, packed, None, None, np.zeros(5, np.float32), False, y)
    with pytest.raises(ValueError, match="bias"):
        _run(BASE, x, packed, None, np.zeros(5, np.float32), None, False, y)
    with pytest.raises(ValueError, match="conv2d"):           # residual overlapping y
        big = np.zeros(2 * y.size, np.float32)
        _run(BASE, x, packed, None, None, big[1:1 + y.size].reshape(y.shape), False,
             big[:y.size].reshape(y.shape))
    with pytest.raises(ValueError):                           # kernel larger than the input
        _run(dict(BASE, x_shape=(1, 8, 2, 2), pads=(0, 0, 0, 0)), x[:, :, :2, :2].copy(),
             packed, None, None, None, False, np.empty((1, 12, 1, 1), np.float32))

"""The im2col forward with the weights read in place (conv/im2col.c forward_inplace,
kernels/f32_conv_inplace.inc): forced on through the library's test hook for random
shapes (odd sizes, batch 1, 3/5/13/17 channels, strides, paddings, dilations, groups,
several image blocks, reductions longer than one kc block, row counts across the
register tile) against the float64 reference, on every ISA and 1-3 threads, with and
without the fused epilogue; and AUTO's rule takes it on a ResNet 7x7 batch-1 layer and
not on a large map."""

import numpy as np
import pytest

import fastconv
from conv_cases import case_id, check_conv_case, random_conv_cases
from library_hooks import forced as forced_mode, run_counter
from reference import assert_close, conv2d_ref

from .test_epilogue import COMBOS, combo_id, run_case

# forwards that took the in-place path so far (a counter in the library)
_runs = run_counter("fc_conv_im2col_inplace_runs")


@pytest.fixture
def inplace():
    """im2col forwards take the in-place path whatever their shape."""
    with forced_mode("fc_conv_im2col_set_inplace"):
        yield


def _case(xs, ws, stride=(1, 1), pads=(0, 0, 0, 0), dilation=(1, 1), groups=1):
    return dict(x_shape=xs, w_shape=ws, stride=stride, pads=pads, dilation=dilation,
                groups=groups)


def _channel_cases(count, seed):
    """Channel counts 3, 5, 13, 17 (none a multiple of the vector width or of the
    register tile's 6 or 12 rows), odd maps, batch 1 mostly."""
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        groups = int(rng.choice([1, 1, 2]))
        Cg, Kg = int(rng.choice([3, 5, 13, 17])), int(rng.choice([3, 5, 13, 17]))
        R, S = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        dilation = (int(rng.choice([1, 1, 2])), int(rng.choice([1, 2])))
        pads = tuple(int(p) for p in rng.integers(0, 3, size=4))
        H, W = int(rng.integers(1, 16)), int(rng.integers(1, 16))
        if (R - 1) * dilation[0] + 1 > H + pads[0] + pads[1]:
            continue
        if (S - 1) * dilation[1] + 1 > W + pads[2] + pads[3]:
            continue
        N = int(rng.choice([1, 1, 2, 3]))
        cases.append(_case((N, Cg * groups, H, W), (Kg * groups, Cg, R, S), stride, pads,
                           dilation, groups))
    return cases


CASES = random_conv_cases(16, seed=9101) + _channel_cases(16, seed=9102) + [
    # 7x7 at batch 1, 512 -> 512 in miniature: 3 full row tiles and a short one
    _case((1, 24, 7, 7), (40, 24, 3, 3), pads=(1, 1, 1, 1)),
    # reduction of 80 * 9 = 720 > one kc block of 512
    _case((1, 80, 5, 6), (13, 80, 3, 3), pads=(1, 1, 1, 1)),
    # 1x1 at 7x7 over several images (the batch folded into the columns)
    _case((5, 33, 7, 7), (19, 33, 1, 1)),
    # 400 columns per image: several image blocks of at most 1024 columns, kc of 64
    _case((3, 70, 20, 20), (9, 70, 1, 1)),
    _case((3, 6, 20, 20), (17, 6, 3, 3), (1, 1), (1, 1, 1, 1)),
]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_forward_matches_reference(isa, inplace, threads, case, rng):
    before = _runs()
    check_conv_case(fastconv, case, "im2col", rng, "forward")
    assert _runs() == before + 1


EPILOGUE_CASES = random_conv_cases(4, seed=9103) + [CASES[-5], CASES[-3]]


@pytest.mark.parametrize("combo", COMBOS, ids=combo_id)
def test_epilogue(isa, inplace, combo, rng):
    before = _runs()
    for c in EPILOGUE_CASES:
        run_case(c, "im2col", combo, rng)
    assert _runs() == before + len(EPILOGUE_CASES)


@pytest.mark.parametrize("threads_", [1, 2])
@pytest.mark.parametrize("combo", [c for c in COMBOS if c[2]], ids=combo_id)
def test_epilogue_residual_is_y(isa, inplace, combo, threads_, rng):
    """y may be the residual buffer, updated in place (the C API's promise)."""
    before_threads = fastconv.get_num_threads()
    fastconv.set_num_threads(threads_)
    try:
        for c in EPILOGUE_CASES:
            run_case(c, "im2col", combo, rng, in_place=True)
    finally:
        fastconv.set_num_threads(before_threads)


def test_nonfinite_inputs_propagate(inplace, rng):
    """NaN and inf in x reach exactly the outputs whose windows hold them (the padded
    lanes of the column matrix never leak into y)."""
    x = rng.standard_normal((1, 5, 7, 7)).astype(np.float32)
    w = rng.standard_normal((7, 5, 3, 3)).astype(np.float32)
    x[0, 2, 3, 3] = np.nan
    x[0, 4, 0, 6] = np.inf
    y = fastconv.conv2d(x, w, padding=1, algorithm="im2col")
    ref = conv2d_ref(x, w, None, (1, 1), (1, 1, 1, 1), (1, 1), 1)
    np.testing.assert_array_equal(np.isnan(y), np.isnan(ref))
    finite = np.isfinite(ref)
    absref = conv2d_ref(np.abs(np.nan_to_num(x, posinf=0)), np.abs(w), None, (1, 1),
                        (1, 1, 1, 1), (1, 1), 1)
    assert_close(y[finite], ref[finite], absref[finite], 5 * 9, what="finite outputs")


def test_auto_takes_it_on_resnet_7x7_batch1(rng):
    """ResNet-18/34's last stage (512 -> 512 3x3 at 7x7, batch 1): AUTO runs im2col with
    the weights in place, and agrees with the direct algorithm."""
    x = rng.standard_normal((1, 512, 7, 7)).astype(np.float32)
    w = (rng.standard_normal((512, 512, 3, 3)) / 48).astype(np.float32)
    b = rng.standard_normal(512).astype(np.float32)
    from fastconv import _C
    assert _C.conv2d_select_algorithm(x.shape, 512, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), 1,
                                      0) == "im2col"
    before = _runs()
    y = fastconv.conv2d(x, w, b, padding=1)
    assert _runs() == before + 1
    want = fastconv.conv2d(x, w, b, padding=1, algorithm="direct")
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-4)


def test_explicit_im2col_keeps_packing(rng):
    """algorithm="im2col" packs (fc_conv2d_forward_prepacked_ex matches it bit for bit):
    only AUTO reads the weights in place."""
    x = rng.standard_normal((1, 64, 7, 7)).astype(np.float32)
    w = rng.standard_normal((64, 64, 3, 3)).astype(np.float32)
    before = _runs()
    fastconv.conv2d(x, w, padding=1, algorithm="im2col")
    assert _runs() == before
    fastconv.conv2d(x, w, padding=1)
    assert _runs() == before + 1


def test_auto_keeps_packed_gemm_on_large_maps(rng):
    x = rng.standard_normal((1, 16, 56, 56)).astype(np.float32)
    w = rng.standard_normal((16, 16, 3, 3)).astype(np.float32)
    before = _runs()
    fastconv.conv2d(x, w, padding=1, algorithm="im2col")
    fastconv.conv2d(x, w, padding=1)
    assert _runs() == before

"""The im2col forward of one image's block runs one GEMM whose micro-kernel applies the
epilogue (scale, bias, residual, ReLU) to each tile in registers at its store
(gemm/sgemm.c fc_gemm_epi, kernels/f32_gemm.inc); edge tiles go through the scratch
tile. Against the float64 reference: full and edge tiles (K_g and the plane not
multiples of MR/NR), one and several K blocks (C/groups * R * S past 256), the
residual a separate array and y itself (several K blocks then take the chunked path),
1x1 with x in place and 3x3 with packed columns, row blocks of a large map, blocks of
several images (tiles crossing from one image's plane into the next), groups,
plain and from prepacked weights, every ISA, 1-3 threads; NaN kept by the ReLU."""
import numpy as np
import pytest

import fastconv
from conv_cases import case_id

from .test_epilogue import COMBOS, combo_id, run_case
from .test_prepacked import _check as check_prepacked


def _case(xs, ws, stride=(1, 1), pads=(0, 0, 0, 0), groups=1):
    return dict(x_shape=xs, w_shape=ws, stride=stride, pads=pads, dilation=(1, 1),
                groups=groups)


CASES = [
    _case((1, 16, 20, 20), (16, 16, 1, 1)),              # whole tiles on every ISA
    _case((1, 13, 19, 21), (27, 13, 1, 1)),              # edge rows and columns
    _case((2, 9, 40, 45), (11, 9, 1, 1)),                # x in place, one image a block
    _case((1, 300, 9, 11), (10, 300, 1, 1)),             # two K blocks
    _case((1, 40, 12, 13), (19, 40, 3, 3), pads=(1, 1, 1, 1)),   # 360 = two K blocks
    _case((1, 5, 70, 61), (17, 5, 3, 3), pads=(1, 0, 2, 1)),     # row blocks
    _case((2, 12, 15, 16), (14, 6, 3, 3), stride=(2, 2), pads=(1, 1, 1, 1), groups=2),
    # blocks of several images: tiles whose columns cross from one image into the next
    # (fc_gemm_args.img_cols), a folded 1x1 and a 3x3; with two K blocks (staged)
    _case((5, 16, 7, 7), (27, 16, 1, 1)),
    _case((4, 12, 6, 5), (20, 12, 3, 3), pads=(1, 1, 1, 1)),
    _case((3, 40, 5, 5), (9, 40, 3, 3), pads=(1, 1, 1, 1)),
    _case((6, 8, 4, 3), (12, 4, 3, 3), pads=(1, 1, 0, 1), groups=2),
]


# (combo, y is the residual): every combination, and y in place of each residual one
RUNS = [(c, False) for c in COMBOS] + [(c, True) for c in COMBOS if c[2]]


@pytest.mark.parametrize("combo,in_place", RUNS,
                         ids=[combo_id(c) + ("-in_place" if i else "") for c, i in RUNS])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_fused_epilogue(isa, threads, case, combo, in_place, rng):
    run_case(case, "im2col", combo, rng, in_place=in_place)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_fused_epilogue_prepacked(isa, threads, case, rng):
    for combo in [(True, True, True, True), (False, True, False, True)]:
        check_prepacked(case, combo, rng)
    check_prepacked(case, (False, True, True, True), rng, in_place=True)


def test_relu_keeps_nan(isa, rng):
    """max(., 0) in the micro-kernel keeps NaN, as the other epilogues do: a NaN in x
    poisons its output column, a -inf bias zeroes a channel."""
    x = rng.standard_normal((1, 8, 16, 40)).astype(np.float32)
    x[0, 3, 5, 7] = np.nan
    w = rng.standard_normal((24, 8, 1, 1)).astype(np.float32)
    b = rng.standard_normal(24).astype(np.float32)
    b[4] = -np.inf
    y = fastconv.conv2d(x, w, b, algorithm="im2col", relu=True)
    assert np.isnan(y[0, :, 5, 7]).all()
    y[0, :, 5, 7] = 0.0
    assert not np.isnan(y).any()
    assert (y[0, 4] == 0.0).all()
    assert (y >= 0.0).all()

"""The im2col forward's blocking (conv/im2col.c make_plan): 1x1 stride-1 layers whose
plane leaves more than an eighth of the GEMM's last NR tile empty (14x14 and 13x13 under
AVX-512, 9x9 under AVX2, 5x5 portable) copy their columns so that a block holds several
images, when the reduction is one K block (C/groups <= 256); the epilogue then runs on
equal column chunks that may straddle images; x-in-place 1x1s run whole images or equal
chunks; stride-1 taps whose rows are as wide as the input's are copied a run of rows at
a time. Against the float64 reference at the sizes where the rules trigger and just
beyond them (28x28, 257 channels, batch 1), batch 1/2/7/8/16, with bias, ReLU and
residual epilogues (the residual also y itself), plain and from prepacked weights, on
every ISA and 1-3 threads."""
import numpy as np
import pytest

from conv_cases import case_id

from .test_epilogue import combo_id, run_case
from .test_prepacked import _check as check_prepacked


def _case(xs, ws, pads=(0, 0, 0, 0), dilation=(1, 1), groups=1):
    return dict(x_shape=xs, w_shape=ws, stride=(1, 1), pads=pads, dilation=dilation,
                groups=groups)


ONE_BY_ONE = [
    # 14x14: folds under AVX-512 (196 columns in 224 lanes), not under AVX2 (208)
    _case((1, 17, 14, 14), (13, 17, 1, 1)),
    _case((2, 17, 14, 14), (13, 17, 1, 1)),
    _case((7, 13, 14, 14), (21, 13, 1, 1)),
    # K_g x cols past one chunk: the chunks straddle images
    _case((8, 40, 14, 14), (300, 40, 1, 1)),
    _case((16, 5, 14, 14), (17, 5, 1, 1)),
    _case((16, 24, 14, 14), (130, 12, 1, 1), groups=2),
    # 13x13 (169 of 192 lanes), 9x9 (AVX2: 81 of 96), 5x5 (portable: 25 of 32)
    _case((7, 13, 13, 13), (260, 13, 1, 1)),
    _case((8, 17, 9, 9), (45, 17, 1, 1)),
    _case((8, 17, 5, 5), (19, 17, 1, 1)),
    # the reduction at one K block (256) and just past it (257: image by image)
    _case((2, 256, 14, 14), (5, 256, 1, 1)),
    _case((2, 257, 14, 14), (5, 257, 1, 1)),
    # 28x28: 784 columns waste 2% of the lanes: x in place, whole images or equal chunks
    _case((2, 9, 28, 28), (40, 9, 1, 1)),
    _case((2, 9, 28, 28), (300, 9, 1, 1)),
]

THREE_BY_THREE = [
    _case((1, 13, 14, 14), (17, 13, 3, 3), (1, 1, 1, 1)),
    _case((2, 13, 14, 14), (17, 13, 3, 3), (1, 1, 1, 1)),
    _case((7, 5, 7, 7), (19, 5, 3, 3), (1, 1, 1, 1)),
    _case((8, 17, 7, 7), (13, 17, 3, 3), (1, 1, 1, 1)),
    _case((16, 5, 7, 7), (9, 5, 3, 3), (1, 1, 1, 1)),
    # rows as wide as x's with other pads and dilations, and taps wholly outside x
    _case((2, 5, 6, 9), (7, 5, 3, 3), (2, 0, 1, 1)),
    _case((3, 5, 9, 8), (7, 5, 3, 3), (2, 2, 2, 2), dilation=(2, 2)),
    _case((2, 6, 4, 11), (5, 6, 1, 5), (0, 0, 2, 2)),
    _case((2, 5, 5, 1), (7, 5, 3, 3), (1, 1, 1, 1)),
    _case((2, 5, 1, 6), (7, 5, 3, 3), (1, 1, 1, 1)),
    _case((2, 5, 2, 3), (7, 5, 5, 5), (3, 1, 2, 2)),
]

CASES = ONE_BY_ONE + THREE_BY_THREE
# (scale, bias, residual, relu): bias alone (its own path), bias + ReLU, the residual
# block's bias + residual + ReLU, and everything
COMBOS = [(False, True, False, False), (False, True, False, True),
          (False, True, True, True), (True, True, True, True), (False, False, False, False)]


@pytest.mark.parametrize("combo", COMBOS, ids=combo_id)
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_im2col_matches_reference(isa, threads, case, combo, rng):
    run_case(case, "im2col", combo, rng)
    if combo[2]:
        run_case(case, "im2col", combo, rng, in_place=True)


@pytest.mark.parametrize("combo", COMBOS, ids=combo_id)
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_prepacked_matches_reference(isa, threads, case, combo, rng):
    check_prepacked(case, combo, rng)
    if combo[2]:
        check_prepacked(case, combo, rng, in_place=True)


@pytest.mark.parametrize("case", ONE_BY_ONE[:6], ids=case_id)
def test_auto_matches_reference(isa, threads, case, rng):
    run_case(case, "auto", (False, True, True, True), rng)

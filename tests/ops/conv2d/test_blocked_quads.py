"""The blocked forward's output-block tiles on AVX-512 (kernels/f32_conv_blocked.inc):
pairs of blocks as 16-lane accumulators, two pairs a tile ("quads"), and what is left of
a group after its quads (a pair, a single block). Output channel counts that give one
quad (32), a quad and a block (40), a quad and a pair (48), two quads and a block (65,
partial), two quads and a pair (72); 1x1, strided 1x1 (gathered), 3x3 and 5x5 kernels;
padding-only rows and columns and a long 1x1 reduction; every epilogue combination and
the residual in place; against the float64 reference
on every ISA (the others run their own tiles on the same shapes) at 1-3 threads."""
import pytest

from .test_blocked import COMBOS, case_id, run_case


def _case(xs, ws, stride=(1, 1), pads=(0, 0, 0, 0)):
    return dict(x_shape=xs, w_shape=ws, stride=stride, pads=pads, dilation=(1, 1), groups=1)


QUAD_CASES = [
    _case((1, 16, 7, 7), (32, 16, 3, 3), pads=(1, 1, 1, 1)),
    _case((2, 13, 5, 9), (40, 13, 3, 3), pads=(1, 1, 1, 1)),
    _case((1, 24, 6, 6), (48, 24, 1, 1)),
    _case((2, 17, 9, 7), (65, 17, 5, 5), pads=(2, 2, 2, 2)),
    _case((1, 9, 11, 11), (72, 9, 1, 1), stride=(2, 2)),          # gathered 1x1
    _case((1, 33, 7, 7), (72, 33, 3, 3), pads=(1, 1, 1, 1)),
    # AVX-512's quads and AVX2's pairs run assembly over a list of the segment's taps
    # (blk_asm_job): rows and columns that read padding alone (segments of fewer taps,
    # and of none), a padded 1x1 (gathered, one tap), a 1x1 over 65 input blocks on 9
    # pixels; segments of more than 64 taps (9x9) run the C loop
    _case((2, 13, 5, 6), (40, 13, 3, 3), pads=(4, 5, 1, 1)),
    _case((1, 8, 3, 4), (64, 8, 3, 3), pads=(3, 3, 3, 3)),
    _case((1, 70, 5, 5), (32, 70, 1, 1), pads=(1, 1, 1, 1)),
    _case((1, 520, 3, 3), (32, 520, 1, 1)),
    _case((1, 8, 12, 12), (32, 8, 9, 9), pads=(4, 4, 4, 4)),
]


@pytest.mark.parametrize("c", QUAD_CASES, ids=case_id)
def test_every_epilogue(isa, threads, c, rng):
    for combo in COMBOS:
        run_case(c, combo, rng)
    run_case(c, (True, True, True, True), rng, in_place=True)

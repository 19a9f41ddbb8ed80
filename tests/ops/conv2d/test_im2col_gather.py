"""im2col's column builders: the constant-stride gathers (1, 2, 4 and any other stride),
rows copied into the GEMM's packed panels in whole panels plus a zero-padded last one,
and batch-1 layers whose row blocks are evened out over the threads."""
import pytest

import fastconv
from conv_cases import PASSES, check_conv_case


def _case(xs, ws, stride=1, pads=(0, 0, 0, 0), dilation=1, groups=1):
    return dict(x_shape=xs, w_shape=ws, stride=(stride, stride), pads=pads,
                dilation=(dilation, dilation), groups=groups)


CASES = [
    # 3-channel first layers: AlexNet conv1 (11x11/4, 55 output rows: 5 row blocks,
    # evened to 6 for 2 threads) and ResNet conv1 (7x7/2, padded) at reduced sizes
    _case((1, 3, 227, 227), (8, 3, 11, 11), 4),
    _case((2, 3, 61, 58), (10, 3, 7, 7), 2, (3, 3, 3, 3)),
    # stride 3 (the generic gather), uneven padding, column counts off the panel width
    _case((1, 5, 50, 47), (7, 5, 5, 5), 3, (2, 1, 0, 2)),
    # stride 2 and 4 with dilation; stride 1 on a narrow map (rows shorter than a panel)
    _case((3, 4, 29, 31), (9, 4, 3, 3), 2, (1, 1, 1, 1), 2),
    _case((1, 2, 70, 66), (5, 2, 3, 3), 4, (0, 2, 1, 0)),
    _case((5, 6, 7, 5), (11, 6, 5, 5), 1, (2, 2, 2, 2)),
]


@pytest.mark.parametrize("pass_", PASSES)
@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "x" + "x".join(map(str, c["x_shape"])) +
                         "s" + str(c["stride"][0]))
def test_im2col_gathers(isa, threads, case, pass_, rng):
    before = fastconv.get_num_threads()
    fastconv.set_num_threads(threads)
    try:
        check_conv_case(fastconv, case, "im2col", rng, pass_)
    finally:
        fastconv.set_num_threads(before)

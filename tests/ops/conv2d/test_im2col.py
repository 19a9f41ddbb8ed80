"""im2col + GEMM convolution: block splitting, thread modes and the 1x1 shortcut."""
import numpy as np
import pytest

import fastconv
from conv_cases import PASSES, check_conv_case


def _case(xs, ws, stride=1, pads=(0, 0, 0, 0), dilation=1, groups=1):
    return dict(x_shape=xs, w_shape=ws, stride=(stride, stride), pads=pads,
                dilation=(dilation, dilation), groups=groups)


CASES = [
    # column matrix larger than one block: several row blocks per image
    _case((2, 40, 30, 45), (7, 40, 3, 3), 1, (1, 2, 0, 1)),
    _case((3, 24, 23, 50), (6, 12, 3, 5), 2, (2, 1, 2, 3), 1, 2),
    # 1x1, stride 1, no padding, on a small map (under 4 NR tiles) at batch > 1: every
    # pass folds several images into a block (the backward passes one block per thread
    # at least) instead of reading x as the column matrix image by image
    _case((2, 33, 7, 9), (17, 33, 1, 1)),
    _case((3, 6, 5, 4), (9, 2, 1, 1), groups=3),
    _case((5, 40, 7, 7), (70, 40, 1, 1)),
    # 1x1 strided / padded still goes through im2col (backward-weights: a block of
    # several images per thread)
    _case((2, 8, 9, 9), (4, 8, 1, 1), 2, (1, 0, 0, 1)),
    _case((5, 24, 13, 13), (40, 24, 1, 1), 2),
    _case((1, 5, 12, 13), (3, 5, 3, 3), 1, (2, 2, 2, 2), 2),
]


@pytest.mark.parametrize("pass_", PASSES)
@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "x" + "x".join(map(str, c["x_shape"])))
def test_im2col_blocks_and_threads(isa, threads, case, pass_, rng):
    before = fastconv.get_num_threads()
    fastconv.set_num_threads(threads)
    try:
        check_conv_case(fastconv, case, "im2col", rng, pass_)
    finally:
        fastconv.set_num_threads(before)


@pytest.mark.parametrize("pass_", PASSES)
def test_im2col_batches_and_threads_agree(pass_, rng):
    """Across-images and threaded-GEMM modes give the same sums to rounding."""
    x = rng.standard_normal((5, 16, 14, 14)).astype(np.float32)
    w = rng.standard_normal((32, 16, 3, 3)).astype(np.float32)
    gy = rng.standard_normal((5, 32, 14, 14)).astype(np.float32)
    before = fastconv.get_num_threads()
    outs = []
    try:
        for t in (1, 2, 4):
            fastconv.set_num_threads(t)
            if pass_ == "forward":
                outs.append((fastconv.conv2d(x, w, padding=1, algorithm="im2col"),))
            else:
                gx, gw, gb = fastconv.conv2d_backward(gy, x, w, padding=1, algorithm="im2col")
                outs.append((gx,) if pass_ == "backward_data" else (gw, gb))
    finally:
        fastconv.set_num_threads(before)
    for other in outs[1:]:
        for a, b in zip(outs[0], other):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("pass_", PASSES)
def test_im2col_workspace_is_reported(pass_):
    from fastconv import _C
    n = _C.conv2d_workspace_size((2, 16, 20, 20), 8, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), 1,
                                 _C.ALGORITHMS["im2col"], PASSES.index(pass_))
    assert n >= 16 * 9 * 4  # at least one column of the column matrix


@pytest.mark.parametrize("xs,K,R,groups,want", [
    ((16, 64, 56, 56), 64, 3, 1, ("winograd_f43", "winograd_f43", "im2col")),  # ResNet 3x3
    ((8, 256, 13, 13), 384, 3, 1, ("im2col", "im2col", "im2col")),  # AlexNet conv5: few tiles
    ((16, 256, 14, 14), 256, 3, 1, ("winograd_f23", "winograd_f23", "im2col")),
    ((16, 64, 56, 56), 128, 1, 1, ("im2col", "im2col", "im2col")),  # 1x1: no Winograd
    ((16, 32, 112, 112), 32, 3, 32, ("depthwise", "depthwise", "depthwise")),  # depthwise
    ((64, 1, 32, 32), 6, 5, 1, ("direct", "im2col", "direct")),      # LeNet C1: K=6
    ((32, 32, 32, 32), 32, 1, 1, ("im2col", "im2col", "im2col")),    # 1x1: no expansion
    # CIFAR 3x3: direct forward and backward-data (narrow, 32x32: direct_narrow_3x3);
    # its weight gradient (32 x 288) is im2col's since the fused panels
    ((32, 32, 32, 32), 32, 3, 1, ("direct", "direct", "im2col")),
    # 24x24: AUTO's algorithm (the blocked kernel runs it on AVX-512: blocked_narrow_3x3)
    ((32, 16, 24, 24), 16, 3, 1, ("winograd_f43", "winograd_f43", "direct")),
    ((32, 8, 28, 28), 16, 3, 1, ("im2col", "im2col", "direct")),     # narrow, moderate map
    ((8, 16, 56, 56), 16, 3, 1, ("winograd_f43", "winograd_f43", "im2col")),  # large map
    ((64, 16, 5, 5), 120, 5, 1, ("im2col", "im2col", "im2col")),     # tiny output map
])
@pytest.mark.parametrize("pass_", PASSES)
def test_auto_choice(xs, K, R, groups, want, pass_):
    # want: the choice for each pass, in PASSES order
    from fastconv import _C
    p = PASSES.index(pass_)
    got = _C.conv2d_select_algorithm(xs, K, R, R, (1, 1), (1, 1, 1, 1), (1, 1), groups, p)
    assert got == want[p]

"""im2col's backward-weights with its B panels gathered straight from x (no column
matrix): large kernels (5x5, 7x7, 11x11), strides 1-4, asymmetric paddings, dilation,
groups, odd channel counts (last panel and last row tile partial), batch 1, blocks of
several images and rows wider than a K block, at 1-3 threads (items across threads or
panels split inside a block), against the float64 reference; and the narrow-CRS layers
that keep the plain GEMM."""
import pytest

import fastconv
from conv_cases import case_id, check_conv_case, random_conv_cases


def _case(xs, ws, stride=1, pads=(0, 0, 0, 0), dilation=1, groups=1):
    return dict(x_shape=xs, w_shape=ws, stride=(stride, stride), pads=pads,
                dilation=(dilation, dilation), groups=groups)


CASES = [
    # dense 5x5 (CRS 325: a partial last panel on every ISA; 17 rows: a partial row tile)
    _case((2, 13, 28, 28), (17, 13, 5, 5), 1, (2, 2, 2, 2)),
    # ResNet conv1 (7x7/2, padded) and AlexNet conv1 (11x11/4) at reduced sizes, batch 1
    _case((1, 3, 61, 58), (20, 3, 7, 7), 2, (3, 3, 3, 3)),
    _case((2, 3, 99, 99), (24, 3, 11, 11), 4),
    # dilation with uneven padding; stride 3 (the generic gather)
    _case((3, 5, 20, 23), (13, 5, 5, 5), 1, (2, 1, 0, 3), 2),
    _case((1, 5, 50, 47), (7, 5, 5, 5), 3, (2, 1, 0, 2)),
    # groups
    _case((2, 10, 17, 19), (18, 5, 5, 5), 1, (2, 2, 1, 1), 1, 2),
    _case((1, 9, 21, 16), (12, 3, 7, 7), 2, (3, 2, 3, 1), 1, 3),
    # a small plane: blocks of several images (grad_out staged)
    _case((5, 17, 7, 7), (33, 17, 5, 5), 1, (2, 2, 2, 2)),
    # rows longer than a K block of the GEMM; several row blocks per image
    _case((2, 40, 30, 45), (9, 40, 3, 3), 1, (1, 1, 1, 1)),
    # the kernel larger than x along a side, reached through padding
    _case((2, 6, 5, 9), (11, 6, 7, 7), 1, (3, 3, 3, 3)),
    # a single output row per block edge: tall stride
    _case((1, 4, 40, 13), (10, 4, 11, 3), 4, (0, 2, 1, 1)),
]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_fused_panels(isa, threads, case, rng):
    check_conv_case(fastconv, case, "im2col", rng, "backward_weights")


@pytest.mark.parametrize("case", random_conv_cases(20, seed=1611, max_kernel=11), ids=case_id)
def test_random_shapes(isa, threads, case, rng):
    check_conv_case(fastconv, case, "im2col", rng, "backward_weights")


# A 5x5 layer takes the fused panels: its workspace (with 2 threads, a partial grad_w
# per extra thread) stays below one block's column matrix (64 * 25 rows x 392 columns),
# which the plain GEMM would need.
@pytest.mark.parametrize("threads", [1, 2])
def test_fused_route_builds_no_column_matrix(isa, threads):
    from fastconv import _C
    before = fastconv.get_num_threads()
    fastconv.set_num_threads(threads)
    try:
        n = _C.conv2d_workspace_size((8, 64, 28, 28), 64, 5, 5, (1, 1), (2, 2, 2, 2), (1, 1),
                                     1, _C.ALGORITHMS["im2col"], 2)  # backward-weights
        assert 0 < n < 64 * 25 * 392 * 4
    finally:
        fastconv.set_num_threads(before)


# CRS 9 (one input channel, 3x3): the plain GEMM, which computes grad_w^T there.
@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("case", [
    _case((4, 1, 28, 28), (64, 1, 3, 3), 1, (1, 1, 1, 1)),
    _case((2, 1, 19, 23), (40, 1, 3, 3), 2, (0, 1, 1, 0)),
], ids=case_id)
def test_narrow_crs_keeps_plain_gemm(isa, threads, case, rng):
    before = fastconv.get_num_threads()
    fastconv.set_num_threads(threads)
    try:
        check_conv_case(fastconv, case, "im2col", rng, "backward_weights")
    finally:
        fastconv.set_num_threads(before)


# Channels-last panels (bwd_w_cl_panels): C/groups fills at least 8/9 of the lanes of its
# NR-wide channel blocks on every ISA (32 and 64; 30: a last block two channels short,
# 16 + 14 on AVX2), so grad_w is summed as [K][R][S][C] and permuted back. Strides 1-3
# (runs of xt copied at once, or position by position), dilation, asymmetric padding,
# groups, batch 1 and 3, several images per block (5x5 planes), several row blocks,
# output rows longer than a K block (split runs), a partial last row tile (K 17).
CL_CASES = [
    _case((2, 32, 12, 12), (17, 32, 5, 5), 1, (2, 2, 2, 2)),
    _case((1, 30, 15, 14), (24, 30, 3, 3), 2, (1, 0, 0, 1)),
    _case((3, 64, 11, 10), (9, 64, 3, 3), 1, (2, 1, 0, 2), 2),
    _case((2, 64, 13, 12), (24, 32, 5, 5), 1, (2, 2, 1, 1), 1, 2),
    _case((6, 32, 5, 5), (20, 32, 3, 3), 1, (1, 1, 1, 1)),
    _case((1, 60, 23, 25), (8, 60, 7, 7), 3, (3, 2, 1, 3)),
    _case((1, 32, 6, 300), (9, 32, 3, 5), 1, (1, 1, 2, 2)),
    _case((2, 32, 70, 70), (16, 32, 3, 3), 1, (1, 1, 1, 1)),
    dict(x_shape=(1, 32, 9, 20), w_shape=(12, 32, 3, 2), stride=(2, 1), pads=(0, 1, 1, 0),
         dilation=(1, 3), groups=1),
]


@pytest.mark.parametrize("case", CL_CASES, ids=case_id)
def test_channels_last_panels(isa, threads, case, rng):
    check_conv_case(fastconv, case, "im2col", rng, "backward_weights")


# Padded panels (bwd_w_xp_panels): stride_w >= 4 without channels-last, each B panel row
# copied from x's padded rows as runs along s (16-float copies that spill into columns
# written afterwards, or one by one: a run longer than 16, dilation along W). Panels
# spanning several channels (5 channels x 11 taps), padding on every side, dilation along
# H and W, groups, stride 4 along W only, several images per block, batch 1 and 3.
XP_CASES = [
    _case((3, 5, 45, 47), (13, 5, 11, 11), 4, (1, 2, 3, 0)),
    _case((1, 3, 38, 41), (10, 3, 7, 7), 5, (3, 3, 3, 3)),
    dict(x_shape=(2, 6, 21, 60), w_shape=(10, 3, 3, 19), stride=(1, 4), pads=(1, 0, 2, 5),
         dilation=(2, 1), groups=2),
    dict(x_shape=(1, 4, 30, 50), w_shape=(8, 4, 5, 3), stride=(2, 4), pads=(0, 1, 2, 2),
         dilation=(1, 3), groups=1),
    _case((7, 3, 13, 13), (20, 3, 5, 5), 4, (2, 2, 2, 2)),
]


@pytest.mark.parametrize("case", XP_CASES, ids=case_id)
def test_padded_panels(isa, threads, case, rng):
    check_conv_case(fastconv, case, "im2col", rng, "backward_weights")

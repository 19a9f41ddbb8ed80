"""grad_bias of conv2d_backward (conv/conv_desc.c fc_conv2d_bias_grad): each channel's
sum over the batch and the plane, in 64 float partial sums per plane then double,
against the float64 sum, for planes shorter than, equal to and longer than the 64
lanes, with a remainder, and as large as ResNet's conv1 output (112x112)."""
import numpy as np
import pytest

import fastconv
from reference import EPS32


@pytest.mark.parametrize("hw", [(7, 9), (8, 8), (5, 13), (20, 10), (112, 112)])
@pytest.mark.parametrize("batch", [1, 3])
def test_bias_grad_is_the_plane_sum(isa, threads, hw, batch, rng):
    K = 5
    x = rng.standard_normal((batch, 2) + hw).astype(np.float32)
    w = rng.standard_normal((K, 2, 1, 1)).astype(np.float32)
    # mostly one sign: no cancellation to hide a lost term
    gy = (rng.standard_normal((batch, K) + hw) + 3.0).astype(np.float32)
    _, _, gb = fastconv.conv2d_backward(gy, x, w, input_grad=False)
    want = gy.astype(np.float64).sum(axis=(0, 2, 3))
    # each float partial sum holds plane / 64 terms (or the whole of a short plane)
    terms = max(1, hw[0] * hw[1] // 64) + 64
    tol = 2 * terms * EPS32 * np.abs(gy).astype(np.float64).sum(axis=(0, 2, 3))
    assert np.all(np.abs(gb - want) <= tol)
    gy[0, 2, hw[0] - 1, hw[1] - 1] += 1000.0     # the last element of a plane counts
    _, _, gb2 = fastconv.conv2d_backward(gy, x, w, input_grad=False)
    assert abs((gb2[2] - gb[2]) - 1000.0) < 1.0

"""User-facing defects of issue 13, item 8:
(a) empty batches (N=0) through the layers and models, forward and backward;
(b) load_state_dict without BatchNorm's num_batches_tracked (old checkpoints);
(c) load_state_dict is all or nothing;
(d) fastconv.load on files that are not fastconv archives;
(e) sizes checked from shapes before any input is converted or copied."""
import os
import pickle
import zipfile

import numpy as np
import pytest

import fastconv
from fastconv import models, nn

# ---------------------------------------------------------------------------------
# (e) sizes checked before any input is converted

# 2**46 elements: its float32 copy would need 256 TiB, more than any x86-64 process
# can map, so a copy made before the checks fails with NumPy's own MemoryError
# ("Unable to allocate ..."), and these tests see the wrong error instead of a hang.
HUGE = np.broadcast_to(np.float64(1), (1, 1, 2**24, 2**22))
HUGE2 = np.broadcast_to(np.float64(1), (2**23, 2**23))
W3 = np.ones((1, 1, 3, 3), np.float32)


@pytest.mark.parametrize("call, match", [
    (lambda: fastconv.conv2d(HUGE, W3, dilation=2**25), "exceeds the padded input"),
    (lambda: fastconv.conv2d(HUGE, np.ones((1, 2, 3, 3))), "input channels"),
    (lambda: fastconv.conv2d(HUGE, W3, bias=np.ones(2)), "bias of shape"),
    (lambda: fastconv.conv2d(HUGE, W3, algorithm="winograd", stride=2), "serves only"),
    (lambda: fastconv.conv2d_backward(HUGE, HUGE, W3), "expected grad_out"),
    (lambda: fastconv.conv2d(W3, HUGE), "exceeds the padded input"),
    (lambda: fastconv.depthwise_conv2d(HUGE, W3, dilation=2**25), "exceeds the padded"),
    (lambda: fastconv.depthwise_conv2d_backward(HUGE, HUGE, W3), "expected grad_out"),
    (lambda: fastconv.conv_transpose2d(HUGE, W3, padding=2**30), "too large"),
    (lambda: fastconv.conv_transpose2d_backward(HUGE, HUGE, W3), "expected grad_out"),
    (lambda: fastconv.max_pool2d(HUGE, 2**25), "exceeds the padded"),
    (lambda: fastconv.max_pool2d_backward(HUGE, HUGE, 2), "expected grad_out"),
    (lambda: fastconv.avg_pool2d(HUGE, 2**25), "exceeds the padded"),
    (lambda: fastconv.avg_pool2d_backward(HUGE, HUGE, 2), "expected grad_out"),
    (lambda: fastconv.global_max_pool2d_backward(HUGE, HUGE), "expected grad_out"),
    (lambda: fastconv.global_avg_pool2d_backward(HUGE, HUGE), "expected grad_out"),
    (lambda: fastconv.matmul(HUGE2, np.ones((3, 2))), "inner dimensions"),
    (lambda: fastconv.matmul(np.ones((2, 3)), HUGE2), "inner dimensions"),
    (lambda: fastconv.matmul(HUGE2.T, np.ones((3, 2))), "inner dimensions"),
], ids=["conv2d", "conv2d-channels", "conv2d-bias", "conv2d-winograd", "conv2d_backward",
        "conv2d-huge-weight", "depthwise", "depthwise_backward", "tconv", "tconv_backward",
        "maxpool", "maxpool_backward", "avgpool", "avgpool_backward", "gmp_backward",
        "gap_backward", "matmul-a", "matmul-b", "matmul-aT"])
def test_impossible_shapes_fail_before_any_copy(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("call, what", [
    (lambda: fastconv.conv2d(HUGE, np.ones((4, 1, 1, 1))), "output"),
    (lambda: fastconv.conv2d_backward(np.broadcast_to(np.float32(1), (1, 4) + HUGE.shape[2:]),
                                      HUGE, np.ones((4, 1, 1, 1))), "grad_x"),
    (lambda: fastconv.conv_transpose2d(HUGE, np.ones((1, 4, 1, 1))), "output"),
    (lambda: fastconv.depthwise_conv2d(HUGE, np.ones((4, 1, 1, 1))), "output"),
    (lambda: fastconv.max_pool2d(HUGE, 1), "output"),
    (lambda: fastconv.avg_pool2d(HUGE, 1), "output"),
    (lambda: fastconv.matmul(HUGE2, HUGE2), "output"),
])
def test_huge_outputs_are_memory_errors_naming_the_size(call, what):
    with pytest.raises(MemoryError, match=rf": the {what} of shape .* needs \d+ bytes"):
        call()


def test_huge_input_copy_is_memory_error_naming_the_argument():
    # legal arguments and a small output, but x itself cannot be converted
    with pytest.raises(MemoryError, match=r"global_avg_pool2d: converting x of shape "
                                          r"\(1, 1, 16777216, 4194304\) .* \d+ bytes"):
        fastconv.global_avg_pool2d(HUGE)


def test_conversion_still_happens_after_the_checks(rng):
    x = np.broadcast_to(rng.standard_normal((1, 2, 1, 5)), (3, 2, 6, 5))
    w = rng.standard_normal((4, 2, 3, 3))
    y = fastconv.conv2d(x, w, padding=1)
    np.testing.assert_allclose(
        y, fastconv.conv2d(np.ascontiguousarray(x, np.float32), w.astype(np.float32),
                           padding=1), rtol=0, atol=0)
    a = rng.standard_normal((6, 5))
    np.testing.assert_allclose(fastconv.matmul(a.T, a), (a.T @ a).astype(np.float32),
                               rtol=1e-5, atol=1e-5)

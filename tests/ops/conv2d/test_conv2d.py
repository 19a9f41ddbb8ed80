"""conv2d and conv2d_backward against the float64 reference, every ISA path; each
check that covers forward and backward runs once per pass (forward, backward_data,
backward_weights), so a failure names the pass."""
import numpy as np
import pytest

import fastconv
from conv_cases import PASSES, case_id, check_conv_case, padding_arg, random_conv_cases
from reference import assert_close, conv2d_ref

# Algorithms that serve every descriptor; Winograd has its own tests.
GENERAL_ALGORITHMS = ["direct", "im2col"]
CASES = random_conv_cases(36, seed=2024)


@pytest.mark.parametrize("pass_", PASSES)
@pytest.mark.parametrize("algorithm", GENERAL_ALGORITHMS)
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_random_sweep(isa, algorithm, case, pass_, rng):
    check_conv_case(fastconv, case, algorithm, rng, pass_)


@pytest.mark.parametrize("algorithm", GENERAL_ALGORITHMS + ["auto"])
@pytest.mark.parametrize("shape", [
    # channels not a multiple of the vector width, widths around it, wide rows
    ((1, 17, 13, 33), (19, 17, 3, 3), 1, 1),
    ((2, 16, 8, 16), (8, 16, 1, 1), 1, 0),
    ((1, 3, 35, 47), (10, 3, 7, 7), 2, 3),
    ((1, 5, 9, 65), (9, 5, 5, 5), 1, 2),
])
@pytest.mark.parametrize("pass_", PASSES)
def test_awkward_sizes(isa, algorithm, shape, pass_, rng):
    xs, ws, stride, pad = shape
    check_conv_case(fastconv, dict(x_shape=xs, w_shape=ws, stride=(stride, stride),
                                   pads=(pad,) * 4, dilation=(1, 1), groups=1),
                    algorithm, rng, pass_)


def test_nan_propagates():
    x = np.ones((1, 2, 6, 6), np.float32)
    x[0, 1, 2, 3] = np.nan
    w = np.ones((1, 2, 3, 3), np.float32)
    y = fastconv.conv2d(x, w)
    assert np.isnan(y[0, 0, 0:3, 1:4]).all()
    assert np.isfinite(y[0, 0, 3:, :]).all()


def test_inputs_not_modified_and_dtypes_converted(rng):
    x64 = rng.standard_normal((2, 3, 8, 8))
    w64 = rng.standard_normal((4, 3, 3, 3))
    xc, wc = x64.copy(), w64.copy()
    y = fastconv.conv2d(x64, w64, padding=1)
    np.testing.assert_array_equal(x64, xc)
    np.testing.assert_array_equal(w64, wc)
    assert y.dtype == np.float32
    ref = conv2d_ref(x64.astype(np.float32), w64.astype(np.float32), pads=(1, 1, 1, 1))
    absref = conv2d_ref(np.abs(x64), np.abs(w64), pads=(1, 1, 1, 1))
    assert_close(y, ref, absref, 27)
    # non-contiguous input (a transposed view) gives the same answer
    xt = np.ascontiguousarray(x64.astype(np.float32).transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)
    assert not xt.flags.c_contiguous
    np.testing.assert_array_equal(fastconv.conv2d(xt, w64, padding=1), y)


@pytest.mark.parametrize("H,W,R,S,stride,dilation", [
    (7, 7, 3, 3, 1, 1), (8, 5, 4, 2, 1, 1), (9, 9, 3, 3, 2, 1), (10, 6, 3, 3, 1, 2),
])
def test_same_padding_keeps_size(H, W, R, S, stride, dilation, rng):
    x = rng.standard_normal((1, 2, H, W)).astype(np.float32)
    w = rng.standard_normal((3, 2, R, S)).astype(np.float32)
    y = fastconv.conv2d(x, w, padding="same", stride=stride, dilation=dilation)
    assert y.shape == (1, 3, -(-H // stride), -(-W // stride))
    assert fastconv.conv2d(x, w, padding="valid").shape == (1, 3, H - R + 1, W - S + 1)


def test_same_padding_matches_torch(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 3, 10, 9)).astype(np.float32)
    w = rng.standard_normal((4, 3, 4, 3)).astype(np.float32)
    y = fastconv.conv2d(x, w, padding="same", dilation=(1, 2))
    t = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding="same",
                                   dilation=(1, 2))
    np.testing.assert_allclose(y, t.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("pass_", PASSES)
@pytest.mark.parametrize("case", random_conv_cases(6, seed=7), ids=case_id)
def test_matches_torch(case, pass_, rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal(case["x_shape"]).astype(np.float32)
    w = rng.standard_normal(case["w_shape"]).astype(np.float32)
    t, b, l, r = case["pads"]
    xt = torch.nn.functional.pad(torch.from_numpy(x), (l, r, t, b)).requires_grad_()
    wt = torch.from_numpy(w).requires_grad_()
    yt = torch.nn.functional.conv2d(xt, wt, None, case["stride"], 0, case["dilation"],
                                    case["groups"])
    args = dict(stride=case["stride"], padding=padding_arg(case["pads"]),
                dilation=case["dilation"], groups=case["groups"])
    if pass_ == "forward":
        y = fastconv.conv2d(x, w, **args)
        np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-4, atol=1e-4)
        return
    gy = rng.standard_normal(tuple(yt.shape)).astype(np.float32)
    yt.backward(torch.from_numpy(gy))
    gx, gw, _ = fastconv.conv2d_backward(gy, x, w, **args)
    if pass_ == "backward_data":
        np.testing.assert_allclose(gx, xt.grad.numpy()[:, :, t:t + x.shape[2], l:l + x.shape[3]],
                                   rtol=1e-4, atol=1e-4)
    else:
        np.testing.assert_allclose(gw, wt.grad.numpy(), rtol=1e-4, atol=1e-3)


def test_batch_zero_returns_empty():
    y = fastconv.conv2d(np.zeros((0, 3, 5, 5), np.float32), np.zeros((2, 3, 3, 3), np.float32))
    assert y.shape == (0, 2, 3, 3)


@pytest.mark.parametrize("case", [c for c in random_conv_cases(60, seed=11)
                                  if c["groups"] == c["x_shape"][1] > 1][:6] or
                         [dict(x_shape=(2, 3, 9, 11), w_shape=(6, 1, 3, 2), stride=(2, 1),
                               pads=(1, 0, 2, 1), dilation=(1, 2), groups=3)], ids=case_id)
@pytest.mark.parametrize("pass_", PASSES)
def test_depthwise_algorithm(isa, case, pass_, rng):
    # groups == C: "depthwise" (what "auto" picks, in C) serves forward and backward
    check_conv_case(fastconv, case, "depthwise", rng, pass_)


def test_depthwise_algorithm_refuses_other_groupings():
    x = np.zeros((1, 4, 5, 5), np.float32)
    with pytest.raises(fastconv.UnsupportedError, match="groups == C > 1"):
        fastconv.conv2d(x, np.zeros((4, 2, 3, 3), np.float32), groups=2, algorithm="depthwise")

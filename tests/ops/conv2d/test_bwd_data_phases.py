"""Backward-data of strided convolutions as one stride-1 blocked forward per phase of
grad_x (src_c/conv/bwd_data_phases.c): AUTO's route for 3x3 layers at stride 2 with as
many channels in and out as the kernel table's phases_min_channels (AVX-512 64, AVX2
128), and wherever the test hook forces it (one group, no dilation, strides up to 4). Checked
against the float64 reference on every ISA path and 1-3 threads, with phases that get no
taps (kernels smaller than the stride), phases whose forward computes rows past its own
(asymmetric and large paddings), odd channel counts and batch 1; AUTO's choice at the
rule's edges; the caller's workspace; and the transposed convolution's forward, which
runs the same plan."""
import numpy as np
import pytest

import fastconv
from conv_cases import case_id, check_bwd_data_caller_workspace, check_conv_case
from library_hooks import forced, run_counter

_runs = run_counter("fc_conv_bwd_data_phases_runs")


def _cases(count, seed):
    """Random shapes the route serves: strides 2-4 (one way 1 at times), kernels 1..5
    (smaller than the stride too: phases without taps), paddings up to the kernel's
    extent and one-sided, batch 1-3, channel counts off the block of 8."""
    rng = np.random.default_rng(seed)
    cases = []
    strides = [(2, 2)] * 4 + [(3, 3), (4, 4), (2, 1), (1, 3), (3, 2)]
    while len(cases) < count:
        stride = strides[int(rng.integers(0, len(strides)))]
        R, S = int(rng.integers(1, 6)), int(rng.integers(1, 6))
        pads = tuple(int(rng.integers(0, k)) if k > 1 else 0 for k in (R, R, S, S))
        N = int(rng.choice([1, 1, 2, 3]))
        C, K = int(rng.choice([1, 3, 8, 13, 17])), int(rng.choice([1, 5, 8, 9, 19]))
        H, W = int(rng.integers(1, 16)), int(rng.integers(1, 16))
        if R > H + pads[0] + pads[1] or S > W + pads[2] + pads[3]:
            continue
        cases.append(dict(x_shape=(N, C, H, W), w_shape=(K, C, R, S), stride=stride,
                          pads=pads, dilation=(1, 1), groups=1))
    return cases


CASES = _cases(40, 2027) + [
    # ResNet's downsampling shape, odd channels, even and odd maps
    dict(x_shape=(2, 19, 14, 14), w_shape=(21, 19, 3, 3), stride=(2, 2), pads=(1, 1, 1, 1),
         dilation=(1, 1), groups=1),
    dict(x_shape=(1, 9, 7, 9), w_shape=(17, 9, 3, 3), stride=(2, 2), pads=(1, 1, 1, 1),
         dilation=(1, 1), groups=1),
    # 1x1 at stride 2: three of the four phases get no taps (zeros)
    dict(x_shape=(2, 5, 8, 7), w_shape=(6, 5, 1, 1), stride=(2, 2), pads=(0, 0, 0, 0),
         dilation=(1, 1), groups=1),
    # a map narrower than the stride: phases without places
    dict(x_shape=(1, 4, 1, 3), w_shape=(3, 4, 1, 3), stride=(2, 4), pads=(0, 0, 1, 0),
         dilation=(1, 1), groups=1),
    # no phase with taps and places (a one-row map read only through padding): zeros
    dict(x_shape=(2, 3, 1, 5), w_shape=(4, 3, 1, 1), stride=(2, 2), pads=(1, 1, 1, 0),
         dilation=(1, 1), groups=1),
    # padding only below and right: the phases' forwards compute rows past their own
    dict(x_shape=(3, 8, 9, 10), w_shape=(8, 8, 4, 3), stride=(3, 2), pads=(0, 3, 0, 2),
         dilation=(1, 1), groups=1),
]


def test_cases_cover():
    assert any(c["w_shape"][2] < c["stride"][0] for c in CASES)   # phases without taps
    assert any(c["pads"][0] != c["pads"][1] for c in CASES)
    assert any(c["x_shape"][0] == 1 for c in CASES)
    assert len({c["stride"] for c in CASES}) >= 5


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_forced_matches_reference(isa, threads, case):
    rng = np.random.default_rng(43)
    with forced("fc_conv_bwd_data_phases_set_mode"):
        before = _runs()
        check_conv_case(fastconv, case, "auto", rng, "backward_data")
        assert _runs() == before + 1


def _takes(xs, K, R=3, stride=2, pad=1, dilation=1, groups=1):
    """Whether AUTO's backward-data of this layer ran the phases (runs it once)."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal((K, xs[1] // groups, R, R)).astype(np.float32)
    OH = (xs[2] + 2 * pad - dilation * (R - 1) - 1) // stride + 1
    OW = (xs[3] + 2 * pad - dilation * (R - 1) - 1) // stride + 1
    gy = rng.standard_normal((xs[0], K, OH, OW)).astype(np.float32)
    before = _runs()
    fastconv.conv2d_backward(gy, x, w, stride=stride, padding=pad, dilation=dilation,
                             groups=groups, weight_grad=False)
    return _runs() - before == 1


def test_auto_rule_edges():
    """3x3 at stride 2 with as many channels in and out as the ISA's kernel table says
    (registry.c, phases_min_channels: AVX-512 64, AVX2 128, portable never); nothing
    else."""
    least = {"avx512": 64, "avx2": 128}.get(fastconv.get_isa())
    assert _takes((2, 64, 14, 14), 64) == (least == 64)
    assert _takes((1, 64, 9, 11), 65) == (least == 64)   # batch 1, odd map, odd channels
    assert _takes((2, 128, 14, 14), 128) == (least is not None)
    assert _takes((1, 128, 9, 9), 131) == (least is not None)
    assert _takes((2, 127, 14, 14), 128) == (least == 64)
    assert not _takes((2, 63, 14, 14), 64)              # 63 input channels
    assert not _takes((2, 64, 14, 14), 63)              # 63 output channels
    assert not _takes((2, 128, 14, 14), 128, stride=1)  # stride 1 (the flipped forward's)
    assert not _takes((2, 128, 14, 14), 128, R=5, pad=2)  # 5x5
    assert not _takes((2, 128, 14, 14), 128, dilation=2)
    assert not _takes((2, 256, 14, 14), 256, groups=2)


def test_explicit_algorithm_keeps_its_own(rng):
    x = rng.standard_normal((2, 64, 14, 14)).astype(np.float32)
    w = rng.standard_normal((64, 64, 3, 3)).astype(np.float32)
    gy = rng.standard_normal((2, 64, 7, 7)).astype(np.float32)
    with forced("fc_conv_bwd_data_phases_set_mode"):
        before = _runs()
        for algo in ("im2col", "direct"):
            fastconv.conv2d_backward(gy, x, w, stride=2, padding=1, algorithm=algo,
                                     weight_grad=False)
        assert _runs() == before


@pytest.mark.parametrize("case", CASES[-5:] + CASES[:4], ids=case_id)
def test_caller_workspace(case):
    """Through the C API with AUTO and the hook on: exactly the reported workspace
    serves, 64 bytes less is refused before grad_x is touched."""
    with forced("fc_conv_bwd_data_phases_set_mode"):
        check_bwd_data_caller_workspace(fastconv, case, "auto", 47, _runs)


def test_transposed_forward_runs_the_phases(isa, threads):
    """conv_transpose2d's forward is the dual convolution's backward-data: with the hook
    on it runs the phases, and matches the float64 reference."""
    from reference import conv2d_backward_ref
    rng = np.random.default_rng(53)
    x = rng.standard_normal((2, 24, 5, 6)).astype(np.float32)      # the dual's grad_y
    w = rng.standard_normal((24, 11, 3, 3)).astype(np.float32)     # (C_in, K/groups, R, S)
    with forced("fc_conv_bwd_data_phases_set_mode"):
        before = _runs()
        y = fastconv.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1)
        assert _runs() == before + 1
    dual_x = np.zeros((2, 11, 10, 12), np.float64)
    ref = conv2d_backward_ref(x, dual_x, w, (2, 2), (1, 1, 1, 1), (1, 1), 1)[0]
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())

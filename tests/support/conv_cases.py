"""Seeded random convolution shapes shared by every algorithm's tests."""
import ctypes
import os

import numpy as np

from reference import _out_size, conv2d_backward_ref, conv2d_ref


def random_conv_cases(count, seed, max_kernel=7, stride1_3x3=False):
    """Dicts of (x_shape, w_shape, stride, pads, dilation, groups) over odd sizes,
    batch 1, 1x1 to 7x7 kernels, strides, asymmetric paddings, dilations and groups.
    stride1_3x3 restricts to what Winograd serves."""
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        groups = int(rng.choice([1, 1, 1, 2, 3]))
        Cg, Kg = int(rng.integers(1, 7)), int(rng.integers(1, 12))
        N = int(rng.choice([1, 1, 2, 3]))
        if stride1_3x3:
            R = S = 3
            stride, dilation = (1, 1), (1, 1)
        else:
            R, S = int(rng.integers(1, max_kernel + 1)), int(rng.integers(1, max_kernel + 1))
            stride = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
            dilation = (int(rng.choice([1, 1, 2, 3])), int(rng.choice([1, 1, 2])))
        pads = tuple(int(p) for p in rng.integers(0, 4, size=4))
        H, W = int(rng.integers(1, 20)), int(rng.integers(1, 40))
        if (R - 1) * dilation[0] + 1 > H + pads[0] + pads[1]:
            continue
        if (S - 1) * dilation[1] + 1 > W + pads[2] + pads[3]:
            continue
        cases.append(dict(x_shape=(N, Cg * groups, H, W), w_shape=(Kg * groups, Cg, R, S),
                          stride=stride, pads=pads, dilation=dilation, groups=groups))
    return cases


def case_id(c):
    return (f"x{'x'.join(map(str, c['x_shape']))}-w{'x'.join(map(str, c['w_shape']))}"
            f"-s{c['stride'][0]}{c['stride'][1]}-p{''.join(map(str, c['pads']))}"
            f"-d{c['dilation'][0]}{c['dilation'][1]}-g{c['groups']}")


def padding_arg(pads):
    t, b, l, r = pads
    return ((t, b), (l, r))


# The passes a convolution test checks one at a time, so that a failure names the pass.
PASSES = ["forward", "backward_data", "backward_weights"]


def conv_out_shape(x_shape, w_shape, stride, pads, dilation):
    """conv2d_ref's output shape, without running it."""
    N, _, H, W = x_shape
    K, _, R, S = w_shape
    t, b, l, r = pads
    return (N, K, _out_size(H, t, b, R, dilation[0], stride[0]),
            _out_size(W, l, r, S, dilation[1], stride[1]))


def check_conv_case(fastconv, c, algorithm, rng, pass_, factor=8.0):
    """Runs one pass of one case through fastconv and checks its results against the
    float64 reference: "forward" y, "backward_data" grad_x, "backward_weights" grad_weight
    and grad_bias. Every pass draws x, w, b and then grad_out from rng in the same order,
    so each sees the data the combined check saw."""
    from reference import assert_close

    x = rng.standard_normal(c["x_shape"]).astype(np.float32)
    w = rng.standard_normal(c["w_shape"]).astype(np.float32)
    b = rng.standard_normal(c["w_shape"][0]).astype(np.float32)
    args = dict(stride=c["stride"], padding=padding_arg(c["pads"]), dilation=c["dilation"],
                groups=c["groups"])
    rargs = (c["stride"], c["pads"], c["dilation"], c["groups"])
    K, Cg, R, S = c["w_shape"]
    if pass_ == "forward":
        y = fastconv.conv2d(x, w, b, algorithm=algorithm, **args)
        ref = conv2d_ref(x, w, b, *rargs)
        absref = conv2d_ref(np.abs(x), np.abs(w), np.abs(b), *rargs)
        assert_close(y, ref, absref, Cg * R * S + 1, factor, "forward")
        return

    out_shape = conv_out_shape(c["x_shape"], c["w_shape"], c["stride"], c["pads"], c["dilation"])
    gy = rng.standard_normal(out_shape).astype(np.float32)
    gx, gw, gb = fastconv.conv2d_backward(gy, x, w, algorithm=algorithm, **args)
    rgx, rgw, rgb = conv2d_backward_ref(gy, x, w, *rargs)
    agx, agw, agb = conv2d_backward_ref(np.abs(gy), np.abs(x), np.abs(w), *rargs)
    N, _, OH, OW = out_shape
    if pass_ == "backward_data":
        assert_close(gx, rgx, agx, (K // c["groups"]) * R * S, factor, "grad_x")
    elif pass_ == "backward_weights":
        assert_close(gw, rgw, agw, N * OH * OW, factor, "grad_weight")
        assert_close(gb, rgb, agb, N * OH * OW, factor, "grad_bias")
    else:
        raise ValueError(f"unknown pass {pass_!r}")


class ConvDesc(ctypes.Structure):
    """fc_conv2d_desc (fastconv.h), for tests that call the C API directly."""
    _fields_ = [(n, ctypes.c_int64) for n in (
        "N", "C", "H", "W", "K", "R", "S", "stride_h", "stride_w", "pad_top", "pad_bottom",
        "pad_left", "pad_right", "dilation_h", "dilation_w", "groups")]


def check_bwd_data_caller_workspace(fastconv, c, algorithm, seed, runs=None):
    """Backward-data of case c through the C API with the caller's workspace: exactly the
    size fc_conv2d_workspace_size gives serves and matches the float64 reference (and
    adds one to the counter `runs`, when given), 64 bytes less is refused before grad_x
    is touched."""
    from fastconv import _C
    lib = ctypes.CDLL(os.path.join(fastconv.get_library_dir(), "libfastconv.so"))
    rng = np.random.default_rng(seed)
    N, C, H, W = c["x_shape"]
    K, _, R, S = c["w_shape"]
    (sh, sw), (dh, dw), (t, b, l, r) = c["stride"], c["dilation"], c["pads"]
    d = ConvDesc(N, C, H, W, K, R, S, sh, sw, t, b, l, r, dh, dw, c["groups"])
    x = rng.standard_normal(c["x_shape"]).astype(np.float32)
    w = rng.standard_normal(c["w_shape"]).astype(np.float32)
    gy = rng.standard_normal(conv_out_shape(c["x_shape"], c["w_shape"], c["stride"], c["pads"],
                                            c["dilation"])).astype(np.float32)
    n = ctypes.c_size_t()
    algo, bwd_data = _C.ALGORITHMS[algorithm], 1
    assert lib.fc_conv2d_workspace_size(ctypes.byref(d), algo, bwd_data, ctypes.byref(n)) == 0
    p = lambda a: a.ctypes.data_as(ctypes.c_void_p)  # noqa: E731
    gx = np.full(c["x_shape"], 7.0, np.float32)
    if n.value >= 64:
        small = np.empty(n.value - 64, np.uint8)
        st = lib.fc_conv2d_backward_data(ctypes.byref(d), algo, p(gy), p(w), p(gx), p(small),
                                         ctypes.c_size_t(small.size))
        assert st != 0 and (gx == 7.0).all()
    before = runs() if runs else 0
    ws = np.empty(max(n.value, 1), np.uint8)
    st = lib.fc_conv2d_backward_data(ctypes.byref(d), algo, p(gy), p(w), p(gx), p(ws),
                                     ctypes.c_size_t(n.value))
    assert st == 0
    assert runs is None or runs() == before + 1
    ref = conv2d_backward_ref(gy, x, w, c["stride"], c["pads"], c["dilation"], c["groups"])[0]
    np.testing.assert_allclose(gx, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())

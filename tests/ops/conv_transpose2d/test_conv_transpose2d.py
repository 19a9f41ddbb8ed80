"""conv_transpose2d and its backward against an independent float64 reference (a
scatter over kernel taps, itself checked against PyTorch), every ISA path; the
adjoint identity with conv2d; PyTorch cross-checks; bad input."""
import numpy as np
import pytest

import fastconv
from conv_cases import PASSES
from reference import assert_close
from reference_transpose import _full, tconv_backward_ref, tconv_ref


def random_cases(count, seed):
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        groups = int(rng.choice([1, 1, 2, 3]))
        Cg, Kg, N = int(rng.integers(1, 6)), int(rng.integers(1, 7)), int(rng.choice([1, 2, 3]))
        R, S = int(rng.integers(1, 6)), int(rng.integers(1, 6))
        stride = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        dilation = (int(rng.choice([1, 1, 2, 3])), int(rng.choice([1, 2])))
        padding = (int(rng.integers(0, 3)), int(rng.integers(0, 3)))
        op = tuple(int(rng.integers(0, max(s, d))) for s, d in zip(stride, dilation))
        H, W = int(rng.integers(1, 12)), int(rng.integers(1, 30))
        if _full(H, stride[0], R, dilation[0], op[0]) - 2 * padding[0] < 1:
            continue
        if _full(W, stride[1], S, dilation[1], op[1]) - 2 * padding[1] < 1:
            continue
        cases.append(dict(x_shape=(N, Cg * groups, H, W), w_shape=(Cg * groups, Kg, R, S),
                          stride=stride, padding=padding, output_padding=op, dilation=dilation,
                          groups=groups))
    return cases


def case_id(c):
    return (f"x{'x'.join(map(str, c['x_shape']))}-w{'x'.join(map(str, c['w_shape']))}"
            f"-s{c['stride'][0]}{c['stride'][1]}-p{c['padding'][0]}{c['padding'][1]}"
            f"-op{c['output_padding'][0]}{c['output_padding'][1]}"
            f"-d{c['dilation'][0]}{c['dilation'][1]}-g{c['groups']}")


CASES = random_cases(20, seed=5) + [
    # output_padding beyond the padding by >= the stride (dilation > stride): the
    # cropped path; the common decoder shapes; 1x1 with stride (gaps in the output)
    dict(x_shape=(2, 3, 4, 5), w_shape=(3, 2, 3, 3), stride=(1, 1), padding=(0, 0),
         output_padding=(2, 1), dilation=(3, 2), groups=1),
    dict(x_shape=(1, 4, 5, 6), w_shape=(4, 3, 3, 2), stride=(2, 1), padding=(0, 1),
         output_padding=(2, 1), dilation=(3, 3), groups=2),
    dict(x_shape=(2, 5, 7, 9), w_shape=(5, 3, 4, 4), stride=(2, 2), padding=(1, 1),
         output_padding=(0, 0), dilation=(1, 1), groups=1),
    dict(x_shape=(1, 6, 6, 7), w_shape=(6, 4, 3, 3), stride=(2, 2), padding=(1, 1),
         output_padding=(1, 1), dilation=(1, 1), groups=1),
    dict(x_shape=(2, 3, 5, 5), w_shape=(3, 2, 1, 1), stride=(3, 2), padding=(0, 0),
         output_padding=(2, 1), dilation=(1, 1), groups=1),
]


def _args(c):
    return dict(stride=c["stride"], padding=c["padding"], output_padding=c["output_padding"],
                dilation=c["dilation"], groups=c["groups"])


@pytest.mark.parametrize("pass_", PASSES)
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_random_sweep(isa, case, pass_, rng):
    x = rng.standard_normal(case["x_shape"]).astype(np.float32)
    w = rng.standard_normal(case["w_shape"]).astype(np.float32)
    C, Kg, R, S = case["w_shape"]
    b = rng.standard_normal(Kg * case["groups"]).astype(np.float32)
    a = _args(case)
    ref = tconv_ref(x, w, b, **a)
    if pass_ == "forward":
        y = fastconv.conv_transpose2d(x, w, b, **a)
        absref = tconv_ref(np.abs(x), np.abs(w), np.abs(b), **a)
        Cg = C // case["groups"]
        assert_close(y, ref, absref, Cg * R * S + 1, what="forward")
        return
    gy = rng.standard_normal(ref.shape).astype(np.float32)
    gx, gw, gb = fastconv.conv_transpose2d_backward(gy, x, w, **a)
    rgx, rgw, rgb = tconv_backward_ref(gy, x, w, **a)
    agx, agw, agb = tconv_backward_ref(np.abs(gy), np.abs(x), np.abs(w), **a)
    N, _, H, W = x.shape
    OH, OW = ref.shape[2:]
    if pass_ == "backward_data":
        assert_close(gx, rgx, agx, Kg * R * S, what="grad_x")
    else:
        assert pass_ == "backward_weights", pass_
        assert_close(gw, rgw, agw, N * H * W, what="grad_weight")
        assert_close(gb, rgb, agb, N * OH * OW, what="grad_bias")


@pytest.mark.parametrize("pass_", PASSES)
@pytest.mark.parametrize("case", CASES[:4] + CASES[-5:-3], ids=case_id)
def test_reference_and_fastconv_match_torch(case, pass_, rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal(case["x_shape"]).astype(np.float32)
    w = rng.standard_normal(case["w_shape"]).astype(np.float32)
    b = rng.standard_normal(case["w_shape"][1] * case["groups"]).astype(np.float32)
    a = _args(case)
    xt = torch.from_numpy(x).requires_grad_()
    wt = torch.from_numpy(w).requires_grad_()
    bt = torch.from_numpy(b).requires_grad_()
    yt = torch.nn.functional.conv_transpose2d(xt, wt, bt, **a)
    if pass_ == "forward":
        np.testing.assert_allclose(tconv_ref(x, w, b, **a), yt.detach().numpy(), rtol=1e-4,
                                   atol=1e-4)
        y = fastconv.conv_transpose2d(x, w, b, **a)
        np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-4, atol=1e-4)
        return
    gy = rng.standard_normal(tuple(yt.shape)).astype(np.float32)
    yt.backward(torch.from_numpy(gy))
    # (grad_x,) for backward_data, (grad_weight, grad_bias) for backward_weights
    which = slice(0, 1) if pass_ == "backward_data" else slice(1, 3)
    wants = (xt.grad, wt.grad, bt.grad)[which]
    for got, want in zip(fastconv.conv_transpose2d_backward(gy, x, w, **a)[which], wants):
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-4, atol=1e-3)
    for got, want in zip(tconv_backward_ref(gy, x, w, **a)[which], wants):
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("H,W,R,S,stride,padding,dilation,groups", [
    (9, 11, 3, 3, 2, 1, 1, 1), (8, 8, 4, 4, 2, 1, 1, 2), (10, 7, 3, 2, 3, 0, 2, 1),
    (7, 9, 5, 3, 1, 2, 2, 3),
])
def test_adjoint_of_conv2d(H, W, R, S, stride, padding, dilation, groups, rng):
    """<conv2d(x, w), y> == <x, conv_transpose2d(y, w)> when the transposed conv's
    output_padding restores conv2d's input size."""
    C, K, N = 2 * groups, 3 * groups, 2
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    w = rng.standard_normal((K, C // groups, R, S)).astype(np.float32)
    cy = fastconv.conv2d(x, w, stride=stride, padding=padding, dilation=dilation, groups=groups)
    OH, OW = cy.shape[2:]
    op = (H + 2 * padding - dilation * (R - 1) - 1 - (OH - 1) * stride,
          W + 2 * padding - dilation * (S - 1) - 1 - (OW - 1) * stride)
    y = rng.standard_normal(cy.shape).astype(np.float32)
    tx = fastconv.conv_transpose2d(y, w, stride=stride, padding=padding, output_padding=op,
                                   dilation=dilation, groups=groups)
    assert tx.shape == x.shape
    lhs = np.dot(cy.ravel().astype(np.float64), y.ravel())
    rhs = np.dot(x.ravel().astype(np.float64), tx.ravel())
    scale = np.dot(np.abs(cy.ravel()).astype(np.float64), np.abs(y.ravel()))
    assert abs(lhs - rhs) <= 1e-5 * scale


def test_output_shape_formula():
    x = np.zeros((1, 2, 5, 6), np.float32)
    w = np.zeros((2, 3, 3, 4), np.float32)
    y = fastconv.conv_transpose2d(x, w, stride=(2, 3), padding=(1, 2), output_padding=(1, 2),
                                  dilation=(1, 2))
    assert y.shape == (1, 3, (5 - 1) * 2 - 2 + 2 + 1 + 1, (6 - 1) * 3 - 4 + 6 + 2 + 1)


X = np.zeros((2, 4, 5, 5), np.float32)
W = np.zeros((4, 3, 3, 3), np.float32)


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(x=np.zeros((4, 5, 5), np.float32)), ValueError, r"x to be 4-D \(N, C, H, W\)"),
    (dict(weight=np.zeros((4, 3, 3), np.float32)), ValueError, r"weight to be 4-D \(C, K/groups, R, S\)"),
    (dict(weight=np.zeros((6, 3, 3, 3), np.float32)), ValueError, r"expects C=6 input channels.*has C=4"),
    (dict(groups=3), ValueError, r"groups=3 must divide the input channels C=4"),
    (dict(groups=0), ValueError, r"groups must be >= 1"),
    (dict(stride=0), ValueError, r"stride must be >= 1"),
    (dict(dilation=0), ValueError, r"dilation must be >= 1"),
    (dict(padding=-1), ValueError, r"padding must be >= 0"),
    (dict(padding=((1, 1), (1, 1))), TypeError, r"padding must be an int"),
    (dict(output_padding=1), ValueError, r"output_padding must be smaller than stride or dilation"),
    (dict(stride=2, output_padding=(1, 2)), ValueError, r"output_padding must be smaller"),
    (dict(output_padding=-1), ValueError, r"output_padding must be >= 0"),
    (dict(padding=5), ValueError, r"padding=5 is too large"),
    (dict(bias=np.zeros(4, np.float32)), ValueError, r"bias of shape \(3,\)"),
    (dict(x=np.zeros((2, 4, 5, 5), np.complex64)), TypeError, r"x must hold real numbers"),
    (dict(stride=2**61), ValueError, r"more than fastconv can index"),
])
def test_rejects(kwargs, exc, match):
    args = dict(x=X, weight=W)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        fastconv.conv_transpose2d(**args)


def test_backward_rejects_wrong_grad_shape():
    with pytest.raises(ValueError, match=r"grad_out of shape \(2, 3, 7, 7\)"):
        fastconv.conv_transpose2d_backward(np.zeros((2, 3, 7, 6), np.float32), X, W)


def test_batch_zero():
    y = fastconv.conv_transpose2d(np.zeros((0, 4, 5, 5), np.float32), W, stride=2)
    assert y.shape == (0, 3, 11, 11)


def test_c_api_workspace_and_adjoint(tmp_path):
    """tests/c/test_tconv_dw_api.c: a caller workspace of exactly the queried size (one
    byte less is refused), the cropped output_padding path, depthwise status codes."""
    import os
    import shutil
    import subprocess
    cc = shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler")
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "c",
                       "test_tconv_dw_api.c")
    lib = fastconv.get_library_dir()
    exe = tmp_path / "prog"
    subprocess.run([cc, "-std=c99", "-Wall", "-Werror", src, "-I", fastconv.get_include(), "-L", lib,
                    "-lfastconv", f"-Wl,-rpath,{lib}", "-lm", "-o", str(exe)], check=True)
    res = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and "ok" in res.stdout, res.stdout + res.stderr


@pytest.mark.parametrize("pass_", PASSES)
def test_output_wholly_in_the_padding(pass_):
    # Found by hypothesis: output_padding beyond the pad with dilation > stride can leave
    # every output column unreached by the input; y is then the bias, the gradients zero.
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).random((2, 3, 1, 1), dtype=np.float32)
    w = np.ones((3, 2, 1, 1), np.float32)
    b = np.array([1.5, -2.0], np.float32)
    kw = dict(stride=1, padding=(0, 1), output_padding=(0, 2), dilation=(1, 3))
    t = torch.nn.functional.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(w),
                                             torch.from_numpy(b), **kw)
    if pass_ == "forward":
        y = fastconv.conv_transpose2d(x, w, b, **kw)
        np.testing.assert_array_equal(y, t.numpy())
        return
    gy = np.ones(tuple(t.shape), np.float32)
    gx, gw, gb = fastconv.conv_transpose2d_backward(gy, x, w, **kw)
    if pass_ == "backward_data":
        assert not gx.any()
    else:
        assert not gw.any()
        np.testing.assert_array_equal(gb, gy.sum(axis=(0, 2, 3)))

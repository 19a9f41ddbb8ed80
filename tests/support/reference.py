"""Float64 NumPy reference implementations that the C kernels are checked against.

Plain, slow and obviously right: a loop over kernel taps, each tap an einsum over a
strided view of the padded input. They are themselves checked against hand-worked
examples and finite differences in test_reference.py.
"""
import numpy as np

EPS32 = np.finfo(np.float32).eps


def _out_size(size, p0, p1, k, d, s):
    return (size + p0 + p1 - d * (k - 1) - 1) // s + 1


def _tap(xp, r, s, dh, dw, sh, sw, OH, OW):
    """The (N, C, OH, OW) view of padded input xp that kernel tap (r, s) multiplies."""
    return xp[:, :, r * dh: r * dh + sh * (OH - 1) + 1: sh, s * dw: s * dw + sw * (OW - 1) + 1: sw]


def conv2d_ref(x, w, b=None, stride=(1, 1), pads=(0, 0, 0, 0), dilation=(1, 1), groups=1):
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    N, C, H, W = x.shape
    K, Cg, R, S = w.shape
    (sh, sw), (dh, dw), (t, bt, l, rt) = stride, dilation, pads
    OH, OW = _out_size(H, t, bt, R, dh, sh), _out_size(W, l, rt, S, dw, sw)
    xp = np.pad(x, ((0, 0), (0, 0), (t, bt), (l, rt)))
    Kg = K // groups
    y = np.zeros((N, K, OH, OW))
    for g in range(groups):
        xg = xp[:, g * Cg:(g + 1) * Cg]
        wg = w[g * Kg:(g + 1) * Kg]
        for r in range(R):
            for s in range(S):
                y[:, g * Kg:(g + 1) * Kg] += np.einsum(
                    "nchw,kc->nkhw", _tap(xg, r, s, dh, dw, sh, sw, OH, OW), wg[:, :, r, s])
    if b is not None:
        y += np.asarray(b, np.float64)[None, :, None, None]
    return y


def conv2d_backward_ref(gy, x, w, stride=(1, 1), pads=(0, 0, 0, 0), dilation=(1, 1), groups=1):
    """(grad_x, grad_w, grad_b) of conv2d_ref."""
    gy = np.asarray(gy, np.float64)
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    N, C, H, W = x.shape
    K, Cg, R, S = w.shape
    (sh, sw), (dh, dw), (t, bt, l, rt) = stride, dilation, pads
    OH, OW = gy.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (t, bt), (l, rt)))
    gxp = np.zeros_like(xp)
    gw = np.zeros_like(w)
    Kg = K // groups
    for g in range(groups):
        cs, ks = slice(g * Cg, (g + 1) * Cg), slice(g * Kg, (g + 1) * Kg)
        for r in range(R):
            for s in range(S):
                _tap(gxp[:, cs], r, s, dh, dw, sh, sw, OH, OW)[...] += np.einsum(
                    "nkhw,kc->nchw", gy[:, ks], w[ks, :, r, s])
                gw[ks, :, r, s] = np.einsum(
                    "nkhw,nchw->kc", gy[:, ks], _tap(xp[:, cs], r, s, dh, dw, sh, sw, OH, OW))
    gx = gxp[:, :, t:t + H, l:l + W]
    return gx, gw, gy.sum(axis=(0, 2, 3))


def assert_close(got, ref, absref, terms, factor=8.0, what="result"):
    """Checks |got - ref| <= factor * eps32 * sqrt(terms) * absref elementwise.

    absref is the same reduction over absolute values (so the bound scales with the
    magnitudes actually summed) and terms the number of products per element: a
    float32 sum of `terms` products has a rounding error of that order, while a
    wrong or missing term is larger."""
    got = np.asarray(got, np.float64)
    assert got.shape == ref.shape, f"{what}: shape {got.shape} != {ref.shape}"
    tol = factor * EPS32 * np.sqrt(max(terms, 1)) * absref + 1e-30
    err = np.abs(got - ref)
    bad = ~(err <= tol)
    if bad.any():
        i = np.unravel_index(np.argmax(np.where(bad, err - tol, -np.inf)), err.shape)
        raise AssertionError(f"{what}: {bad.sum()} of {err.size} elements off; worst at {i}: "
                             f"got {got[i]!r}, want {ref[i]!r}, tol {tol[i]:.3g}")


def rel_err(a, b):
    """max |a - b| / max |b|, in float64 (the whole-output measure the layer, model and
    plan tests bound)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max()) / max(float(np.abs(b).max()), 1e-12)

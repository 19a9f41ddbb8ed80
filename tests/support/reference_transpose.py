"""Float64 reference for conv_transpose2d: a scatter over kernel taps (checked against
PyTorch in ops/conv_transpose2d/test_conv_transpose2d.py), and its backward, gathered."""
import numpy as np


def _full(H, s, k, d, op):
    """Rows of the uncropped scatter target (the padding is cut from it afterwards)."""
    return (H - 1) * s + d * (k - 1) + 1 + op


def _tap(a, r, s, dh, dw, sh, sw, H, W):
    return a[:, :, r * dh: r * dh + sh * (H - 1) + 1: sh, s * dw: s * dw + sw * (W - 1) + 1: sw]


def tconv_ref(x, w, b=None, stride=(1, 1), padding=(0, 0), output_padding=(0, 0),
              dilation=(1, 1), groups=1):
    """Each input pixel (i, j) scatters w * x into output (i*s - p + r*d, j*s - p + c*d)."""
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    N, C, H, W = x.shape
    _, Kg, R, S = w.shape
    (sh, sw), (ph, pw), (oh, ow), (dh, dw) = stride, padding, output_padding, dilation
    Cg = C // groups
    full = np.zeros((N, Kg * groups, _full(H, sh, R, dh, oh), _full(W, sw, S, dw, ow)))
    for g in range(groups):
        cs, ks = slice(g * Cg, (g + 1) * Cg), slice(g * Kg, (g + 1) * Kg)
        for r in range(R):
            for s in range(S):
                _tap(full[:, ks], r, s, dh, dw, sh, sw, H, W)[...] += np.einsum(
                    "nchw,ck->nkhw", x[:, cs], w[cs, :, r, s])
    OH = full.shape[2] - 2 * ph
    OW = full.shape[3] - 2 * pw
    y = full[:, :, ph:ph + OH, pw:pw + OW].copy()
    if b is not None:
        y += np.asarray(b, np.float64)[None, :, None, None]
    return y


def tconv_backward_ref(gy, x, w, stride=(1, 1), padding=(0, 0), output_padding=(0, 0),
                       dilation=(1, 1), groups=1):
    """(grad_x, grad_w, grad_b) of tconv_ref: the same index map, gathered."""
    gy = np.asarray(gy, np.float64)
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    N, C, H, W = x.shape
    _, Kg, R, S = w.shape
    (sh, sw), (ph, pw), (oh, ow), (dh, dw) = stride, padding, output_padding, dilation
    Cg = C // groups
    full = np.zeros((N, Kg * groups, _full(H, sh, R, dh, oh), _full(W, sw, S, dw, ow)))
    full[:, :, ph:ph + gy.shape[2], pw:pw + gy.shape[3]] = gy
    gx = np.zeros_like(x)
    gw = np.zeros_like(w)
    for g in range(groups):
        cs, ks = slice(g * Cg, (g + 1) * Cg), slice(g * Kg, (g + 1) * Kg)
        for r in range(R):
            for s in range(S):
                t = _tap(full[:, ks], r, s, dh, dw, sh, sw, H, W)
                gx[:, cs] += np.einsum("nkhw,ck->nchw", t, w[cs, :, r, s])
                gw[cs, :, r, s] = np.einsum("nchw,nkhw->ck", x[:, cs], t)
    return gx, gw, gy.sum(axis=(0, 2, 3))

"""Float64 NumPy references for pooling, written from PyTorch's documented rules:
a loop over output positions, each window scanned tap by tap in row-major order.
Slow and plain on purpose."""
import numpy as np


def out_size(size, p0, p1, k, s, d, ceil_mode):
    """PyTorch's output size; in ceil mode the last window must start inside the
    input or the leading padding."""
    eff = d * (k - 1) + 1
    span = size + p0 + p1 - eff
    o = (span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (o - 1) * s >= size + p0:
        o -= 1
    return o


def taps(o, s, p0, k, d, size):
    """Input positions of output o's window that lie inside the input, in order."""
    return [o * s - p0 + j * d for j in range(k) if 0 <= o * s - p0 + j * d < size]


def valid(H, W, kernel, stride, pads, dilation, ceil_mode):
    """Whether the arguments are legal (pads below the effective kernel, at least one
    window: without ceil_mode the window fits the padded input, with it a window may
    run past the padded end, as in PyTorch; every window holds an input element)."""
    (kh, kw), (sh, sw), (t, b, l, r), (dh, dw) = kernel, stride, pads, dilation
    for size, p0, p1, k, s, d in ((H, t, b, kh, sh, dh), (W, l, r, kw, sw, dw)):
        eff = d * (k - 1) + 1
        if max(p0, p1) >= eff:
            return False
        o = out_size(size, p0, p1, k, s, d, ceil_mode)
        if o < 1 or (eff > size + p0 + p1 and not ceil_mode):
            return False
        if any(not taps(i, s, p0, k, d, size) for i in range(o)):
            return False
    return True


def max_pool_ref(x, kernel, stride, pads, dilation, ceil_mode):
    """(y, indices): PyTorch's scan, maxval = -inf, index = the first tap, then take a
    tap when it is greater or NaN."""
    x = np.asarray(x, np.float64)
    N, C, H, W = x.shape
    (kh, kw), (sh, sw), (t, b, l, r), (dh, dw) = kernel, stride, pads, dilation
    OH = out_size(H, t, b, kh, sh, dh, ceil_mode)
    OW = out_size(W, l, r, kw, sw, dw, ceil_mode)
    y = np.empty((N, C, OH, OW))
    idx = np.empty((N, C, OH, OW), np.int64)
    for oh in range(OH):
        rows = taps(oh, sh, t, kh, dh, H)
        for ow in range(OW):
            cols = taps(ow, sw, l, kw, dw, W)
            m = np.full((N, C), -np.inf)
            i = np.full((N, C), rows[0] * W + cols[0], np.int64)
            for rr in rows:
                for cc in cols:
                    v = x[:, :, rr, cc]
                    take = (v > m) | np.isnan(v)
                    m = np.where(take, v, m)
                    i = np.where(take, rr * W + cc, i)
            y[:, :, oh, ow] = m
            idx[:, :, oh, ow] = i
    return y, idx


def max_pool_backward_ref(gy, x_shape, idx):
    gy = np.asarray(gy, np.float64)
    N, C, H, W = x_shape
    gx = np.zeros((N, C, H * W))
    for n in range(N):
        for c in range(C):
            np.add.at(gx[n, c], idx[n, c].ravel(), gy[n, c].ravel())
    return gx.reshape(x_shape)


def _avg_divisors(H, W, kernel, stride, pads, ceil_mode, count_include_pad):
    (kh, kw), (sh, sw), (t, b, l, r) = kernel, stride, pads
    OH = out_size(H, t, b, kh, sh, 1, ceil_mode)
    OW = out_size(W, l, r, kw, sw, 1, ceil_mode)

    def count(o, s, p0, p1, k, size):
        a = o * s - p0
        if count_include_pad:  # the window clipped to the padded extent
            return min(a + k, size + p1) - a
        return len(taps(o, s, p0, k, 1, size))

    div = np.array([[count(oh, sh, t, b, kh, H) * count(ow, sw, l, r, kw, W)
                     for ow in range(OW)] for oh in range(OH)], np.float64)
    return OH, OW, div


def avg_pool_ref(x, kernel, stride, pads, ceil_mode, count_include_pad):
    """(y, abs_y, terms): y, the same with |x| (for error bounds), terms per window."""
    x = np.asarray(x, np.float64)
    N, C, H, W = x.shape
    (kh, kw), (sh, sw), (t, b, l, r) = kernel, stride, pads
    OH, OW, div = _avg_divisors(H, W, kernel, stride, pads, ceil_mode, count_include_pad)
    y = np.zeros((N, C, OH, OW))
    ya = np.zeros((N, C, OH, OW))
    for oh in range(OH):
        rows = taps(oh, sh, t, kh, 1, H)
        for ow in range(OW):
            cols = taps(ow, sw, l, kw, 1, W)
            win = x[:, :, rows][:, :, :, cols]
            y[:, :, oh, ow] = win.sum(axis=(2, 3)) / div[oh, ow]
            ya[:, :, oh, ow] = np.abs(win).sum(axis=(2, 3)) / div[oh, ow]
    return y, ya


def avg_pool_backward_ref(gy, x_shape, kernel, stride, pads, ceil_mode, count_include_pad):
    """(grad_x, abs_grad_x)."""
    gy = np.asarray(gy, np.float64)
    N, C, H, W = x_shape
    (kh, kw), (sh, sw), (t, b, l, r) = kernel, stride, pads
    OH, OW, div = _avg_divisors(H, W, kernel, stride, pads, ceil_mode, count_include_pad)
    gx = np.zeros(x_shape)
    ga = np.zeros(x_shape)
    for oh in range(OH):
        rows = taps(oh, sh, t, kh, 1, H)
        for ow in range(OW):
            cols = taps(ow, sw, l, kw, 1, W)
            g = gy[:, :, oh, ow] / div[oh, ow]
            for rr in rows:
                for cc in cols:
                    gx[:, :, rr, cc] += g
                    ga[:, :, rr, cc] += np.abs(g)
    return gx, ga

"""Float64 NumPy references for batch normalization (torch's semantics)."""
import numpy as np


def batch_norm_ref(x, gamma, beta, rm, rv, training, momentum, eps, relu):
    """(y, mean, invstd, new_running_mean, new_running_var), all float64."""
    x = np.asarray(x, np.float64)
    N, C, H, W = x.shape
    g = np.ones(C) if gamma is None else np.asarray(gamma, np.float64)
    b = np.zeros(C) if beta is None else np.asarray(beta, np.float64)
    if training:
        m = N * H * W
        mean = x.mean(axis=(0, 2, 3))
        var = ((x - mean[:, None, None]) ** 2).mean(axis=(0, 2, 3))
        new_rm = new_rv = None
        if rm is not None:
            new_rm = (1 - momentum) * np.asarray(rm, np.float64) + momentum * mean
            new_rv = (1 - momentum) * np.asarray(rv, np.float64) + momentum * var * m / (m - 1)
    else:
        mean, var = np.asarray(rm, np.float64), np.asarray(rv, np.float64)
        new_rm, new_rv = rm, rv
    invstd = 1.0 / np.sqrt(var + eps)
    y = (x - mean[:, None, None]) * (invstd * g)[:, None, None] + b[:, None, None]
    if relu:
        y = np.maximum(y, 0.0)
    return y, mean, invstd, new_rm, new_rv


def batch_norm_backward_ref(gy, x, gamma, relu, y=None, eps=1e-5):
    """(grad_x, grad_gamma, grad_beta) of training-mode batch_norm_ref, float64; the
    statistics are recomputed from x in float64, and with relu the mask is y > 0 of
    the given (float32) forward output."""
    x = np.asarray(x, np.float64)
    gy = np.asarray(gy, np.float64)
    N, C, H, W = x.shape
    m = N * H * W
    g = np.ones(C) if gamma is None else np.asarray(gamma, np.float64)
    mean = x.mean(axis=(0, 2, 3))
    var = ((x - mean[:, None, None]) ** 2).mean(axis=(0, 2, 3))
    invstd = 1.0 / np.sqrt(var + eps)
    xhat = (x - mean[:, None, None]) * invstd[:, None, None]
    if relu:
        gy = np.where(np.asarray(y) > 0, gy, 0.0)
    sg = gy.sum(axis=(0, 2, 3))
    sgx = (gy * xhat).sum(axis=(0, 2, 3))
    gx = (g * invstd)[:, None, None] / m * (m * gy - sg[:, None, None]
                                             - xhat * sgx[:, None, None])
    return gx, sgx, sg

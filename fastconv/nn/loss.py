"""Losses: CrossEntropyLoss (on logits) and MSELoss. forward returns a float; backward()
returns the gradient of that float with respect to the first argument."""
from typing import NamedTuple

import numpy as np

from fastconv.functional._args import as_float32
from fastconv.functional.loss import softmax_cross_entropy, softmax_cross_entropy_backward

__all__ = ["CrossEntropyLoss", "MSELoss"]


class _CECache(NamedTuple):
    probs: np.ndarray
    target: np.ndarray
    divisor: float


class _Loss:
    def __init__(self, reduction="mean"):
        if reduction not in ("mean", "sum"):
            raise ValueError(f"{type(self).__name__}: reduction must be 'mean' or 'sum', "
                             f"got reduction={reduction!r}")
        self.reduction = reduction
        self._cache = None

    def __call__(self, *args):
        return self.forward(*args)

    def _take(self):
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward() needs a forward() first")
        c, self._cache = self._cache, None
        return c


class CrossEntropyLoss(_Loss):
    """Softmax + negative log-likelihood of integer class targets, from logits (N, K)
    (or (N, K, ...) with targets (N, ...)); numerically stable (log-sum-exp)."""

    def forward(self, logits, target):
        z = as_float32(logits, "logits", "CrossEntropyLoss")
        t = np.asarray(target)
        if z.ndim < 2:
            raise ValueError(f"CrossEntropyLoss: expected logits of shape (N, K), got {z.shape}")
        if t.dtype.kind not in "iu":
            raise TypeError(f"CrossEntropyLoss: target must hold integer class indices, got "
                            f"dtype {t.dtype}")
        if t.shape != (z.shape[0],) + z.shape[2:]:
            raise ValueError(f"CrossEntropyLoss: expected target of shape "
                             f"{(z.shape[0],) + z.shape[2:]} for logits {z.shape}, got {t.shape}")
        K = z.shape[1]
        if t.size and (t.min() < 0 or t.max() >= K):
            raise ValueError(f"CrossEntropyLoss: target values must be in [0, {K}), got "
                             f"min {t.min()}, max {t.max()}")
        if z.ndim == 2:   # (N, K): the fused C kernel (softmax, log and the pick in one pass)
            loss, self._cache = softmax_cross_entropy(z, t, self.reduction)
            return loss
        shifted = z - z.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        s = e.sum(axis=1, keepdims=True)
        logp_t = (np.take_along_axis(shifted, np.expand_dims(t, 1), axis=1)
                  - np.log(s)).astype(np.float64)
        divisor = float(t.size) if self.reduction == "mean" else 1.0
        self._cache = _CECache(e / s, t, divisor)
        if divisor == 0:
            return float("nan")          # the mean of no terms, as torch's
        return float(-logp_t.sum() / divisor)

    def backward(self, grad=1.0):
        c = self._take()
        if not isinstance(c, _CECache):
            return softmax_cross_entropy_backward(float(grad), c)
        g = c.probs.copy()
        if g.size == 0:
            return g
        np.put_along_axis(g, np.expand_dims(c.target, 1),
                          np.take_along_axis(g, np.expand_dims(c.target, 1), axis=1) - 1, axis=1)
        return g * np.float32(grad / c.divisor)


class _MSECache(NamedTuple):
    diff: np.ndarray
    divisor: float


class MSELoss(_Loss):
    """Mean (or sum) of squared differences."""

    def forward(self, input, target):
        x = as_float32(input, "input", "MSELoss")
        t = as_float32(target, "target", "MSELoss")
        if x.shape != t.shape:
            raise ValueError(f"MSELoss: input {x.shape} and target {t.shape} differ in shape")
        d = x - t
        divisor = float(d.size) if self.reduction == "mean" else 1.0
        self._cache = _MSECache(d, divisor)
        if divisor == 0:
            return float("nan")          # the mean of no terms, as torch's
        return float(np.square(d, dtype=np.float64).sum() / divisor)

    def backward(self, grad=1.0):
        c = self._take()
        if c.diff.size == 0:
            return c.diff.copy()
        return c.diff * np.float32(2.0 * grad / c.divisor)

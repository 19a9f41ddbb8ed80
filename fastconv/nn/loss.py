"""Losses: CrossEntropyLoss (on logits), NLLLoss (on log-probabilities),
BCEWithLogitsLoss and MSELoss. forward returns a float; backward()
returns the gradient of that float with respect to the first argument."""
import numbers
from typing import NamedTuple

import numpy as np

from fastconv.functional._args import as_float32
from fastconv.functional.loss import softmax_cross_entropy, softmax_cross_entropy_backward

__all__ = ["CrossEntropyLoss", "NLLLoss", "BCEWithLogitsLoss", "MSELoss"]


class _Loss:
    _reductions = ("mean", "sum", "none")

    def __init__(self, reduction="mean"):
        if reduction not in self._reductions:
            raise ValueError(f"{type(self).__name__}: reduction must be one of "
                             f"{self._reductions}, got reduction={reduction!r}")
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
    (or (N, K, ...) with targets (N, ...)), as torch.nn.CrossEntropyLoss: class
    `weight` (K,), targets equal to `ignore_index` left out (and out of the mean's
    divisor), `label_smoothing` in [0, 1], reduction 'mean', 'sum' or 'none'.
    Logits (N, K) with the default weight and smoothing take the fused C kernel."""

    def __init__(self, weight=None, ignore_index=-100, reduction="mean",
                 label_smoothing=0.0):
        super().__init__(reduction)
        self.weight = _class_weight(weight, "CrossEntropyLoss")
        self.ignore_index = _int(ignore_index, "ignore_index", "CrossEntropyLoss")
        ls = label_smoothing
        if isinstance(ls, bool) or not isinstance(ls, numbers.Real) or not 0.0 <= ls <= 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be in [0, 1], got "
                             f"label_smoothing={label_smoothing!r}")
        self.label_smoothing = float(ls)

    def forward(self, logits, target):
        fn = "CrossEntropyLoss"
        z = as_float32(logits, "logits", fn)
        t, ignored = _targets(z, target, self.ignore_index, self.weight, fn)
        if (z.ndim == 2 and self.weight is None and self.label_smoothing == 0.0
                and not ignored.any()):
            # (N, K): the fused C kernel (softmax, log and the pick in one pass)
            loss, self._cache = softmax_cross_entropy(z, t, self.reduction)
            return loss
        logp = _log_softmax(z)
        value, coef = _nll(logp, t, ignored, self.weight, self.reduction,
                           self.label_smoothing)
        self._cache = _CECache(logp, coef, True)
        return value

    def backward(self, grad=1.0):
        c = self._take()
        if not isinstance(c, _CECache):
            return softmax_cross_entropy_backward(grad, c)
        g = _scaled(c.coef, grad, self.reduction, type(self).__name__)
        if g.size == 0:
            return g
        # through log_softmax: g - softmax * sum_k g
        return (g - np.exp(c.logp) * g.sum(axis=1, keepdims=True)).astype(np.float32)


class NLLLoss(_Loss):
    """Negative log-likelihood of integer targets from log-probabilities (N, K) or
    (N, K, ...), as torch.nn.NLLLoss (weight, ignore_index, reduction)."""

    def __init__(self, weight=None, ignore_index=-100, reduction="mean"):
        super().__init__(reduction)
        self.weight = _class_weight(weight, "NLLLoss")
        self.ignore_index = _int(ignore_index, "ignore_index", "NLLLoss")

    def forward(self, input, target):
        x = as_float32(input, "input", "NLLLoss")
        t, ignored = _targets(x, target, self.ignore_index, self.weight, "NLLLoss")
        value, coef = _nll(x, t, ignored, self.weight, self.reduction, 0.0)
        self._cache = _CECache(None, coef, False)
        return value

    def backward(self, grad=1.0):
        c = self._take()
        return _scaled(c.coef, grad, self.reduction, "NLLLoss").astype(np.float32)


class _BCECache(NamedTuple):
    grad: np.ndarray     # d loss / d x per element, before the reduction


class BCEWithLogitsLoss(_Loss):
    """Sigmoid + binary cross-entropy from logits, numerically stable, as
    torch.nn.BCEWithLogitsLoss: loss = -w [pos_weight t log s(x) + (1 - t) log(1 - s(x))]
    with `weight` and `pos_weight` broadcast against the input (pos_weight: one value
    per class, the last dimension)."""

    def __init__(self, weight=None, reduction="mean", pos_weight=None):
        super().__init__(reduction)
        self.weight = None if weight is None else as_float32(weight, "weight",
                                                             "BCEWithLogitsLoss")
        self.pos_weight = None if pos_weight is None else as_float32(
            pos_weight, "pos_weight", "BCEWithLogitsLoss")

    def forward(self, input, target):
        fn = "BCEWithLogitsLoss"
        x = as_float32(input, "input", fn)
        t = as_float32(target, "target", fn)
        if x.shape != t.shape:
            raise ValueError(f"{fn}: input {x.shape} and target {t.shape} differ in shape")
        for a, name in ((self.weight, "weight"), (self.pos_weight, "pos_weight")):
            if a is not None and not _broadcasts(a.shape, x.shape):
                raise ValueError(f"{fn}: {name} of shape {a.shape} does not broadcast to "
                                 f"the input's {x.shape}")
        x64, t64 = x.astype(np.float64), t.astype(np.float64)
        softplus_neg = np.logaddexp(0.0, -x64)          # -log sigmoid(x)
        if self.pos_weight is None:
            loss = (1 - t64) * x64 + softplus_neg
            grad = 1.0 / (1.0 + np.exp(-x64)) - t64      # sigmoid(x) - t
        else:
            lw = 1 + (self.pos_weight.astype(np.float64) - 1) * t64
            loss = (1 - t64) * x64 + lw * softplus_neg
            grad = (1 - t64) - lw / (1.0 + np.exp(x64))  # (1 - t) - lw sigmoid(-x)
        if self.weight is not None:
            loss = loss * self.weight
            grad = grad * self.weight
        self._cache = _BCECache(grad)
        if self.reduction == "none":
            return loss.astype(np.float32)
        if self.reduction == "sum":
            return float(loss.sum())
        return float(loss.mean()) if loss.size else float("nan")

    def backward(self, grad=1.0):
        g = self._take().grad
        if self.reduction == "mean" and g.size:
            g = g / g.size
        return _scaled(g, grad, self.reduction, "BCEWithLogitsLoss", class_dim=False).astype(np.float32)


# -- shared pieces of the class losses -------------------------------------------------
class _CECache(NamedTuple):
    logp: np.ndarray       # log_softmax(logits) (CrossEntropyLoss), or None (NLLLoss)
    coef: np.ndarray       # d loss / d logp, for grad = 1 (per element for 'none')
    softmax: bool


def _broadcasts(shape, to):
    try:
        return np.broadcast_shapes(shape, to) == to
    except ValueError:
        return False


def _int(v, name, fn):
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{fn}: {name} must be an int, got {name}={v!r}")
    return int(v)


def _class_weight(weight, fn):
    if weight is None:
        return None
    w = as_float32(weight, "weight", fn)
    if w.ndim != 1:
        raise ValueError(f"{fn}: weight must be a vector of one value per class, got "
                         f"shape {w.shape}")
    return w


def _targets(z, target, ignore_index, weight, fn):
    """(target as int64, mask of the ignored elements), after checking shapes and
    that every target is a class in [0, K) or ignore_index."""
    t = np.asarray(target)
    if z.ndim < 2:
        raise ValueError(f"{fn}: expected input of shape (N, K) or (N, K, ...), got {z.shape}")
    if t.dtype.kind not in "iu":
        raise TypeError(f"{fn}: target must hold integer class indices, got dtype {t.dtype}")
    if t.shape != (z.shape[0],) + z.shape[2:]:
        raise ValueError(f"{fn}: expected target of shape {(z.shape[0],) + z.shape[2:]} for "
                         f"input {z.shape}, got {t.shape}")
    K = z.shape[1]
    if weight is not None and weight.shape != (K,):
        raise ValueError(f"{fn}: weight has {weight.shape[0]} values, the input {K} classes")
    t = t.astype(np.int64)
    ignored = t == ignore_index
    bad = ~ignored & ((t < 0) | (t >= K))
    if bad.any():
        raise ValueError(f"{fn}: target values must be in [0, {K}) or ignore_index="
                         f"{ignore_index}, got {t[bad][:3].tolist()}")
    return t, ignored


def _log_softmax(z):
    if z.size == 0:
        return z.copy()
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def _nll(logp, t, ignored, weight, reduction, smoothing):
    """torch's (label-smoothed) weighted NLL of log-probabilities logp (N, K, ...):
    (the reduced value, d value / d logp for a unit gradient; per element for 'none')."""
    K = logp.shape[1]
    w = np.ones(K, np.float64) if weight is None else weight.astype(np.float64)
    shape = [1] * logp.ndim
    shape[1] = K
    wb = w.reshape(shape)
    safe = np.where(ignored, 0, t)
    keep = (~ignored).astype(np.float64)
    wt = w[safe] * keep                                    # w[t] per element, 0 if ignored
    picked = np.take_along_axis(logp, np.expand_dims(safe, 1), axis=1)[:, 0]
    nll = -wt * picked.astype(np.float64)
    onehot = np.zeros(logp.shape, np.float64)
    np.put_along_axis(onehot, np.expand_dims(safe, 1), 1.0, axis=1)
    coef = -(1 - smoothing) * onehot * np.expand_dims(wt, 1)
    loss = (1 - smoothing) * nll
    if smoothing:
        smooth = -(logp.astype(np.float64) * wb).sum(axis=1) * keep
        loss = loss + smoothing / K * smooth
        coef = coef - smoothing / K * wb * np.expand_dims(keep, 1)
    if reduction == "none":
        return loss.astype(np.float32), coef
    if reduction == "sum":
        return float(loss.sum()), coef
    divisor = float(wt.sum())
    if divisor == 0:
        return float("nan"), coef * np.nan
    return float(loss.sum() / divisor), coef / divisor


def _scaled(coef, grad, reduction, fn, class_dim=True):
    """coef times the incoming gradient: a number for 'mean' / 'sum', an array of the
    per-element losses' shape for 'none' (broadcast over the class dimension 1 when
    coef has one the losses lack)."""
    if reduction != "none":
        return coef * float(grad)
    g = np.asarray(grad, np.float64)
    lead = coef.shape[:1] + coef.shape[2:] if class_dim else coef.shape
    if g.ndim and g.shape != lead:
        raise ValueError(f"{fn}: expected grad of shape {lead} for reduction 'none', "
                         f"got {g.shape}")
    return coef * (np.expand_dims(g, 1) if g.ndim and class_dim else g)


class _MSECache(NamedTuple):
    diff: np.ndarray
    divisor: float


class MSELoss(_Loss):
    """Mean (or sum) of squared differences."""

    _reductions = ("mean", "sum")

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

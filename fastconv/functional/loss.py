"""Fused softmax cross-entropy on logits (N, K) and integer labels (N,), forward and
backward, as torch.nn.functional.cross_entropy (no ignore_index, class weights or
label smoothing; a label outside [0, K) is a ValueError).

    loss, cache = softmax_cross_entropy(logits, labels)
    grad_logits = softmax_cross_entropy_backward(1.0, cache)
"""
import numbers
from typing import NamedTuple

import numpy as np

from fastconv import _C
from fastconv.functional import _args

REDUCTIONS = ("none", "mean", "sum")


class SoftmaxCrossEntropyCache(NamedTuple):
    """What the backward pass needs: the forward's softmax and its checked labels."""
    probs: np.ndarray      # (N, K) float32, softmax(logits)
    labels: np.ndarray     # (N,) int64, each in [0, K)
    reduction: str


def _reduction(reduction, fn):
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise ValueError(f"{fn}: reduction must be one of {REDUCTIONS}, got "
                         f"reduction={reduction!r}")
    return reduction


def _labels(labels, N, K, fn):
    """labels as C-contiguous int64 of shape (N,), each checked to lie in [0, K)."""
    t = labels
    if not isinstance(t, np.ndarray):
        if hasattr(t, "__dlpack__") and not hasattr(t, "__array_interface__"):
            t = np.from_dlpack(t.detach() if hasattr(t, "detach") else t)
        else:
            t = np.asarray(t)
    if t.dtype.kind not in "iu":
        raise TypeError(f"{fn}: labels must hold integer class indices, got dtype {t.dtype}")
    if t.shape != (N,):
        raise ValueError(f"{fn}: expected labels of shape ({N},) for logits of {N} rows, "
                         f"got {tuple(t.shape)}")
    if N and (t.min() < 0 or t.max() >= K):
        raise ValueError(f"{fn}: labels must lie in [0, K) = [0, {K}), got min {t.min()}, "
                         f"max {t.max()}")
    return np.ascontiguousarray(t, dtype=np.int64)


def softmax_cross_entropy(logits, labels, reduction="mean"):
    """Cross-entropy of softmax(logits) against labels, in one pass per row:
    -log softmax(logits)[label], max-subtracted and summed in double.

    logits: (N, K) real; labels: (N,) integers in [0, K); reduction: 'mean' (a float,
    NaN when N == 0, as torch), 'sum' (a float) or 'none' (a float32 array (N,)).
    Returns (loss, cache); the cache is for softmax_cross_entropy_backward."""
    fn = "softmax_cross_entropy"
    reduction = _reduction(reduction, fn)
    z = _args.as_array(logits, "logits", fn, 2, "(N, K)")
    N, K = z.shape
    if K < 1:
        raise ValueError(f"{fn}: logits of shape {tuple(z.shape)} has no classes (K = 0)")
    t = _labels(labels, N, K, fn)
    probs = _args.empty((N, K), "probs", fn)
    loss = _args.empty((N,) if reduction == "none" else (1,), "loss", fn)
    cache = SoftmaxCrossEntropyCache(probs, t, reduction)
    if N == 0:
        if reduction == "none":
            return loss, cache
        return (float("nan") if reduction == "mean" else 0.0), cache
    z = _args.to_float32(z, "logits", fn)
    _C.softmax_cross_entropy_forward(z, t, reduction, loss, probs)
    return (loss if reduction == "none" else float(loss[0])), cache


def softmax_cross_entropy_backward(grad_loss, cache):
    """Gradient of the loss with respect to the logits, (N, K) float32:
    (softmax(logits) - onehot(labels)) * grad_loss, divided by N for 'mean'.

    grad_loss: a number for 'mean' and 'sum' (1.0 for the loss itself), an (N,) array
    for 'none'; cache: the second result of softmax_cross_entropy."""
    fn = "softmax_cross_entropy_backward"
    if not isinstance(cache, SoftmaxCrossEntropyCache):
        raise TypeError(f"{fn}: cache must be the SoftmaxCrossEntropyCache that "
                        f"softmax_cross_entropy returned, got {type(cache).__name__}")
    N, K = cache.probs.shape
    if cache.reduction == "none":
        g = _args.as_array(grad_loss, "grad_loss", fn)
        if g.shape != (N,):
            raise ValueError(f"{fn}: expected grad_loss of shape ({N},) for reduction "
                             f"'none', got {tuple(g.shape)}")
        g = _args.to_float32(g, "grad_loss", fn)
    else:
        if isinstance(grad_loss, numbers.Real) and not isinstance(grad_loss, bool):
            g = np.array([grad_loss], dtype=np.float32)
        else:
            g = _args.as_array(grad_loss, "grad_loss", fn)
            if g.size != 1:
                raise ValueError(f"{fn}: grad_loss must be a number for reduction "
                                 f"{cache.reduction!r}, got shape {tuple(g.shape)}")
            g = np.ascontiguousarray(g, dtype=np.float32).reshape(1)
    out = _args.empty((N, K), "grad_logits", fn)
    if N == 0:
        return out
    _C.softmax_cross_entropy_backward(None, cache.probs, cache.labels, cache.reduction, g,
                                      out)
    return out

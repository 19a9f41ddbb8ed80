"""Multi-tensor optimizer updates: every parameter of a model in one C call, threads
splitting the elements of all tensors together (parameters are many small arrays).
The update rules are torch.optim.SGD's and torch.optim.Adam / AdamW's; the classes in
fastconv.optim keep the state and call these.

Every list holds C-contiguous float32 NumPy arrays, array i of each of the shape of
params[i]; params and the state arrays are updated in place (so they must be
writeable), grads are only read. Nothing is converted or copied: a wrong array is a
TypeError or ValueError naming the list and the index, before any update runs.
"""
import math
import numbers

import numpy as np

from fastconv import _C
from fastconv.functional import _args


def _tensors(arrays, name, fn, shapes=None, write=True):
    """arrays checked as a list of C-contiguous float32 arrays (of `shapes` if given)."""
    if not isinstance(arrays, (list, tuple)):
        raise TypeError(f"{fn}: {name} must be a list of arrays, got {type(arrays).__name__}")
    arrays = list(arrays)
    if shapes is not None and len(arrays) != len(shapes):
        raise ValueError(f"{fn}: {name} has {len(arrays)} arrays, params has {len(shapes)}")
    for i, a in enumerate(arrays):
        where = f"{name}[{i}]"
        if not isinstance(a, np.ndarray):
            raise TypeError(f"{fn}: {where} must be a numpy.ndarray, got {type(a).__name__}")
        if a.dtype != np.float32 or not a.flags.c_contiguous:
            raise TypeError(f"{fn}: {where} must be a C-contiguous float32 array, got "
                            f"dtype {a.dtype}" + ("" if a.flags.c_contiguous
                                                  else ", not C-contiguous"))
        if write and not a.flags.writeable:
            raise ValueError(f"{fn}: {where} is read-only; it is updated in place")
        if shapes is not None and a.shape != shapes[i]:
            raise ValueError(f"{fn}: {where} has shape {a.shape}, params[{i}] has "
                             f"{shapes[i]}")
    return arrays


def _real(v, name, fn, lo=None, lo_open=False, hi=None):
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
        raise ValueError(f"{fn}: {name} must be a finite number, got {name}={v!r}")
    v = float(v)
    if lo is not None and (v < lo or (lo_open and v == lo)):
        raise ValueError(f"{fn}: {name} must be {'>' if lo_open else '>='} {lo}, got "
                         f"{name}={v!r}")
    if hi is not None and not v < hi:
        raise ValueError(f"{fn}: {name} must be < {hi}, got {name}={v!r}")
    return v


def sgd_update(params, grads, momentum_buffers=None, *, lr, momentum=0.0, dampening=0.0,
               weight_decay=0.0, nesterov=False, first_step=False):
    """One torch.optim.SGD step over every parameter, in place:
    d = g + weight_decay * p; with momentum, buf = d on the first step (first_step=True:
    the buffers are written, not read, so np.empty_like will do) else
    buf = momentum * buf + (1 - dampening) * d, then d = d + momentum * buf (nesterov)
    or buf; p -= lr * d. momentum_buffers is needed (and updated) when momentum > 0."""
    fn = "sgd_update"
    params = _tensors(params, "params", fn)
    shapes = [p.shape for p in params]
    grads = _tensors(grads, "grads", fn, shapes, write=False)
    lr = _real(lr, "lr", fn, 0.0)
    momentum = _real(momentum, "momentum", fn, 0.0)
    dampening = _real(dampening, "dampening", fn)
    weight_decay = _real(weight_decay, "weight_decay", fn, 0.0)
    nesterov = _args.flag(nesterov, "nesterov", fn)
    first_step = _args.flag(first_step, "first_step", fn)
    if nesterov and (momentum <= 0.0 or dampening != 0.0):
        raise ValueError(f"{fn}: nesterov needs momentum > 0 and dampening = 0, got "
                         f"momentum={momentum!r}, dampening={dampening!r}")
    if momentum != 0.0:
        if momentum_buffers is None:
            raise ValueError(f"{fn}: momentum={momentum!r} needs momentum_buffers")
        momentum_buffers = _tensors(momentum_buffers, "momentum_buffers", fn, shapes)
    else:
        momentum_buffers = None
    _C.sgd_update(params, grads, momentum_buffers, lr, momentum, dampening, weight_decay,
                  nesterov, first_step)


def adam_update(params, grads, exp_avgs, exp_avg_sqs, *, step, lr=1e-3, betas=(0.9, 0.999),
                eps=1e-8, weight_decay=0.0, decoupled=False, amsgrad=False,
                max_exp_avg_sqs=None):
    """One torch.optim.Adam (decoupled=False: weight_decay is added to the gradient) or
    AdamW (decoupled=True: p *= 1 - lr * weight_decay) step over every parameter, in
    place; `step` is this step's number, counted from 1. The moments start as zeros;
    with amsgrad, max_exp_avg_sqs (zeros at first) keeps the running maximum of v."""
    fn = "adam_update"
    params = _tensors(params, "params", fn)
    shapes = [p.shape for p in params]
    grads = _tensors(grads, "grads", fn, shapes, write=False)
    exp_avgs = _tensors(exp_avgs, "exp_avgs", fn, shapes)
    exp_avg_sqs = _tensors(exp_avg_sqs, "exp_avg_sqs", fn, shapes)
    if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 1:
        raise ValueError(f"{fn}: step must be an int >= 1 (this step's number), got "
                         f"step={step!r}")
    lr = _real(lr, "lr", fn, 0.0)
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"{fn}: betas must be a pair, got betas={betas!r}")
    b1 = _real(betas[0], "betas[0]", fn, 0.0, hi=1.0)
    b2 = _real(betas[1], "betas[1]", fn, 0.0, hi=1.0)
    eps = _real(eps, "eps", fn, 0.0)
    weight_decay = _real(weight_decay, "weight_decay", fn, 0.0)
    decoupled = _args.flag(decoupled, "decoupled", fn)
    amsgrad = _args.flag(amsgrad, "amsgrad", fn)
    if amsgrad:
        if max_exp_avg_sqs is None:
            raise ValueError(f"{fn}: amsgrad=True needs max_exp_avg_sqs")
        max_exp_avg_sqs = _tensors(max_exp_avg_sqs, "max_exp_avg_sqs", fn, shapes)
    else:
        max_exp_avg_sqs = None
    _C.adam_update(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, int(step), lr, b1,
                   b2, eps, weight_decay, decoupled, amsgrad)

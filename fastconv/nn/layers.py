"""Linear, activations, Dropout, Flatten, Identity, BatchNorm2d, BatchNorm1d."""
import math
from typing import NamedTuple

import numpy as np

from fastconv import amp
from fastconv.functional import _args
from fastconv.functional.eltwise import (add_relu, dropout, dropout_backward, relu,
                                         relu_backward, sigmoid, sigmoid_backward, tanh,
                                         tanh_backward)
from fastconv.functional.gemm import matmul
from fastconv.functional.norm import batch_norm2d, batch_norm2d_backward
from fastconv.nn import init
from fastconv.nn.module import Module, Parameter

__all__ = ["Linear", "ReLU", "Tanh", "Sigmoid", "Dropout", "Flatten", "Identity",
           "BatchNorm2d", "BatchNorm1d"]


class _XCache(NamedTuple):
    x: np.ndarray
    first: bool = False      # x is the model's input


class _YCache(NamedTuple):
    y: np.ndarray


class _MaskCache(NamedTuple):
    mask: np.ndarray


class Linear(Module):
    """y = x W^T + b as torch.nn.Linear (weight (out, in)), on fastconv.matmul.
    x may have any leading dimensions: (..., in_features)."""

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features = _args.as_int(in_features, "in_features", "Linear")
        self.out_features = _args.as_int(out_features, "out_features", "Linear")
        bound = init.fan_in_bound(self.in_features)
        self.weight = Parameter(init.uniform((self.out_features, self.in_features), bound))
        self.bias = Parameter(init.uniform((self.out_features,), bound)) if bias else None

    def forward(self, x):
        first = self._is_model_input(x)
        x = _args.as_float32(x, "x", "Linear")
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise ValueError(f"Linear: expected x of shape (..., {self.in_features}), got "
                             f"{x.shape}")
        x2 = x.reshape(-1, self.in_features)
        self._keep(_XCache(x2, first))
        # x W^T + b (W.T an F-contiguous view: no copy), 16-bit under fastconv.amp.autocast
        b = None if self.bias is None else self.bias.data
        y = amp.forward(amp.linear, x2, self.weight.data, b)
        return y.reshape(x.shape[:-1] + (self.out_features,))

    def backward(self, grad_out):
        c = self._take()
        x2 = c.x
        g = _args.as_float32(grad_out, "grad_out", "Linear").reshape(-1, self.out_features)
        g = amp.cast_taken(g)   # rounded when the forward ran under autocast
        if self.weight.requires_grad:    # a frozen weight: no weight GEMM
            self.weight.accumulate(amp.cast_taken(matmul(g.T, x2)), owned=True)
        if self.bias is not None and self.bias.requires_grad:
            self.bias.accumulate(g.sum(axis=0, dtype=np.float32), owned=True)
        shape = np.shape(grad_out)[:-1] + (self.in_features,)
        if self._input_grad_skipped(c.first):
            return self._no_input_grad(shape)
        return amp.cast_taken(matmul(g, amp.cast_taken(self.weight.data))).reshape(shape)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class ReLU(Module):
    """max(x, 0), on fastconv's C kernels. Backward needs only the output (the mask is
    recomputed from y > 0, not stored as a byte array). inplace=True overwrites a
    float32 C-contiguous input instead of allocating (as torch's ReLU(inplace=True)):
    only for inputs nobody else reads, such as a fresh BatchNorm or convolution output;
    the models use it to halve peak activation memory."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = bool(inplace)

    def _owned(self, x):
        return (self.inplace and isinstance(x, np.ndarray) and x.dtype == np.float32
                and x.flags.c_contiguous and x.flags.writeable)

    def forward(self, x):
        own = self._owned(x)
        x = _args.as_float32(x, "x", "ReLU")
        y = relu(x, out=x if own else None)
        self._keep(_YCache(y))
        return y

    def add_forward(self, a, b):
        """max(a + b, 0) in one pass (a residual join): a is overwritten when the layer
        is inplace and owns it. Its backward is this layer's backward."""
        own = self._owned(a)
        a = _args.as_float32(a, "a", "ReLU")
        y = add_relu(a, _args.as_float32(b, "b", "ReLU"), out=a if own else None)
        self._keep(_YCache(y))
        return y

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""

    def backward(self, grad_out):
        c = self._take()
        if isinstance(c, _FusedCache):      # the BatchNorm2d before applies the mask
            return grad_out
        return relu_backward(_args.as_float32(grad_out, "grad_out", "ReLU"), c.y)


def run_chain(modules, x):
    """Calls each module on the previous one's output (what Sequential and the models'
    chains do). A BatchNorm2d directly followed by a ReLU runs as one pass over the data
    (BatchNorm2d.forward(x, relu=True)), forward and backward; the ReLU then keeps only a marker
    and its backward passes the gradient on to the BatchNorm2d, which masks it. Their
    subclasses (SyncBatchNorm, BatchNorm1d) run as written."""
    mods = list(modules)
    i = 0
    while i < len(mods):
        m = mods[i]
        if i + 1 < len(mods) and type(m) is BatchNorm2d and type(mods[i + 1]) is ReLU:
            x = m(x, relu=True)          # through __call__: wrappers of forward see it
            mods[i + 1]._keep(_FusedCache())
            i += 2
        else:
            x = m(x)
            i += 1
    return x


class Tanh(Module):
    def forward(self, x):
        y = tanh(_args.as_float32(x, "x", "Tanh"))
        self._keep(_YCache(y))
        return y

    def backward(self, grad_out):
        return tanh_backward(_args.as_float32(grad_out, "grad_out", "Tanh"), self._take().y)


class Sigmoid(Module):
    def forward(self, x):
        y = sigmoid(_args.as_float32(x, "x", "Sigmoid"))
        self._keep(_YCache(y))
        return y

    def backward(self, grad_out):
        return sigmoid_backward(_args.as_float32(grad_out, "grad_out", "Sigmoid"),
                                self._take().y)


class Dropout(Module):
    """Zeroes each element with probability p in training and scales the rest by
    1 / (1 - p) (inverted dropout, as PyTorch); identity in eval mode. On the C kernel:
    the mask is kept as bits, a function of a per-call seed drawn from
    fastconv.nn.init's generator (seed it with fastconv.nn.init.manual_seed)."""

    def __init__(self, p=0.5):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1], got p={p!r}")
        self.p = float(p)

    def forward(self, x):
        x = _args.as_float32(x, "x", "Dropout")
        if not self.training:
            self._keep(None)
            return x
        if self.p == 0.0:
            self._keep(_MaskCache(None))
            return x
        seed = int(init.generator().integers(0, 2**63))
        y, mask = dropout(x, self.p, seed)
        self._keep(_MaskCache(mask))
        return y

    def backward(self, grad_out):
        mask = self._take().mask
        g = _args.as_float32(grad_out, "grad_out", "Dropout")
        return g if mask is None else dropout_backward(g, mask, self.p)

    def extra_repr(self):
        return f"p={self.p}"


class _ShapeCache(NamedTuple):
    shape: tuple


class Flatten(Module):
    """Flattens dimensions start_dim.. into one (default: all but the batch). The size
    is computed, not inferred, so that empty arrays flatten too: (0, 3, 4, 4) -> (0, 48)
    and (2, 0, 4) -> (2, 0), as torch.flatten."""

    def __init__(self, start_dim=1):
        super().__init__()
        self.start_dim = start_dim

    def forward(self, x):
        x = _args.as_float32(x, "x", "Flatten")
        self._keep(_ShapeCache(x.shape))
        lead = x.shape[:self.start_dim]
        rest = x.shape[len(lead):]
        return x.reshape(lead + (math.prod(rest),))

    def backward(self, grad_out):
        return _args.as_float32(grad_out, "grad_out", "Flatten").reshape(self._take().shape)


class Identity(Module):
    def forward(self, x):
        self._keep(_ShapeCache(()))
        return x

    def backward(self, grad_out):
        self._take()
        return grad_out


class _BNCache(NamedTuple):
    x: np.ndarray
    mean: np.ndarray
    invstd: np.ndarray
    y: np.ndarray = None     # the output, when the next ReLU ran in this forward


class _FusedCache(NamedTuple):
    """The cache of a ReLU whose forward ran inside the BatchNorm2d before it."""


class BatchNorm2d(Module):
    """As torch.nn.BatchNorm2d: in training, normalizes by the batch mean and biased
    variance over (N, H, W) and updates running_mean / running_var (unbiased) with
    `momentum` (None: cumulative average); in eval, uses the running statistics.
    Parameters weight, bias; buffers running_mean, running_var, num_batches_tracked.

    An empty input (N, H or W zero) gives an empty output, as torch's: in training it
    counts in num_batches_tracked but leaves the running statistics as they are, and
    its backward gives zero weight and bias gradients. Training on exactly one value
    per channel (N*H*W == 1) is a ValueError, as in torch.

    load_state_dict accepts state without num_batches_tracked (checkpoints older than
    the buffer; torch accepts them too) and keeps the current count."""

    _optional_state = ("num_batches_tracked",)

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True):
        super().__init__()
        self.num_features = _args.as_int(num_features, "num_features", "BatchNorm2d")
        self.eps = float(eps)
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        C = self.num_features
        if affine:
            self.weight = Parameter(np.ones(C, np.float32))
            self.bias = Parameter(np.zeros(C, np.float32))
        else:
            self.weight = self.bias = None
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(C, np.float32))
            self.register_buffer("running_var", np.ones(C, np.float32))
            self.register_buffer("num_batches_tracked", np.zeros((), np.int64))

    def _check(self, x):
        if x.ndim != 4 or x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm2d: expected x of shape (N, {self.num_features}, H, W),"
                             f" got {x.shape}")

    def forward(self, x, relu=False):
        """relu=True: max(., 0) of the result in the same pass over the data, for a
        BatchNorm2d followed by a ReLU (nn.run_chain fuses such pairs); backward then
        applies the ReLU's mask in the same pass as this layer's own gradient."""
        x = _args.as_float32(x, "x", "BatchNorm2d")
        self._check(x)
        N, C, H, W = x.shape
        use_batch = self.training or not self.track_running_stats
        gamma = self.weight.data if self.affine else None
        beta = self.bias.data if self.affine else None
        if not use_batch:
            self._keep(None)
            return batch_norm2d(x, gamma, beta, self.running_mean, self.running_var,
                                training=False, eps=self.eps, relu=relu).y
        m = N * H * W
        if m == 1 and self.training:
            raise ValueError(f"BatchNorm2d: training needs more than one value per channel, "
                             f"got x of shape {x.shape}")
        if m == 0:
            return self._forward_empty(x)
        rm = rv = None
        mom = 0.0
        if self.training and self.track_running_stats:
            self.num_batches_tracked = self.num_batches_tracked + 1
            mom = (1.0 / float(self.num_batches_tracked) if self.momentum is None
                   else float(self.momentum))
            # updated in place by the kernel: they must be our own float32 arrays
            self.running_mean = np.require(self.running_mean, np.float32, ["C", "W", "O"])
            self.running_var = np.require(self.running_var, np.float32, ["C", "W", "O"])
            rm, rv = self.running_mean, self.running_var
        r = batch_norm2d(x, gamma, beta, rm, rv, training=True, momentum=mom, eps=self.eps,
                         relu=relu)
        self._keep(_BNCache(x, r.save_mean, r.save_invstd, r.y if relu else None))
        return r.y

    def _forward_empty(self, x):
        """torch's rule for an empty batch: nothing to normalize; the count of batches
        still grows in training, the statistics do not move."""
        if self.training and self.track_running_stats:
            self.num_batches_tracked = self.num_batches_tracked + 1
        self._keep(_BNCache(x, None, None))
        return x.copy()

    def backward(self, grad_out):
        c = self._take()
        g = _args.as_float32(grad_out, "grad_out", "BatchNorm2d")
        N, C, H, W = g.shape
        if N * H * W == 0:
            if self.affine:
                self.weight.accumulate(np.zeros(C, np.float32), owned=True)
                self.bias.accumulate(np.zeros(C, np.float32), owned=True)
            return np.zeros(g.shape, np.float32)
        gamma = self.weight.data if self.affine else None
        gx, ggamma, gbeta = batch_norm2d_backward(g, c.x, gamma, c.mean, c.invstd, y=c.y,
                                                  relu=c.y is not None)
        if self.affine:
            self.weight.accumulate(ggamma, owned=True)
            self.bias.accumulate(gbeta, owned=True)
        return gx

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class BatchNorm1d(BatchNorm2d):
    """As torch.nn.BatchNorm1d, on x (N, C) or (N, C, L): statistics over N (and L)
    per channel; the same kernel as BatchNorm2d, on a (N, C, L, 1) view."""

    def _check1d(self, x):
        if x.ndim not in (2, 3) or x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm1d: expected x of shape (N, {self.num_features}) or "
                             f"(N, {self.num_features}, L), got {x.shape}")

    def forward(self, x):
        x = _args.as_float32(x, "x", "BatchNorm1d")
        self._check1d(x)
        y = super().forward(_as4d(x))
        return y.reshape(x.shape)

    def backward(self, grad_out):
        g = _args.as_float32(grad_out, "grad_out", "BatchNorm1d")
        return super().backward(_as4d(g)).reshape(g.shape)


def _as4d(x):
    return x.reshape(x.shape + (1,) * (4 - x.ndim))

"""Containers: Sequential (a chain) and Concat (branches joined along channels)."""
from collections import OrderedDict
from typing import NamedTuple

import numpy as np

from fastconv.functional._args import as_float32, is_fresh
from fastconv.functional.eltwise import add
from fastconv.nn.layers import run_chain
from fastconv.nn.module import Module

__all__ = ["Sequential", "Concat"]


class Sequential(Module):
    """Runs its modules in order; backward runs them in reverse. Children are named
    "0", "1", ... (or by the keys of an OrderedDict), as in PyTorch."""

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], (dict, OrderedDict)):
            for name, m in modules[0].items():
                setattr(self, name, m)
        else:
            for i, m in enumerate(modules):
                self.append(m)

    def append(self, module):
        if not isinstance(module, Module):
            raise TypeError(f"Sequential: expected a Module, got {type(module).__name__}")
        setattr(self, str(len(self._modules)), module)
        return self

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, i):
        mods = list(self._modules.values())
        if isinstance(i, slice):
            return Sequential(*mods[i])
        return mods[i]

    def forward(self, x):
        return run_chain(self._modules.values(), x)

    def backward(self, grad_out):
        for m in reversed(self._modules.values()):
            grad_out = m.backward(grad_out)
        return grad_out


class _SplitCache(NamedTuple):
    sizes: tuple


class Concat(Module):
    """Runs every branch on the same input and concatenates the outputs along `dim`
    (channels by default): the Inception module's depth concatenation. Backward splits
    the gradient by branch and sums the branches' input gradients."""

    def __init__(self, *branches, dim=1):
        super().__init__()
        if not branches:
            raise ValueError("Concat: needs at least one branch")
        for i, b in enumerate(branches):
            if not isinstance(b, Module):
                raise TypeError(f"Concat: branch {i} is a {type(b).__name__}, not a Module")
            setattr(self, str(i), b)
        self.dim = dim

    def forward(self, x):
        outs = [b(x) for b in self._modules.values()]
        self._keep(_SplitCache(tuple(o.shape[self.dim] for o in outs)))
        return np.concatenate(outs, axis=self.dim)

    def backward(self, grad_out):
        sizes = self._take().sizes
        grad_out = as_float32(grad_out, "grad_out", "Concat")
        parts = np.split(grad_out, np.cumsum(sizes)[:-1], axis=self.dim)
        gx = None
        for b, g in zip(self._modules.values(), parts):
            gb = b.backward(as_float32(g, "grad_out", "Concat"))   # a branch's slice, contiguous
            gx = gb if gx is None else add_grads(gx, gb)
        return gx


def add_grads(a, b):
    """a + b for two gradients of one input (a skip connection's, a branch's), written
    into a when a is an op's fresh result that nobody else reads (a layer's input
    gradient): the C add on every thread instead of a new array from NumPy."""
    if (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape
            and a.dtype == b.dtype == np.float32 and a.flags.c_contiguous
            and b.flags.c_contiguous and a.flags.writeable and is_fresh(a)
            and not np.may_share_memory(a, b)):
        return add(a, b, out=a)
    return a + b

"""Module and Parameter: the base of the layer API (explicit backward, no autograd).

A Module's forward() in train mode stores what its backward() needs in one small
named cache object (`self._cache`); backward(grad_out) consumes it, accumulates the
parameter gradients into each Parameter.grad and returns the gradient of the input.
In eval mode forward() stores nothing, so inference holds only live activations.
"""
import functools
import inspect
import threading
from collections import OrderedDict, namedtuple

import numpy as np

from fastconv import amp
from fastconv.functional._args import as_array, as_float32

__all__ = ["Module", "Parameter"]

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])

# Per thread: the input of the outermost module call in progress, and whether the
# outermost backward in progress wants the gradient of that input.
_pass = threading.local()


def _outermost_backward(fn):
    """Gives a Module subclass's backward the keyword input_grad of the outermost call:
    input_grad=False skips the input-gradient work of the layers that consume the
    model's input directly and returns None (as torch does for an input that does not
    require grad). Nested backward calls run as written."""
    @functools.wraps(fn)
    def backward(self, *grads, input_grad=True, **kwargs):
        if getattr(_pass, "backward_depth", 0):
            return fn(self, *grads, **kwargs)
        if not isinstance(input_grad, (bool, np.bool_)):
            raise TypeError(f"{type(self).__name__}.backward: input_grad must be True or "
                            f"False, got {input_grad!r}")
        _pass.backward_depth, _pass.input_grad = 1, bool(input_grad)
        try:
            g = fn(self, *grads, **kwargs)
        finally:
            _pass.backward_depth, _pass.input_grad = 0, True
        return g if input_grad else None
    backward.outermost = True
    sig = inspect.signature(fn)      # what help() and inspect show: input_grad too
    extra = inspect.Parameter("input_grad", inspect.Parameter.KEYWORD_ONLY, default=True)
    try:
        backward.__signature__ = sig.replace(parameters=[*sig.parameters.values(), extra])
    except ValueError:               # e.g. a backward taking **kwargs: shown as written
        pass
    return backward


class Parameter:
    """A trainable float32 array (`.data`) and its accumulated gradient (`.grad`, None
    until a backward pass or after zero_grad()).

    requires_grad=False freezes it, as in torch: optimizers leave it unchanged, layers
    skip the work of its gradient where they can, and .grad stays None."""

    __slots__ = ("data", "grad", "_requires_grad")

    def __init__(self, data, requires_grad=True):
        self.data = as_float32(data, "data", "Parameter")
        self.grad = None
        self.requires_grad = requires_grad

    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"Parameter: requires_grad must be a bool, got {value!r}")
        self._requires_grad = bool(value)

    def requires_grad_(self, requires_grad=True):
        """Sets requires_grad and returns the parameter (torch's in-place form)."""
        self.requires_grad = requires_grad
        return self

    @property
    def shape(self):
        return self.data.shape

    @property
    def size(self):
        return self.data.size

    def accumulate(self, g, owned=False):
        """Adds g to .grad (gradients of several backward passes sum, as in PyTorch).
        owned=True: g is a fresh array nobody else holds (a layer's own gradient
        result), so the first gradient is kept as it is instead of copied (AlexNet's
        classifier: 58M floats a step). A frozen parameter keeps .grad None."""
        if not self._requires_grad:
            return
        g = as_float32(g, "grad", "Parameter.accumulate").reshape(self.data.shape)
        if self.grad is None:
            fresh = owned and g.flags.c_contiguous and g.flags.writeable
            self.grad = g if fresh else np.array(g, dtype=np.float32, copy=True)
        else:
            self.grad += g

    def __repr__(self):
        frozen = "" if self._requires_grad else ", requires_grad=False"
        return f"Parameter(shape={self.data.shape}{frozen})"


class Module:
    """Base class: subclasses set Parameters, buffers and sub-Modules as attributes in
    __init__ and define forward(x) and backward(grad_out)."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_cache", None)

    # -- registration -------------------------------------------------------------
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}.__init__ must call "
                                 f"super().__init__() before setting {name!r}")
        if name in self._buffers and not isinstance(value, (Parameter, Module)):
            object.__setattr__(self, name, value)
            return
        for d in (self._parameters, self._buffers, self._modules):
            d.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def register_buffer(self, name, array):
        """State that is saved and loaded but not trained (BatchNorm running stats)."""
        object.__setattr__(self, name, array)
        self._buffers[name] = None   # the value lives in the attribute

    def _buffer_items(self):
        return [(n, getattr(self, n)) for n in self._buffers]

    # -- forward / backward -------------------------------------------------------
    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def backward(self, grad_out):
        raise NotImplementedError(f"{type(self).__name__} does not define backward()")

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        bw = cls.__dict__.get("backward")
        if bw is not None and not getattr(bw, "outermost", False):
            cls.backward = _outermost_backward(bw)

    def __call__(self, *args, **kwargs):
        if getattr(_pass, "forward_depth", 0):
            return self.forward(*args, **kwargs)
        _pass.forward_depth, _pass.input = 1, (args[0] if args else None)
        try:
            return self.forward(*args, **kwargs)
        finally:
            _pass.forward_depth, _pass.input = 0, None

    @staticmethod
    def _is_model_input(x):
        """Whether x is the input of the outermost module call in progress (its
        gradient is skipped by backward(..., input_grad=False))."""
        return x is getattr(_pass, "input", None)

    @staticmethod
    def _no_input_grad(shape):
        """What a layer returns in place of a skipped input gradient: zeros of that
        shape without memory (a container may still add it to another branch's)."""
        return np.broadcast_to(np.float32(0), shape)

    @staticmethod
    def _input_grad_skipped(first):
        """Whether a layer whose forward got the model input (first) may skip its input
        gradient in the backward in progress."""
        return first and not getattr(_pass, "input_grad", True)

    def _keep(self, cache):
        """Stores cache for backward in train mode; in eval mode keeps nothing."""
        # fastconv.amp.autocast stores the activations in 16 bits
        object.__setattr__(self, "_cache", amp.pack(cache) if self.training else None)

    def _take(self):
        """Returns and releases the cache of the last train-mode forward."""
        cache = self._cache
        if cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward() needs a forward() in train "
                               f"mode first (eval mode keeps no activations; each forward "
                               f"is consumed by one backward)")
        object.__setattr__(self, "_cache", None)
        return amp.unpack(cache)

    # -- traversal ----------------------------------------------------------------
    def children(self):
        return list(self._modules.values())

    def named_modules(self, prefix=""):
        yield prefix, self
        for name, m in self._modules.items():
            yield from m.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        return [m for _, m in self.named_modules()]

    def named_parameters(self, prefix=""):
        out = []
        for mp, m in self.named_modules(prefix):
            for name, p in m._parameters.items():
                out.append((f"{mp}.{name}" if mp else name, p))
        return out

    def parameters(self):
        return [p for _, p in self.named_parameters()]

    def named_buffers(self, prefix=""):
        out = []
        for mp, m in self.named_modules(prefix):
            for name, b in m._buffer_items():
                out.append((f"{mp}.{name}" if mp else name, b))
        return out

    def num_parameters(self):
        return int(sum(p.size for p in self.parameters()))

    # -- modes and gradients ------------------------------------------------------
    def train(self, mode=True):
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
            if not mode:
                object.__setattr__(m, "_cache", None)
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self):
        """Clears every Parameter.grad (to None, as PyTorch's default)."""
        for p in self.parameters():
            p.grad = None

    def requires_grad_(self, requires_grad=True):
        """Sets requires_grad on every parameter (False freezes the module); returns
        the module."""
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    # -- state --------------------------------------------------------------------
    def state_dict(self):
        """Ordered dict of copies: each module's parameters, then its buffers, then its
        children's, under dotted names as in PyTorch (`layer1.0.bn1.running_mean`)."""
        out = OrderedDict()
        for mp, m in self.named_modules():
            for name, p in m._parameters.items():
                out[f"{mp}.{name}" if mp else name] = p.data.copy()
            for name, b in m._buffer_items():
                out[f"{mp}.{name}" if mp else name] = np.array(b, copy=True)
        return out

    def load_state_dict(self, state, strict=True):
        """Loads arrays (NumPy, or anything np.asarray takes, such as CPU torch tensors)
        by name. strict=True raises KeyError on missing or unexpected names; a shape
        mismatch is always a ValueError, values that are not real numbers (or, for an
        integer buffer, not integers) a TypeError or ValueError. Every key, shape and
        conversion is checked before anything is written: a load that fails leaves the
        module unchanged. Returns (missing_keys, unexpected_keys).

        A module's optional state (BatchNorm2d's num_batches_tracked, which checkpoints
        older than it lack) may be absent, as torch allows: the current value is kept
        and the key is not reported missing."""
        targets, optional = {}, set()
        for mp, m in self.named_modules():
            for name in list(m._parameters) + list(m._buffers):
                key = f"{mp}.{name}" if mp else name
                targets[key] = (m, name)
                if name in getattr(m, "_optional_state", ()):
                    optional.add(key)
        missing = [k for k in targets if k not in state and k not in optional]
        unexpected = [k for k in state if k not in targets]
        if strict and (missing or unexpected):
            raise KeyError(f"load_state_dict: missing keys {missing}, unexpected keys "
                           f"{unexpected}")
        staged = []                      # (module, name, new array): checked, not yet set
        for key, (m, name) in targets.items():
            if key not in state:
                continue
            old = m._parameters[name].data if name in m._parameters else getattr(m, name)
            old = np.asarray(old)
            staged.append((m, name, _state_array(key, state[key], old.shape, old.dtype)))
        for m, name, value in staged:
            if name in m._parameters:
                m._parameters[name].data = value
            else:
                object.__setattr__(m, name, value)
        return IncompatibleKeys(missing, unexpected)

    def save(self, path):
        """fastconv.save(self, path): the state dict as an .npz file."""
        from fastconv.nn.checkpoint import save   # late: checkpoint imports Module
        save(self, path)

    def load(self, path, strict=True):
        """fastconv.load(path, self): loads an .npz state dict; returns self."""
        from fastconv.nn.checkpoint import load
        load(path, self, strict=strict)
        return self

    # -- display ------------------------------------------------------------------
    def extra_repr(self):
        return ""

    def __repr__(self):
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not self._modules:
            return head + ")"
        lines = [head]
        for name, m in self._modules.items():
            sub = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({name}): {sub}")
        return "\n".join(lines) + "\n)"


def _state_array(key, value, shape, dtype):
    """`value` as a new C-contiguous array of `dtype`, after checking that it has
    `shape` and holds real numbers (integers, for an integer dtype)."""
    if hasattr(value, "detach"):   # a torch tensor
        t = value.detach().cpu()
        try:
            value = t.numpy()
        except (TypeError, RuntimeError) as e:
            if not t.is_floating_point():
                raise TypeError(f"load_state_dict: {key} cannot be read as a NumPy array: "
                                f"{e}") from None
            value = t.float().numpy()           # bfloat16 and other dtypes NumPy lacks
    value = as_array(value, key, "load_state_dict")
    if value.shape != tuple(shape):
        raise ValueError(f"load_state_dict: {key} has shape {value.shape}, the model "
                         f"expects {tuple(shape)}")
    if dtype.kind in "iu" and value.dtype.kind == "f":
        info = np.iinfo(dtype)
        with np.errstate(invalid="ignore"):
            ok = np.isfinite(value) & (value == np.round(value))
            ok &= (value >= info.min) & (value <= info.max)
        if not ok.all():
            raise ValueError(f"load_state_dict: {key} must hold integers (its {dtype} "
                             f"buffer counts), got {value.ravel()[~ok.ravel()][:3]}")
    return np.array(value, dtype=dtype, order="C", copy=True)


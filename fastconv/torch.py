"""PyTorch adapter: fastconv's kernels as differentiable torch ops and drop-in modules.

    import fastconv.torch as fct
    y = fct.conv2d(x, w, b, stride=2, padding=1)        # autograd-aware
    model = fct.convert(model)                          # Conv2d, ConvTranspose2d, MaxPool2d,
                                                        # AvgPool2d, AdaptiveAvgPool2d(1) swapped

Tensors cross without copies (DLPack: C-contiguous float32 CPU tensors are read in place,
results come back through torch.from_numpy). The kernels are float32 on the CPU: other
dtypes or devices are a TypeError, never a silent conversion. Importing fastconv does
not import this module (nor torch).
"""
import copy

try:
    import torch
    from torch import nn
    from torch.autograd.function import once_differentiable
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("fastconv.torch needs PyTorch: pip install 'fastconv[torch]'") from e

# The NumPy ops as fcf.<op>: this module's own conv2d, max_pool2d, ... wrap them.
import fastconv.functional as fcf

__all__ = [
    "conv2d", "conv_transpose2d", "depthwise_conv2d", "max_pool2d", "avg_pool2d",
    "global_avg_pool2d", "Conv2d", "ConvTranspose2d", "MaxPool2d", "AvgPool2d",
    "GlobalAvgPool2d", "convert",
]


def _arr(t, name, fn):
    """A float32 CPU tensor as a NumPy view (no copy when it is contiguous)."""
    if t is None:
        return None
    if t.dtype != torch.float32 or t.device.type != "cpu":
        raise TypeError(f"fastconv.torch.{fn}: {name} must be a float32 CPU tensor (the "
                        f"kernels are float32), got {t.dtype} on {t.device}")
    return t.detach().contiguous().numpy()


def _out(a):
    return None if a is None else torch.from_numpy(a)


def _weighted_op(name, fwd, bwd):
    """An autograd Function for the functional op fwd(x, weight, bias, *args, **fwd_kw)
    (fastconv.<name>) and its bwd(grad_out, x, weight, *args): conv2d, depthwise and
    transposed conv."""

    class Op(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, w, b, args, fwd_kw):
            xa, wa = _arr(x, "x", name), _arr(w, "weight", name)
            ctx.args = args
            ctx.save_for_backward(x, w)
            ctx.has_bias = b is not None
            return _out(fwd(xa, wa, _arr(b, "bias", name), *args, **fwd_kw))

        @staticmethod
        @once_differentiable
        def backward(ctx, gy):
            x, w = ctx.saved_tensors
            need = ctx.needs_input_grad   # skip the passes autograd does not want
            gx, gw, gb = bwd(_arr(gy, "grad", name), x.detach().numpy(), w.detach().numpy(),
                             *ctx.args, input_grad=need[0], weight_grad=need[1] or need[2])
            return _grads(ctx, gx, gw, gb) + (None, None)

    Op.__name__ = Op.__qualname__ = f"_{name}"
    return Op


_Conv2d = _weighted_op("conv2d", fcf.conv2d, fcf.conv2d_backward)
_Depthwise = _weighted_op("depthwise_conv2d", fcf.depthwise_conv2d,
                          fcf.depthwise_conv2d_backward)
_ConvTranspose2d = _weighted_op("conv_transpose2d", fcf.conv_transpose2d,
                                fcf.conv_transpose2d_backward)


def _grads(ctx, gx, gw, gb):
    need = ctx.needs_input_grad
    return (_out(gx) if need[0] else None, _out(gw) if need[1] else None,
            _out(gb) if ctx.has_bias and need[2] else None)


class _MaxPool2d(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding, dilation, ceil_mode):
        y, idx = fcf.max_pool2d(_arr(x, "x", "max_pool2d"), kernel_size, stride, padding,
                                dilation, ceil_mode, return_indices=True)
        ctx.args = (kernel_size, stride, padding, dilation, ceil_mode)
        ctx.x_shape = x.shape
        ctx.save_for_backward(x)
        ctx.idx = idx
        i = torch.from_numpy(idx)
        ctx.mark_non_differentiable(i)
        return _out(y), i

    @staticmethod
    @once_differentiable
    def backward(ctx, gy, _gi):
        (x,) = ctx.saved_tensors
        gx = fcf.max_pool2d_backward(_arr(gy, "grad", "max_pool2d"), x.detach().numpy(),
                                     *ctx.args, indices=ctx.idx)
        return (_out(gx),) + (None,) * 5


class _AvgPool2d(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding, ceil_mode, count_include_pad):
        ctx.args = (kernel_size, stride, padding, ceil_mode, count_include_pad)
        ctx.save_for_backward(x)
        return _out(fcf.avg_pool2d(_arr(x, "x", "avg_pool2d"), *ctx.args))

    @staticmethod
    @once_differentiable
    def backward(ctx, gy):
        (x,) = ctx.saved_tensors
        gx = fcf.avg_pool2d_backward(_arr(gy, "grad", "avg_pool2d"), x.detach().numpy(),
                                     *ctx.args)
        return (_out(gx),) + (None,) * 5


class _GlobalAvgPool2d(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _out(fcf.global_avg_pool2d(_arr(x, "x", "global_avg_pool2d")))

    @staticmethod
    @once_differentiable
    def backward(ctx, gy):
        (x,) = ctx.saved_tensors
        return _out(fcf.global_avg_pool2d_backward(_arr(gy, "grad", "global_avg_pool2d"),
                                                   x.detach().numpy()))


# ----------------------------------------------------------------- functional ops
# Same signatures as torch.nn.functional; `padding` also takes fastconv's forms
# (((top, bottom), (left, right)), "same", "valid").

def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, algorithm="auto"):
    return _Conv2d.apply(x, weight, bias, (stride, padding, dilation, groups),
                         {"algorithm": algorithm})


def depthwise_conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1):
    return _Depthwise.apply(x, weight, bias, (stride, padding, dilation), {})


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    return _ConvTranspose2d.apply(x, weight, bias,
                                  (stride, padding, output_padding, groups, dilation), {})


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    y, idx = _MaxPool2d.apply(x, kernel_size, stride, padding, dilation, ceil_mode)
    return (y, idx) if return_indices else y


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    return _AvgPool2d.apply(x, kernel_size, stride, padding, ceil_mode, count_include_pad)


def global_avg_pool2d(x):
    """Mean over each (H, W) plane: (N, C, H, W) -> (N, C, 1, 1)."""
    return _GlobalAvgPool2d.apply(x)


# --------------------------------------------------------------------- modules
# Subclasses of the torch modules, so that state_dict keys, repr, isinstance checks
# and optimizers keep working; only forward differs.

def _torch_padding(m):
    """A torch conv module's padding in fastconv's terms (torch's "same" puts the odd
    pixel last, as fastconv's does)."""
    return m.padding if isinstance(m.padding, str) else tuple(m.padding)


class Conv2d(nn.Conv2d):
    """torch.nn.Conv2d computed by fastconv (zeros padding only). groups == in_channels
    with a (C*m, 1, R, S) weight runs the dedicated depthwise kernel."""

    def forward(self, x):
        if self.padding_mode != "zeros":
            raise NotImplementedError(f"fastconv.torch.Conv2d: padding_mode="
                                      f"{self.padding_mode!r} (only 'zeros')")
        if self.groups == self.in_channels > 1 and self.weight.shape[1] == 1:
            return depthwise_conv2d(x, self.weight, self.bias, self.stride,
                                    _torch_padding(self), self.dilation)
        return conv2d(x, self.weight, self.bias, self.stride, _torch_padding(self),
                      self.dilation, self.groups)


class ConvTranspose2d(nn.ConvTranspose2d):
    """torch.nn.ConvTranspose2d computed by fastconv (output_size is honoured)."""

    def forward(self, x, output_size=None):
        op = self.output_padding
        if output_size is not None:
            op = self._output_padding(x, output_size, self.stride, self.padding,
                                      self.kernel_size, 2, self.dilation)
        return conv_transpose2d(x, self.weight, self.bias, self.stride, tuple(self.padding),
                                tuple(op), self.groups, self.dilation)


class MaxPool2d(nn.MaxPool2d):
    def forward(self, x):
        return max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                          self.ceil_mode, self.return_indices)


class AvgPool2d(nn.AvgPool2d):
    def forward(self, x):
        if self.divisor_override is not None:
            raise NotImplementedError("fastconv.torch.AvgPool2d: divisor_override")
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                          self.count_include_pad)


class GlobalAvgPool2d(nn.AdaptiveAvgPool2d):
    """nn.AdaptiveAvgPool2d(1) computed by fastconv's global average pooling."""

    def __init__(self):
        super().__init__(1)

    def forward(self, x):
        return global_avg_pool2d(x)


def _replacement(m):
    """The fastconv module standing in for m (sharing its parameters), or None."""
    t = type(m)
    if t is nn.Conv2d and m.padding_mode == "zeros":
        new = Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding,
                     m.dilation, m.groups, m.bias is not None, device="meta")
    elif t is nn.ConvTranspose2d and m.padding_mode == "zeros":
        new = ConvTranspose2d(m.in_channels, m.out_channels, m.kernel_size, m.stride,
                              m.padding, m.output_padding, m.groups, m.bias is not None,
                              m.dilation, device="meta")
    elif t is nn.MaxPool2d:
        new = MaxPool2d(m.kernel_size, m.stride, m.padding, m.dilation, m.return_indices,
                        m.ceil_mode)
    elif t is nn.AvgPool2d and m.divisor_override is None:
        new = AvgPool2d(m.kernel_size, m.stride, m.padding, m.ceil_mode, m.count_include_pad)
    elif t is nn.AdaptiveAvgPool2d and m.output_size in (1, (1, 1)):
        new = GlobalAvgPool2d()
    else:
        return None
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        new.weight = m.weight           # the same Parameter objects: optimizers built
        new.bias = m.bias               # before convert() keep training them
    new.train(m.training)
    return new


def convert(model, inplace=True):
    """Replaces model's nn.Conv2d, nn.ConvTranspose2d, nn.MaxPool2d, nn.AvgPool2d and
    nn.AdaptiveAvgPool2d(1) modules (at any depth) by fastconv-backed ones sharing the
    same parameters; returns the model. Modules with options fastconv lacks
    (padding_mode other than 'zeros', divisor_override) stay as they are. With
    inplace=False a deep copy is converted and the original left alone."""
    if not inplace:
        model = copy.deepcopy(model)
    new = _replacement(model)
    if new is not None:
        return new
    for name, child in list(model.named_children()):
        new = _replacement(child)
        if new is None:
            convert(child, inplace=True)
        else:
            setattr(model, name, new)
    return model


"""A network that is a chain of named stages (torchvision's and Keras's layouts keep
each stage a named attribute, so the chain is not an nn.Sequential): forward runs them
in order after checking the input, backward in reverse."""
from fastconv import nn
from fastconv.functional import _args


class Staged(nn.Module):
    """Subclasses define _stages() (the modules in order) and may override
    _check(x) to refuse inputs the network cannot take."""

    def _stages(self):
        return self.children()

    def _check(self, x):
        name = type(self).__name__
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"{name}: expected x of shape (N, 3, H, W), got {x.shape}")

    def forward(self, x):
        x = _args.as_float32(x, "x", type(self).__name__)
        self._check(x)
        return nn.run_chain(self._stages(), x)

    def backward(self, grad_out):
        for m in reversed(self._stages()):
            grad_out = m.backward(grad_out)
        return grad_out

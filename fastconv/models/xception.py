"""Xception (Chollet 2017) as Keras builds it (keras.applications.Xception): an entry
flow of strided residual blocks, a middle flow of 8 residual blocks of three depthwise
separable convolutions, an exit flow, global average pooling and a dense classifier.

Names follow Keras's layer names with the block as a submodule: Keras's
`block2_sepconv1` is `block2.sepconv1` (its `depthwise` and `pointwise` weights),
`block2_sepconv1_bn` is `block2.sepconv1_bn`, `predictions` is `predictions`; the
unnamed residual 1x1 convolution and its BatchNorm are `blockN.residual(_bn)`. Weights
are in PyTorch's layout (a Keras kernel (R, S, C, K) is a weight (K, C, R, S) here)."""
from collections import OrderedDict

import numpy as np

from fastconv import nn
from fastconv.nn.container import add_grads
from fastconv.functional import _args
from fastconv.models.staged import Staged
from fastconv.functional.pool import max_pool2d, max_pool2d_backward
from fastconv.nn import init

__all__ = ["MaxPool2dSame", "Xception", "xception"]


def same_pads(size, kernel, stride):
    """TensorFlow's 'same' padding of one axis: output ceil(size / stride), the odd
    padding element at the end (bottom or right)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class MaxPool2dSame(nn.Module):
    """Max pooling with Keras's padding='same' (padding never wins a max): the pads
    depend on the input size and may be asymmetric (74 -> 37 pads (0, 1))."""

    def __init__(self, kernel_size=3, stride=2):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride

    def _pads(self, shape):
        return tuple(same_pads(n, self.kernel_size, self.stride) for n in shape[2:])

    def forward(self, x):
        x = _args.as_float32(x, "x", "MaxPool2dSame")
        pads = self._pads(x.shape)
        if not self.training:
            self._keep(None)
            return max_pool2d(x, self.kernel_size, stride=self.stride, padding=pads)
        y, idx = max_pool2d(x, self.kernel_size, stride=self.stride, padding=pads,
                            return_indices=True)
        self._keep((x, idx, pads))
        return y

    def backward(self, grad_out):
        x, idx, pads = self._take()
        return max_pool2d_backward(grad_out, x, self.kernel_size, stride=self.stride,
                                   padding=pads, indices=idx)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding='same'"


def _bn(channels):
    # Keras's BatchNormalization: epsilon 1e-3, moving average momentum 0.99 (PyTorch's 0.01)
    return nn.BatchNorm2d(channels, eps=1e-3, momentum=0.01)


def _sepconv(cin, cout):
    return nn.SeparableConv2d(cin, cout, 3, padding=1, bias=False)   # 'same' at stride 1


class _Block(nn.Module):
    """out = body(x) + shortcut(x); the body is the block's children other than
    residual / residual_bn (shortcut: the identity, or the strided 1x1 conv and its BN).
    The body's first ReLU must not be inplace: x is also the shortcut's input."""

    def _body(self):
        return [m for n, m in self._modules.items() if not n.startswith("residual")]

    def _shortcut(self):
        return [m for n, m in self._modules.items() if n.startswith("residual")]

    def forward(self, x):
        y = nn.run_chain(self._body(), x)
        r = nn.run_chain(self._shortcut(), x)
        return np.add(y, r, out=y)      # y is the last layer's fresh output, cached by none

    def backward(self, grad_out):
        g = grad_out
        for m in reversed(self._body()):
            g = m.backward(g)
        gr = grad_out
        for m in reversed(self._shortcut()):
            gr = m.backward(gr)
        return add_grads(g, gr)


class _StridedBlock(_Block):
    """Entry/exit flow block: [relu] sepconv bn relu sepconv bn, 'same' 3x3/2 max pool,
    plus the 1x1/2 convolution + BN of the input."""

    def __init__(self, cin, mid, cout, preact=True):
        super().__init__()
        self.residual = nn.Conv2d(cin, cout, 1, stride=2, bias=False)   # 'same' = no pad
        self.residual_bn = _bn(cout)
        if preact:
            self.sepconv1_act = nn.ReLU()
        self.sepconv1 = _sepconv(cin, mid)
        self.sepconv1_bn = _bn(mid)
        self.sepconv2_act = nn.ReLU(inplace=True)
        self.sepconv2 = _sepconv(mid, cout)
        self.sepconv2_bn = _bn(cout)
        self.pool = MaxPool2dSame(3, 2)


class _MiddleBlock(_Block):
    """Middle flow block: three times (relu, sepconv 728, bn), plus the input."""

    def __init__(self, channels=728):
        super().__init__()
        for i in (1, 2, 3):
            setattr(self, f"sepconv{i}_act", nn.ReLU(inplace=i > 1))
            setattr(self, f"sepconv{i}", _sepconv(channels, channels))
            setattr(self, f"sepconv{i}_bn", _bn(channels))


def _glorot(shape, fan_in, fan_out):
    return init.uniform(shape, np.sqrt(6.0 / (fan_in + fan_out)))


class Xception(Staged):
    """299x299x3 input (Keras's minimum is 71x71; fastconv runs any size >= 7).
    Entry flow: 3x3/2 conv 32 and 3x3 conv 64 ('valid', 299 -> 149 -> 147), then
    blocks 2-4 (128, 256, 728 channels; each halves the size: 74, 37, 19). Middle flow:
    blocks 5-12. Exit flow: block 13 (728 -> 1024, to 10x10), block14 (separable 1536
    and 2048 with BN and ReLU), global average pooling, `predictions` (logits: Keras
    applies the softmax in the layer, fastconv's CrossEntropyLoss takes logits).
    22,855,952 parameters at 1000 classes, plus 54,528 BatchNorm running statistics."""

    def __init__(self, num_classes=1000):
        super().__init__()
        self.block1 = nn.Sequential(OrderedDict(
            conv1=nn.Conv2d(3, 32, 3, stride=2, bias=False), conv1_bn=_bn(32),
            conv1_act=nn.ReLU(inplace=True),
            conv2=nn.Conv2d(32, 64, 3, bias=False), conv2_bn=_bn(64),
            conv2_act=nn.ReLU(inplace=True)))
        self.block2 = _StridedBlock(64, 128, 128, preact=False)
        self.block3 = _StridedBlock(128, 256, 256)
        self.block4 = _StridedBlock(256, 728, 728)
        for i in range(5, 13):
            setattr(self, f"block{i}", _MiddleBlock(728))
        self.block13 = _StridedBlock(728, 728, 1024)
        self.block14 = nn.Sequential(OrderedDict(
            sepconv1=_sepconv(1024, 1536), sepconv1_bn=_bn(1536),
            sepconv1_act=nn.ReLU(inplace=True),
            sepconv2=_sepconv(1536, 2048), sepconv2_bn=_bn(2048),
            sepconv2_act=nn.ReLU(inplace=True)))
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.predictions = nn.Linear(2048, num_classes)
        self._keras_init()

    def _keras_init(self):
        """Keras's defaults: Glorot-uniform kernels with Keras's fans (a depthwise
        kernel (R, S, C, 1) has fan_in C*R*S, fan_out R*S), zero biases."""
        for m in self.modules():
            if isinstance(m, nn.DepthwiseConv2d):
                C, _, R, S = m.weight.shape
                m.weight.data = _glorot(m.weight.shape, C * R * S, R * S)
            elif isinstance(m, nn.Conv2d):
                K, C, R, S = m.weight.shape
                m.weight.data = _glorot(m.weight.shape, C * R * S, K * R * S)
            elif isinstance(m, nn.Linear):
                K, C = m.weight.shape
                m.weight.data = _glorot(m.weight.shape, C, K)
                m.bias.data = np.zeros(K, np.float32)

    def _check(self, x):
        if x.ndim != 4 or x.shape[1] != 3 or min(x.shape[2:]) < 7:
            raise ValueError(f"Xception: expected x of shape (N, 3, H, W) with H, W >= 7 "
                             f"(Keras's minimum is 71), got {x.shape}")


def xception(num_classes=1000):
    return Xception(num_classes)

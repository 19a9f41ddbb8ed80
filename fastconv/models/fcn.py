"""A fully convolutional network (Long, Shelhamer and Darrell 2015) on a ResNet-18
backbone: the dense head is replaced by a 1x1 convolution scoring each class at stride
32, upsampled by transposed convolutions with the FCN-8s skips (1x1 scores of layer3 at
stride 16 and layer2 at stride 8, added after each x2 upsampling, then x8 to the input
size). Returns per-pixel logits (N, num_classes, H, W) for CrossEntropyLoss.

The backbone is `backbone.conv1 ... backbone.layer4` in torchvision's ResNet names, so
ImageNet ResNet-18 weights load with the prefix added and strict=False:
`fcn.load_state_dict({"backbone." + k: v for k, v in sd.items()}, strict=False)`
(fc.weight and fc.bias come back as unexpected keys)."""
import numpy as np

from fastconv import nn
from fastconv.functional import _args
from fastconv.models.resnet import BasicBlock, ResNet

__all__ = ["FCN", "ResNetFeatures", "bilinear_kernel", "fcn_resnet18"]


class ResNetFeatures(nn.Module):
    """A ResNet without its pooling and fc: forward returns the outputs of layer2,
    layer3 and layer4 (strides 8, 16, 32); backward takes a gradient for each (None
    for an unused one) and returns the gradient of the input."""

    _STEM = ("conv1", "bn1", "relu", "maxpool", "layer1")

    def __init__(self, block=BasicBlock, layers=(2, 2, 2, 2)):
        super().__init__()
        r = ResNet(block, list(layers), num_classes=1)
        for name in self._STEM + ("layer2", "layer3", "layer4"):
            setattr(self, name, getattr(r, name))
        self.channels = tuple(64 * block.expansion * m for m in (2, 4, 8))

    def forward(self, x):
        for name in self._STEM:
            x = getattr(self, name)(x)
        c2 = self.layer2(x)
        c3 = self.layer3(c2)
        return c2, c3, self.layer4(c3)

    def backward(self, g2, g3, g4):
        g = self.layer4.backward(g4)
        g = self.layer3.backward(g if g3 is None else g + g3)
        g = self.layer2.backward(g if g2 is None else g + g2)
        for name in reversed(self._STEM):
            g = getattr(self, name).backward(g)
        return g


def bilinear_kernel(channels, kernel_size):
    """Weights (C, C, k, k) making ConvTranspose2d(stride=k//2, padding=k//4) a
    per-channel bilinear upsampling (the FCN paper's initialization)."""
    factor = (kernel_size + 1) // 2
    center = factor - 1 if kernel_size % 2 == 1 else factor - 0.5
    t = 1 - np.abs(np.arange(kernel_size) - center) / factor
    w = np.zeros((channels, channels, kernel_size, kernel_size), np.float32)
    w[np.arange(channels), np.arange(channels)] = np.outer(t, t)
    return w


def _crop(y, h, w):
    """Top-left h x w of y (the upsampled map may overhang an input whose size is not
    a multiple of 32)."""
    return y if y.shape[2:] == (h, w) else np.ascontiguousarray(y[:, :, :h, :w])


def _uncrop(g, shape):
    """Backward of _crop: the gradient, zero over the cropped-off overhang."""
    if g.shape == tuple(shape):
        return g
    full = np.zeros(shape, np.float32)
    full[:, :, :g.shape[2], :g.shape[3]] = g
    return full


class FCN(nn.Module):
    """FCN-8s on a ResNet backbone. Output (N, num_classes, H, W) for any input:
    with H and W multiples of 32 the upsampling lands exactly on the input size; for
    other sizes each upsampled map overhangs the next skip (and the last the input) and
    is cropped to it, keeping the top-left (the maps are aligned at the origin)."""

    def __init__(self, num_classes=21, backbone=None):
        super().__init__()
        self.backbone = ResNetFeatures() if backbone is None else backbone
        c2, c3, c4 = self.backbone.channels
        K = num_classes
        self.score_fr = nn.Conv2d(c4, K, 1)          # the dense head, as a 1x1 convolution
        self.score_layer3 = nn.Conv2d(c3, K, 1)
        self.score_layer2 = nn.Conv2d(c2, K, 1)
        self.upscore2 = nn.ConvTranspose2d(K, K, 4, stride=2, padding=1, bias=False)
        self.upscore_layer3 = nn.ConvTranspose2d(K, K, 4, stride=2, padding=1, bias=False)
        self.upscore8 = nn.ConvTranspose2d(K, K, 16, stride=8, padding=4, bias=False)
        # FCN's initialization: zero class scores, bilinear upsampling (both learned).
        for m in (self.score_fr, self.score_layer3, self.score_layer2):
            m.weight.data = np.zeros(m.weight.shape, np.float32)
            m.bias.data = np.zeros(m.bias.shape, np.float32)
        for m in (self.upscore2, self.upscore_layer3, self.upscore8):
            m.weight.data = bilinear_kernel(K, m.kernel_size[0])
        self.num_classes = K

    def forward(self, x):
        x = _args.as_float32(x, "x", "FCN")
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"FCN: expected x of shape (N, 3, H, W), got {x.shape}")
        H, W = x.shape[2:]
        c2, c3, c4 = self.backbone(x)
        u4 = self.upscore2(self.score_fr(c4))
        f3 = _crop(u4, *c3.shape[2:]) + self.score_layer3(c3)
        u3 = self.upscore_layer3(f3)
        f2 = _crop(u3, *c2.shape[2:]) + self.score_layer2(c2)
        u2 = self.upscore8(f2)
        self._keep((u4.shape, u3.shape, u2.shape))
        return _crop(u2, H, W)

    def backward(self, grad_out):
        s4, s3, s2 = self._take()
        g = _args.as_float32(grad_out, "grad_out", "FCN")
        gf2 = self.upscore8.backward(_uncrop(g, s2))
        g2 = self.score_layer2.backward(gf2)
        gf3 = self.upscore_layer3.backward(_uncrop(gf2, s3))
        g3 = self.score_layer3.backward(gf3)
        g4 = self.score_fr.backward(self.upscore2.backward(_uncrop(gf3, s4)))
        return self.backbone.backward(g2, g3, g4)


def fcn_resnet18(num_classes=21):
    return FCN(num_classes)

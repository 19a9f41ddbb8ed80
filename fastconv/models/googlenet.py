"""GoogLeNet (Szegedy et al. 2014): Inception modules, in torchvision's layout and
parameter names (conv1..conv3, inception3a..5b with branch1..branch4, fc), so a
torchvision GoogLeNet state dict (aux_logits=False) loads directly."""
import numpy as np

from fastconv import nn
from fastconv.models.staged import Staged
from fastconv.nn import init

__all__ = ["BasicConv2d", "Inception", "GoogLeNet", "googlenet"]


class BasicConv2d(nn.Sequential):
    """Convolution without bias, BatchNorm (eps=0.001, as torchvision's), ReLU: the
    children conv, bn, relu run as a chain (Sequential's forward and backward)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride,
                              padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)
        self.relu = nn.ReLU(inplace=True)     # the BatchNorm output is its own


class Inception(nn.Concat):
    """Four branches on one input joined along channels (Concat's forward and backward:
    the input gradient is the sum of the branches'): 1x1; 1x1 then 3x3; 1x1 then 3x3
    (torchvision's "5x5" branch, a 3x3 in its weights); 3x3/1 max pool then 1x1."""

    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj):
        nn.Module.__init__(self)              # Concat's own init would name them 0..3
        self.branch1 = BasicConv2d(in_channels, ch1x1, 1)
        self.branch2 = nn.Sequential(BasicConv2d(in_channels, ch3x3red, 1),
                                     BasicConv2d(ch3x3red, ch3x3, 3, padding=1))
        self.branch3 = nn.Sequential(BasicConv2d(in_channels, ch5x5red, 1),
                                     BasicConv2d(ch5x5red, ch5x5, 3, padding=1))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True),
                                     BasicConv2d(in_channels, pool_proj, 1))
        self.dim = 1


class GoogLeNet(Staged):
    """224x224x3 input; any size >= 15 runs, as in torchvision (the head pools
    globally; the ceil-mode max pools keep a window that runs past a small input). Strides:
    conv1 2, then four ceil-mode max pools of stride 2: 64x64 reaches inception5b at 2x2.
    No auxiliary classifiers, no input transform; dropout 0.2 before fc; returns logits.
    6,624,904 parameters at 1000 classes."""

    def __init__(self, num_classes=1000, dropout=0.2):
        super().__init__()
        self.conv1 = BasicConv2d(3, 64, 7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, 1)
        self.conv3 = BasicConv2d(64, 192, 3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(1024, num_classes)
        # torchvision's initialization: N(0, 0.01) weights (its truncation at +-2 never
        # bites at this std), BatchNorm as the identity, fc bias as nn.Linear's.
        rng = init.generator()
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                w = rng.standard_normal(size=m.weight.shape, dtype=np.float32)
                m.weight.data = w * np.float32(0.01)

    def _stages(self):
        return (self.conv1, self.maxpool1, self.conv2, self.conv3, self.maxpool2,
                self.inception3a, self.inception3b, self.maxpool3, self.inception4a,
                self.inception4b, self.inception4c, self.inception4d, self.inception4e,
                self.maxpool4, self.inception5a, self.inception5b, self.avgpool,
                self.flatten, self.dropout, self.fc)

    def _check(self, x):
        if x.ndim != 4 or x.shape[1] != 3 or min(x.shape[2:]) < 15:
            raise ValueError(f"GoogLeNet: expected x of shape (N, 3, H, W) with H, W >= 15, "
                             f"got {x.shape}")


def googlenet(num_classes=1000, dropout=0.2):
    return GoogLeNet(num_classes, dropout)

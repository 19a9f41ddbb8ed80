"""PyTorch twins of fastconv.models for the end-to-end benchmarks, built inline with
torch.nn (no torchvision): LeNet-5, AlexNet (the paper's channels), ResNet-18 and
ResNet-50 (v1.5: the stride on the bottleneck's 3x3, as fastconv.models.resnet50),
GoogLeNet (torchvision's layout and names) and Xception (Keras's)."""
from collections import OrderedDict

import torch
from torch import nn


def lenet5(classes=10):
    # As fastconv.models.lenet5: tanh, average pooling, C5 a 5x5 convolution.
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2),
        nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2),
        nn.Conv2d(16, 120, 5), nn.Tanh(), nn.Flatten(),
        nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, classes))


def alexnet(classes=1000):
    # As fastconv.models.alexnet: the paper's channel counts, dropout before F8 and F9.
    return nn.Sequential(
        nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(96, 256, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.AdaptiveAvgPool2d(6), nn.Flatten(),
        nn.Dropout(0.5), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(),
        nn.Dropout(0.5), nn.Linear(4096, 4096), nn.ReLU(),
        nn.Linear(4096, classes))


class _Basic(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                      nn.BatchNorm2d(cout))

    def forward(self, x):
        y = torch.relu(self.b1(self.c1(x)))
        y = self.b2(self.c2(y))
        return torch.relu(y + (x if self.down is None else self.down(x)))


class _Bottleneck(nn.Module):
    def __init__(self, cin, planes, stride):
        super().__init__()
        cout = 4 * planes
        self.body = nn.Sequential(
            nn.Conv2d(cin, planes, 1, bias=False), nn.BatchNorm2d(planes), nn.ReLU(),
            nn.Conv2d(planes, planes, 3, stride, 1, bias=False), nn.BatchNorm2d(planes),
            nn.ReLU(), nn.Conv2d(planes, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                      nn.BatchNorm2d(cout))

    def forward(self, x):
        return torch.relu(self.body(x) + (x if self.down is None else self.down(x)))


def _resnet(stage, blocks, expansion, classes, widths):
    layers = [nn.Conv2d(3, widths[0], 7, 2, 3, bias=False), nn.BatchNorm2d(widths[0]),
              nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
    cin = widths[0]
    for i, (planes, n) in enumerate(zip(widths, blocks)):
        for j in range(n):
            layers.append(stage(cin, planes, 2 if i > 0 and j == 0 else 1))
            cin = planes * expansion
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, classes)]
    return nn.Sequential(*layers)


def resnet18(classes=1000, widths=(64, 128, 256, 512)):
    """ResNet-18's layout (two basic blocks per stage); narrower widths for tests."""
    return _resnet(_Basic, (2, 2, 2, 2), 1, classes, widths)


def resnet50(classes=1000, widths=(64, 128, 256, 512)):
    """ResNet-50's layout (3, 4, 6, 3 bottleneck blocks, 4x expansion)."""
    return _resnet(_Bottleneck, (3, 4, 6, 3), 4, classes, widths)


# -- GoogLeNet: torchvision's layout and names (aux_logits=False, transform_input=False) --

class BasicConv2d(nn.Module):
    def __init__(self, cin, cout, kernel_size, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel_size, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x):
        return torch.relu(self.bn(self.conv(x)))


class Inception(nn.Module):
    def __init__(self, cin, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj):
        super().__init__()
        self.branch1 = BasicConv2d(cin, ch1x1, 1)
        self.branch2 = nn.Sequential(BasicConv2d(cin, ch3x3red, 1),
                                     BasicConv2d(ch3x3red, ch3x3, 3, padding=1))
        self.branch3 = nn.Sequential(BasicConv2d(cin, ch5x5red, 1),
                                     BasicConv2d(ch5x5red, ch5x5, 3, padding=1))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, 1, 1, ceil_mode=True),
                                     BasicConv2d(cin, pool_proj, 1))

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x),
                          self.branch4(x)], 1)


class GoogLeNet(nn.Module):
    def __init__(self, num_classes=1000, dropout=0.2):
        super().__init__()
        self.conv1 = BasicConv2d(3, 64, 7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, 1)
        self.conv3 = BasicConv2d(64, 192, 3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(1024, num_classes)

    def forward(self, x):
        for name in ("conv1", "maxpool1", "conv2", "conv3", "maxpool2", "inception3a",
                     "inception3b", "maxpool3", "inception4a", "inception4b", "inception4c",
                     "inception4d", "inception4e", "maxpool4", "inception5a", "inception5b",
                     "avgpool"):
            x = getattr(self, name)(x)
        return self.fc(self.dropout(torch.flatten(x, 1)))


# -- Xception: the Keras layout, named as fastconv.models.xception names it --------------



def _xbn(c):
    return nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)


class SeparableConv2d(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.depthwise = nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False)
        self.pointwise = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x):
        return self.pointwise(self.depthwise(x))


def _tf_same_pads(size, k=3, s=2):
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def max_pool_same(x):
    """TensorFlow's 3x3/2 'same' max pooling: pads (possibly asymmetric) that never win."""
    t, b = _tf_same_pads(x.shape[2])
    l, r = _tf_same_pads(x.shape[3])
    x = torch.nn.functional.pad(x, (l, r, t, b), value=float("-inf"))
    return torch.nn.functional.max_pool2d(x, 3, 2)


class XStridedBlock(nn.Module):
    def __init__(self, cin, mid, cout, preact=True):
        super().__init__()
        self.preact = preact
        self.residual = nn.Conv2d(cin, cout, 1, 2, bias=False)
        self.residual_bn = _xbn(cout)
        self.sepconv1 = SeparableConv2d(cin, mid)
        self.sepconv1_bn = _xbn(mid)
        self.sepconv2 = SeparableConv2d(mid, cout)
        self.sepconv2_bn = _xbn(cout)

    def forward(self, x):
        r = self.residual_bn(self.residual(x))
        y = torch.relu(x) if self.preact else x
        y = torch.relu(self.sepconv1_bn(self.sepconv1(y)))
        y = self.sepconv2_bn(self.sepconv2(y))
        return max_pool_same(y) + r


class XMiddleBlock(nn.Module):
    def __init__(self, c=728):
        super().__init__()
        for i in (1, 2, 3):
            setattr(self, f"sepconv{i}", SeparableConv2d(c, c))
            setattr(self, f"sepconv{i}_bn", _xbn(c))

    def forward(self, x):
        y = x
        for i in (1, 2, 3):
            y = getattr(self, f"sepconv{i}_bn")(getattr(self, f"sepconv{i}")(torch.relu(y)))
        return y + x


class Xception(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        self.block1 = nn.Sequential(OrderedDict(
            conv1=nn.Conv2d(3, 32, 3, 2, bias=False), conv1_bn=_xbn(32), conv1_act=nn.ReLU(),
            conv2=nn.Conv2d(32, 64, 3, bias=False), conv2_bn=_xbn(64), conv2_act=nn.ReLU()))
        self.block2 = XStridedBlock(64, 128, 128, preact=False)
        self.block3 = XStridedBlock(128, 256, 256)
        self.block4 = XStridedBlock(256, 728, 728)
        for i in range(5, 13):
            setattr(self, f"block{i}", XMiddleBlock())
        self.block13 = XStridedBlock(728, 728, 1024)
        self.block14 = nn.Sequential(OrderedDict(
            sepconv1=SeparableConv2d(1024, 1536), sepconv1_bn=_xbn(1536),
            sepconv1_act=nn.ReLU(),
            sepconv2=SeparableConv2d(1536, 2048), sepconv2_bn=_xbn(2048),
            sepconv2_act=nn.ReLU()))
        self.predictions = nn.Linear(2048, num_classes)

    def forward(self, x):
        for i in range(1, 15):
            x = getattr(self, f"block{i}")(x)
        return self.predictions(x.mean((2, 3)))


def googlenet(classes=1000):
    return GoogLeNet(classes)


def xception(classes=1000):
    return Xception(classes)


class _FCN(nn.Module):
    """fastconv.models.fcn_resnet18's twin for timing: the ResNet-18 stages above, 1x1
    score convolutions on layer2..4 and transposed-convolution upsampling x2, x2, x8."""

    def __init__(self, classes=21):
        super().__init__()
        r = resnet18(classes)
        self.stem, self.layer2 = r[:6], r[6:8]      # stem + layer1, then layer2
        self.layer3, self.layer4 = r[8:10], r[10:12]
        self.score4, self.score3, self.score2 = (nn.Conv2d(c, classes, 1)
                                                 for c in (512, 256, 128))
        self.up4 = nn.ConvTranspose2d(classes, classes, 4, 2, 1, bias=False)
        self.up3 = nn.ConvTranspose2d(classes, classes, 4, 2, 1, bias=False)
        self.up8 = nn.ConvTranspose2d(classes, classes, 16, 8, 4, bias=False)

    def forward(self, x):
        H, W = x.shape[2:]
        c2 = self.layer2(self.stem(x))
        c3 = self.layer3(c2)
        f3 = self.up4(self.score4(self.layer4(c3)))[:, :, :c3.shape[2], :c3.shape[3]]
        f2 = self.up3(f3 + self.score3(c3))[:, :, :c2.shape[2], :c2.shape[3]]
        return self.up8(f2 + self.score2(c2))[:, :, :H, :W]


def fcn_resnet18(classes=21):
    return _FCN(classes)

"""PyTorch twins of fastconv.models for the end-to-end benchmarks, built inline with
torch.nn (no torchvision): LeNet-5, AlexNet (the paper's channels), ResNet-18 and
ResNet-50 (v1.5: the stride on the bottleneck's 3x3, as fastconv.models.resnet50)."""
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

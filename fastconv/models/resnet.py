"""ResNet-18/34/50 (He et al. 2015) in torchvision's layout and parameter names
(conv1, bn1, layer1..layer4 of blocks, downsample.{0,1}, fc), so that a torchvision
state dict loads directly. Stride sits on the 3x3 convolution of Bottleneck (v1.5)."""
from fastconv import nn
from fastconv.nn.container import add_grads
from fastconv.models.staged import Staged
from fastconv.nn import init

__all__ = ["BasicBlock", "Bottleneck", "ResNet", "resnet18", "resnet34", "resnet50"]


def conv3x3(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)


def conv1x1(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, 1, stride=stride, bias=False)


class _Residual(nn.Module):
    """out = relu(body(x) + shortcut(x)); backward sends the gradient down both paths
    and adds the two input gradients (the skip connection's identity term)."""

    def _body(self):
        raise NotImplementedError

    def forward(self, x):
        out = nn.run_chain(self._body(), x)
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu_out.add_forward(out, identity)   # relu(out + identity), one pass

    def backward(self, grad_out):
        g = self.relu_out.backward(grad_out)
        gx = g
        for m in reversed(self._body()):
            gx = m.backward(gx)
        g_skip = g if self.downsample is None else self.downsample.backward(g)
        return add_grads(gx, g_skip)



class BasicBlock(_Residual):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu_out = nn.ReLU(inplace=True)   # its own cache: one module per use
        self.downsample = downsample
        self.stride = stride

    def _body(self):
        return (self.conv1, self.bn1, self.relu, self.conv2, self.bn2)


class Bottleneck(_Residual):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = conv1x1(inplanes, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu_out = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def _body(self):
        return (self.conv1, self.bn1, self.relu, self.conv2, self.bn2, self.relu2,
                self.conv3, self.bn3)


class ResNet(Staged):
    def __init__(self, block, layers, num_classes=1000):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        # torchvision's initialization: He normal (fan_out) convolutions, BN to identity.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                K, _, R, S = m.weight.shape
                m.weight.data = init.kaiming_normal(m.weight.shape, K * R * S)

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def _stages(self):
        return (self.conv1, self.bn1, self.relu, self.maxpool, self.layer1, self.layer2,
                self.layer3, self.layer4, self.avgpool, self.flatten, self.fc)



def resnet18(num_classes=1000):
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes)


def resnet34(num_classes=1000):
    return ResNet(BasicBlock, [3, 4, 6, 3], num_classes)


def resnet50(num_classes=1000):
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes)

"""AlexNet (Krizhevsky et al. 2012; Table 14-2 of Hands-On ML, ch. 14)."""
from fastconv import nn

__all__ = ["AlexNet", "alexnet"]


class AlexNet(nn.Module):
    """227x227x3 input. C1 96@11x11/4 VALID, max 3x3/2, C3 256@5x5 SAME, max 3x3/2,
    C5 384, C6 384, C7 256 @3x3 SAME, max 3x3/2 (the paper's, to 6x6x256), F8 4096,
    F9 4096 (dropout before each), num_classes outputs: 62,378,344 parameters at 1000.

    Module layout and names as torchvision's AlexNet (features.N, avgpool,
    classifier.N), with the paper's channel counts (torchvision's has 64/192/384/256/256).
    The adaptive 6x6 average pool is the identity at 227x227 and lets other sizes run."""

    def __init__(self, num_classes=1000, dropout=0.5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(inplace=True),              # C1 55x55
            nn.MaxPool2d(3, stride=2),                              # S2 27x27
            nn.Conv2d(96, 256, 5, padding=2), nn.ReLU(inplace=True),            # C3
            nn.MaxPool2d(3, stride=2),                              # S4 13x13
            nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(inplace=True),           # C5
            nn.Conv2d(384, 384, 3, padding=1), nn.ReLU(inplace=True),           # C6
            nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(inplace=True),           # C7
            nn.MaxPool2d(3, stride=2),                              # 6x6
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.flatten = nn.Flatten()
        self.classifier = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),   # F8
            nn.Dropout(dropout), nn.Linear(4096, 4096), nn.ReLU(inplace=True),          # F9
            nn.Linear(4096, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.flatten(self.avgpool(self.features(x))))

    def backward(self, grad_out):
        g = self.flatten.backward(self.classifier.backward(grad_out))
        return self.features.backward(self.avgpool.backward(g))


def alexnet(num_classes=1000, dropout=0.5):
    return AlexNet(num_classes=num_classes, dropout=dropout)

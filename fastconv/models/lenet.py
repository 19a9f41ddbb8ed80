"""LeNet-5 (LeCun et al. 1998; Table 14-1 of Hands-On ML, ch. 14)."""
from fastconv import nn

__all__ = ["LeNet5", "lenet5"]


class LeNet5(nn.Module):
    """32x32x1 input. C1 6@5x5 -> S2 2x2 average pool -> C3 16@5x5 -> S4 -> C5 120@5x5
    (a convolution, 1x1 output) -> F6 84 -> num_classes logits; tanh after C1, C3, C5
    and F6. 61,706 parameters at 10 classes.

    Names: features.{0,3,6}.{weight,bias} (C1, C3, C5), classifier.{0,2}.* (F6, out).
    activation="relu" swaps every tanh for ReLU."""

    def __init__(self, num_classes=10, activation="tanh"):
        super().__init__()
        acts = {"tanh": nn.Tanh, "relu": nn.ReLU}
        if activation not in acts:
            raise ValueError(f"lenet5: activation must be 'tanh' or 'relu', "
                             f"got activation={activation!r}")
        A = acts[activation]
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5), A(), nn.AvgPool2d(2),       # C1 28x28, S2 14x14
            nn.Conv2d(6, 16, 5), A(), nn.AvgPool2d(2),      # C3 10x10, S4 5x5
            nn.Conv2d(16, 120, 5), A(),                     # C5 1x1
        )
        self.flatten = nn.Flatten()
        self.classifier = nn.Sequential(nn.Linear(120, 84), A(), nn.Linear(84, num_classes))

    def forward(self, x):
        return self.classifier(self.flatten(self.features(x)))

    def backward(self, grad_out):
        return self.features.backward(self.flatten.backward(self.classifier.backward(grad_out)))


def lenet5(num_classes=10, activation="tanh"):
    return LeNet5(num_classes=num_classes, activation=activation)

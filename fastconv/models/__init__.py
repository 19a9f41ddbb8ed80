"""Classic CNNs on fastconv.nn: LeNet-5, AlexNet, ResNet-18/34/50."""
from fastconv.models.alexnet import AlexNet, alexnet
from fastconv.models.lenet import LeNet5, lenet5
from fastconv.models.resnet import BasicBlock, Bottleneck, ResNet, resnet18, resnet34, resnet50

__all__ = ["AlexNet", "BasicBlock", "Bottleneck", "LeNet5", "ResNet", "alexnet", "lenet5",
           "resnet18", "resnet34", "resnet50"]

# The lecture's other networks: GoogLeNet (Inception), Xception, an FCN for segmentation.
from fastconv.models.fcn import FCN, fcn_resnet18  # noqa: E402
from fastconv.models.googlenet import GoogLeNet, googlenet  # noqa: E402
from fastconv.models.xception import Xception, xception  # noqa: E402

__all__ += ["FCN", "GoogLeNet", "Xception", "fcn_resnet18", "googlenet", "xception"]

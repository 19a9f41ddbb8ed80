"""Classic CNNs on fastconv.nn: LeNet-5, AlexNet, ResNet-18/34/50."""
from fastconv.models.alexnet import AlexNet, alexnet
from fastconv.models.lenet import LeNet5, lenet5
from fastconv.models.resnet import BasicBlock, Bottleneck, ResNet, resnet18, resnet34, resnet50

__all__ = ["AlexNet", "BasicBlock", "Bottleneck", "LeNet5", "ResNet", "alexnet", "lenet5",
           "resnet18", "resnet34", "resnet50"]

"""End to end: LeNet-5, AlexNet, ResNet-18 and ResNet-50 inference and training steps
(inference also on onnxruntime and fastconv.onnx where installed)."""
import pytest

from conftest import params, run_benchmark


@pytest.mark.parametrize("case, contender", params("model"))
def test_model(benchmark, case, contender):
    run_benchmark(benchmark, case, contender)

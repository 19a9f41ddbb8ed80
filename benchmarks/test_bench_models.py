"""End to end: LeNet-5, AlexNet and ResNet-18 inference and training steps."""
import pytest

from conftest import params, run_benchmark


@pytest.mark.parametrize("case, contender", params("model"))
def test_model(benchmark, case, contender):
    run_benchmark(benchmark, case, contender)

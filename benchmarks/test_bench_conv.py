"""Convolution, depthwise and transposed convolution: every shape and pass of the shape
set, for each conv algorithm fastconv serves."""
import pytest

from conftest import params, run_benchmark


@pytest.mark.parametrize("case, contender", params("conv2d", "depthwise", "conv_transpose2d"))
def test_conv(benchmark, case, contender):
    run_benchmark(benchmark, case, contender)

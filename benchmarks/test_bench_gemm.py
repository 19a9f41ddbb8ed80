"""SGEMM: 1024^3 and the im2col GEMMs of the ResNet layers."""
import pytest

from conftest import params, run_benchmark


@pytest.mark.parametrize("case, contender", params("gemm"))
def test_gemm(benchmark, case, contender):
    run_benchmark(benchmark, case, contender)

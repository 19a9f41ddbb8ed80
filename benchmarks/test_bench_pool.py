"""Max, average and global average pooling, forward and backward."""
import pytest

from conftest import params, run_benchmark


@pytest.mark.parametrize("case, contender", params("pool"))
def test_pool(benchmark, case, contender):
    run_benchmark(benchmark, case, contender)

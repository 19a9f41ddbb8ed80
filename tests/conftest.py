import numpy as np
import pytest

import fastconv


def pytest_report_header(config):
    i = fastconv.info(measure=False)
    return f"fastconv {i['version']}: isa={i['isa']} threads={i['threads']} openmp={i['openmp']}"


@pytest.fixture(params=fastconv.available_isas())
def isa(request):
    """Runs the test on every ISA path this CPU has (portable, avx2, avx512)."""
    before = fastconv.get_isa()
    fastconv.set_isa(request.param)
    yield request.param
    fastconv.set_isa(before)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)

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


@pytest.fixture(autouse=True)
def _torch_one_thread():
    """PyTorch's OpenMP pool and fastconv's share two cores here: the cross-checks
    compare values, not speed, so torch runs on one thread and never competes."""
    try:
        import torch
    except ImportError:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

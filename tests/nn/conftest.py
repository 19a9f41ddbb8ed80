import pytest


@pytest.fixture(autouse=True)
def _torch_one_thread():
    """PyTorch's OpenMP pool and fastconv's contend on a small shared machine (a 2-thread
    torch call after a fastconv call can take 100x longer): the cross-checks compare
    values, not speed, so torch runs on one thread here."""
    try:
        import torch
    except ImportError:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

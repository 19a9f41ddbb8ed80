import pytest

import fastconv


@pytest.fixture(params=[1, 2, 3])
def threads(request):
    """fastconv's thread count for the test (1, 2, 3), restored after it."""
    before = fastconv.get_num_threads()
    fastconv.set_num_threads(request.param)
    yield request.param
    fastconv.set_num_threads(before)

"""The array cache: result arrays of 1 MiB or more reuse the memory of freed ones."""
import threading

import numpy as np
import pytest

import fastconv as fc
from fastconv import _C

MIB = 1 << 20


@pytest.fixture(autouse=True)
def fresh_cache():
    limit = fc.get_array_cache_limit()
    fc.release_workspace()
    yield
    fc.set_array_cache_limit(limit)
    fc.release_workspace()


def stats():
    nbytes, blocks, fresh, hits = _C.array_cache_stats()
    return {"bytes": nbytes, "blocks": blocks, "fresh": fresh, "hits": hits}


def test_a_freed_block_is_reused_for_the_same_size():
    a = _C.cached_empty((256, 1024), np.float32)
    ptr = a.ctypes.data
    assert ptr % 64 == 0 and a.flags.c_contiguous and a.flags.writeable
    del a
    assert fc.array_cache_bytes() == MIB
    before = stats()
    b = _C.cached_empty((1024, 256), np.float32)
    assert b.ctypes.data == ptr
    assert stats()["hits"] == before["hits"] + 1 and fc.array_cache_bytes() == 0


def test_zeros_are_zero_in_a_reused_block():
    a = _C.cached_empty((MIB // 4,), np.float32)
    a[:] = 7.0
    del a
    b = _C.cached_empty((MIB // 4,), np.float32, True)
    assert stats()["hits"] >= 1 and not b.any()


def test_reuse_only_up_to_an_eighth_larger():
    a = _C.cached_empty((2 * MIB,), np.uint8)
    ptr = a.ctypes.data
    del a
    small = _C.cached_empty((MIB,), np.uint8)        # half the size: not this block
    assert small.ctypes.data != ptr
    near = _C.cached_empty((2 * MIB - MIB // 8,), np.uint8)
    assert near.ctypes.data == ptr


def test_tracemalloc_sees_the_arrays_in_use():
    import tracemalloc
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        a = _C.cached_empty((MIB,), np.float32)
        held = tracemalloc.get_traced_memory()[0] - base
        del a
        after = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert held >= 4 * MIB and after < MIB


def test_small_arrays_are_plain_numpy():
    before = stats()
    a = _C.cached_empty((100,), np.float32)
    assert a.flags.owndata and stats() == before


def test_a_view_keeps_the_block():
    a = _C.cached_empty((MIB // 4,), np.float32)
    a[:] = np.arange(a.size, dtype=np.float32)
    v = a[10:20]
    del a
    assert fc.array_cache_bytes() == 0                 # still in use by the view
    b = _C.cached_empty((MIB // 4,), np.float32)
    b[:] = -1.0
    np.testing.assert_array_equal(v, np.arange(10, 20, dtype=np.float32))
    del v
    assert fc.array_cache_bytes() == MIB


def test_limit_bounds_what_is_kept():
    fc.set_array_cache_limit(3 * MIB)
    arrays = [_C.cached_empty((MIB,), np.uint8) for _ in range(5)]
    del arrays
    assert fc.array_cache_bytes() == 3 * MIB and stats()["blocks"] == 3
    fc.set_array_cache_limit(MIB)
    assert fc.array_cache_bytes() == MIB
    fc.set_array_cache_limit(0)
    assert fc.array_cache_bytes() == 0
    a = _C.cached_empty((4 * MIB,), np.uint8)
    assert a.flags.owndata                              # limit 0: plain numpy


def test_release_workspace_empties_it():
    a = _C.cached_empty((MIB,), np.uint8)
    del a
    assert fc.array_cache_bytes() == MIB
    fc.release_workspace()
    assert fc.array_cache_bytes() == 0


@pytest.mark.parametrize("bad", [-1, 2**64])
def test_limit_range(bad):
    with pytest.raises(ValueError, match="nbytes"):
        fc.set_array_cache_limit(bad)


@pytest.mark.parametrize("bad", [1.5, True, "1"])
def test_limit_type(bad):
    with pytest.raises(TypeError, match="nbytes"):
        fc.set_array_cache_limit(bad)


def test_a_training_loop_allocates_nothing_after_its_first_steps(rng):
    """The steady state of a training step takes every large array from the cache."""
    from fastconv import nn
    model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                          nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))
    x = rng.standard_normal((8, 3, 64, 64)).astype(np.float32)   # 2 MiB activations
    y = rng.integers(0, 10, 8)
    loss = nn.CrossEntropyLoss()
    opt = fc.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    def step():
        loss(model(x), y)
        model.zero_grad()
        model.backward(loss.backward(), input_grad=False)
        opt.step()
    step()
    step()
    before = stats()
    step()
    after = stats()
    assert after["hits"] > before["hits"]
    assert after["fresh"] == before["fresh"]


def test_threads_allocating_and_freeing_keep_their_data():
    errors = []

    def work(k):
        for i in range(50):
            a = _C.cached_empty((MIB // 4 + (i % 3) * 1024,), np.float32)
            a[:] = k
            if not (a == k).all():
                errors.append(k)
            del a
    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors

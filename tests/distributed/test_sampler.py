"""DistributedSampler against torch.utils.data.DistributedSampler's partition rules."""
import itertools

import pytest

from fastconv.distributed import DistributedSampler

CASES = list(itertools.product([0, 1, 5, 7, 8, 13, 100], [1, 2, 3, 4], [False, True]))


@pytest.mark.parametrize("n,replicas,drop_last", CASES)
def test_unshuffled_matches_torch(n, replicas, drop_last):
    tdata = pytest.importorskip("torch.utils.data")
    for rank in range(replicas):
        ours = DistributedSampler(n, replicas, rank, shuffle=False, drop_last=drop_last)
        theirs = tdata.DistributedSampler(range(n), replicas, rank, shuffle=False,
                                          drop_last=drop_last)
        assert list(ours) == list(theirs)
        assert len(ours) == len(theirs) == len(list(ours))


@pytest.mark.parametrize("n,replicas,drop_last", CASES)
def test_shuffled_shards_partition_one_permutation(n, replicas, drop_last):
    shards = [DistributedSampler(list(range(n)), replicas, r, seed=3, drop_last=drop_last)
              for r in range(replicas)]
    for s in shards:
        s.set_epoch(2)
    got = [list(s) for s in shards]
    assert len({len(g) for g in got}) == 1               # equal lengths: no rank waits
    flat = [i for g in got for i in g]
    assert all(0 <= i < n for i in flat)
    if drop_last or n % replicas == 0:
        assert len(set(flat)) == len(flat)               # disjoint
    if n % replicas == 0:
        assert sorted(flat) == list(range(n))            # and covering
    else:
        assert set(flat) == set(range(n)) or drop_last   # padding repeats, never misses


def test_epochs_reshuffle_alike_on_every_rank():
    a, b = DistributedSampler(50, 2, 0, seed=1), DistributedSampler(50, 2, 1, seed=1)
    first = list(a) + list(b)
    a.set_epoch(1)
    b.set_epoch(1)
    second = list(a) + list(b)
    assert sorted(first) == sorted(second) == list(range(50))
    assert first != second
    assert list(DistributedSampler(50, 2, 0, seed=2)) != first[:25]
    again = DistributedSampler(50, 2, 0, seed=1)
    again.set_epoch(1)
    assert list(again) == second[:25]


def test_defaults_without_a_group_are_a_world_of_one():
    s = DistributedSampler(range(6), shuffle=False)
    assert (s.num_replicas, s.rank, list(s)) == (1, 0, list(range(6)))


@pytest.mark.parametrize("kw", [dict(num_replicas=0), dict(rank=2, num_replicas=2),
                                dict(rank=-1), dict(seed=-1), dict(num_replicas=1.5)])
def test_bad_arguments(kw):
    with pytest.raises(ValueError, match=next(iter(kw))):
        DistributedSampler(10, **kw)


def test_bad_dataset_and_epoch():
    with pytest.raises(TypeError, match="dataset"):
        DistributedSampler(object())
    with pytest.raises(ValueError, match="length"):
        DistributedSampler(-1)
    with pytest.raises(ValueError, match="epoch"):
        DistributedSampler(10).set_epoch(-1)

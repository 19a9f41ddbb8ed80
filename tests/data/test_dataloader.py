"""fastconv.data.DataLoader: torch's batching, order and collation semantics, seeded
shuffles, samplers, and worker processes (in order, seeded, errors surfaced, safe after
fastconv's threads ran)."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastconv
from fastconv.data import ArrayDataset, DataLoader, default_collate, get_worker_info

needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork")


def _labels(loader):
    return [b[1].tolist() for b in loader]


def _dataset(n=23):
    x = np.arange(n * 6, dtype=np.float32).reshape(n, 2, 3)
    return ArrayDataset(x, np.arange(n, dtype=np.int64))


@pytest.mark.parametrize("batch_size, drop_last", [(1, False), (4, False), (4, True),
                                                   (23, False), (30, True), (7, True)])
def test_sequential_batches_match_torch(batch_size, drop_last):
    torch = pytest.importorskip("torch")
    ds = _dataset()
    ours = list(DataLoader(ds, batch_size=batch_size, drop_last=drop_last))
    tds = torch.utils.data.TensorDataset(*(torch.from_numpy(a) for a in ds.arrays))
    theirs = list(torch.utils.data.DataLoader(tds, batch_size=batch_size, drop_last=drop_last))
    assert len(ours) == len(theirs) == len(DataLoader(ds, batch_size=batch_size,
                                                      drop_last=drop_last))
    for (x, y), (tx, ty) in zip(ours, theirs):
        assert x.dtype == np.float32 and y.dtype == np.int64
        np.testing.assert_array_equal(x, tx.numpy())
        np.testing.assert_array_equal(y, ty.numpy())


def test_default_collate_matches_torch():
    torch = pytest.importorskip("torch")
    from torch.utils.data import default_collate as torch_collate

    rng = np.random.default_rng(0)
    samples = [{"image": rng.standard_normal((3, 2)).astype(np.float32), "label": i,
                "weight": 0.5 * i, "flag": i % 2 == 0, "name": f"s{i}",
                "pair": (np.int32(i), [float(i), 2.0])} for i in range(4)]
    ours = default_collate(samples)
    theirs = torch_collate(samples)
    assert set(ours) == set(theirs)
    for k in ("image", "label", "weight", "flag"):
        t = theirs[k].numpy()
        assert ours[k].dtype == t.dtype, k
        np.testing.assert_array_equal(ours[k], t)
    assert ours["name"] == theirs["name"]
    np.testing.assert_array_equal(ours["pair"][0], theirs["pair"][0].numpy())
    assert ours["pair"][0].dtype == np.int32
    for a, b in zip(ours["pair"][1], theirs["pair"][1]):
        np.testing.assert_array_equal(a, b.numpy())


def test_array_dataset_fast_path_equals_collated_samples():
    ds = _dataset()
    idx = [5, 0, 22, 7]
    fast = ds._batch(np.array(idx))
    slow = default_collate([ds[i] for i in idx])
    for a, b in zip(fast, slow):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


def test_shuffle_is_a_seeded_permutation_per_epoch():
    ds = _dataset()
    a = DataLoader(ds, batch_size=5, shuffle=True, seed=7)
    e0, e1 = sum(_labels(a), []), sum(_labels(a), [])
    assert sorted(e0) == sorted(e1) == list(range(23))
    assert e0 != e1 and e0 != list(range(23))                # a new order each epoch
    b = DataLoader(ds, batch_size=5, shuffle=True, seed=7)
    assert sum(_labels(b), []) == e0 and sum(_labels(b), []) == e1   # same seed: same orders
    b.set_epoch(1)
    assert sum(_labels(b), []) == e1                          # an epoch's order on demand
    c = DataLoader(ds, batch_size=5, shuffle=True, seed=8)
    assert sum(_labels(c), []) != e0


class Recording:
    """A sampler that yields a fixed order and records set_epoch calls."""

    def __init__(self, order):
        self.order, self.epochs = order, []

    def set_epoch(self, epoch):
        self.epochs.append(epoch)

    def __iter__(self):
        return iter(self.order)

    def __len__(self):
        return len(self.order)


def test_sampler_orders_and_hears_the_epoch():
    ds = _dataset()
    s = Recording([3, 1, 4, 1, 5, 9, 2, 6])
    loader = DataLoader(ds, batch_size=3, sampler=s)
    assert len(loader) == 3
    assert _labels(loader) == [[3, 1, 4], [1, 5, 9], [2, 6]]
    loader.set_epoch(5)
    list(loader)
    assert s.epochs == [0, 5]
    # a plain list or generator-producing iterable of indices is a sampler too
    assert _labels(DataLoader(ds, batch_size=2, sampler=[0, 2])) == [[0, 2]]
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(ds, sampler=[0], shuffle=True)


class Squares:
    """An indexable dataset of (array, int) samples, as a user would write one."""

    def __len__(self):
        return 10

    def __getitem__(self, i):
        if not 0 <= i < 10:
            raise IndexError(i)
        return np.full((2,), i * i, np.float32), i


def test_any_indexable_dataset_and_collate_fn():
    loader = DataLoader(Squares(), batch_size=4)
    x, y = next(iter(loader))
    np.testing.assert_array_equal(x, [[0, 0], [1, 1], [4, 4], [9, 9]])
    assert y.dtype == np.int64 and y.tolist() == [0, 1, 2, 3]
    sums = list(DataLoader(Squares(), batch_size=5, collate_fn=lambda b: sum(s[1] for s in b)))
    assert sums == [10, 35]
    single = list(DataLoader(Squares(), batch_size=None))
    assert len(single) == 10 and single[3][1] == 3 and single[3][0].shape == (2,)


def test_bad_arguments():
    ds = _dataset()
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(ds, batch_size=0)
    with pytest.raises(TypeError, match="batch_size"):
        DataLoader(ds, batch_size=2.5)
    with pytest.raises(ValueError, match="num_workers"):
        DataLoader(ds, num_workers=-1)
    with pytest.raises(TypeError, match="indexable"):
        DataLoader(object())
    with pytest.raises(TypeError, match="collate_fn"):
        DataLoader(ds, collate_fn=3)
    with pytest.raises(ValueError, match="multiprocessing_context"):
        DataLoader(ds, multiprocessing_context="teleport")
    with pytest.raises(ValueError, match="same length"):
        ArrayDataset(np.zeros(3), np.zeros(4))


class Tagged(Squares):
    """Samples record the worker that loaded them, its fastconv threads and a draw from
    NumPy's global generator."""

    def __getitem__(self, i):
        info = get_worker_info()
        return (np.float32(i), -1 if info is None else info.id, fastconv.get_num_threads(),
                np.random.randint(1 << 30))


@needs_fork
@pytest.mark.parametrize("workers", [1, 3])
def test_workers_give_the_same_batches_in_order(workers):
    ds = _dataset(41)
    want = _labels(DataLoader(ds, batch_size=4, shuffle=True, seed=3))
    got = _labels(DataLoader(ds, batch_size=4, shuffle=True, seed=3, num_workers=workers))
    assert got == want
    loader = DataLoader(Tagged(), batch_size=2, num_workers=workers, seed=1)
    batches = list(loader)
    assert [b[0].tolist() for b in batches] == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]
    ids = np.concatenate([b[1] for b in batches])
    assert set(ids.tolist()) == set(range(workers))
    assert set(np.concatenate([b[2] for b in batches]).tolist()) == {1}  # one thread each
    draws = np.concatenate([b[3] for b in batches])
    loader.set_epoch(0)
    again = np.concatenate([b[3] for b in loader])
    np.testing.assert_array_equal(draws, again)      # workers' generators are seeded
    assert get_worker_info() is None


class Failing(Squares):
    def __getitem__(self, i):
        if i == 6:
            raise KeyError("sample 6 is missing")
        return super().__getitem__(i)


@needs_fork
def test_worker_exception_is_raised_with_its_traceback():
    loader = DataLoader(Failing(), batch_size=2, num_workers=2)
    it = iter(loader)
    assert next(it)[1].tolist() == [0, 1]
    with pytest.raises(KeyError, match=r"(?s)DataLoader worker 1.*sample 6 is missing"):
        list(it)


class Dying(Squares):
    def __getitem__(self, i):
        if get_worker_info() is not None and i == 4:
            os._exit(3)
        return super().__getitem__(i)


@needs_fork
def test_dead_worker_is_an_error_not_a_hang():
    with pytest.raises(RuntimeError, match="exited unexpectedly with exit code 3"):
        list(DataLoader(Dying(), batch_size=2, num_workers=2))


@needs_fork
def test_worker_init_fn_errors_and_early_break():
    def bad_init(worker_id):
        raise ValueError("no init for you")

    with pytest.raises(ValueError, match="worker_init_fn"):
        list(DataLoader(Squares(), batch_size=2, num_workers=1, worker_init_fn=bad_init))
    it = iter(DataLoader(_dataset(400), batch_size=2, num_workers=2))
    next(it)
    workers = list(it._workers)
    it._shutdown()                                   # what abandoning the iterator does
    assert not any(p.is_alive() for p in workers)


def test_workers_after_multithreaded_calls_and_with_spawn(tmp_path):
    """In a fresh interpreter (with a deadline): fastconv's pool runs on two threads,
    then forked and spawned workers run fastconv ops and give the same batches."""
    code = textwrap.dedent("""
        import numpy as np, fastconv as fc
        from fastconv.data import ArrayDataset, DataLoader

        class Conv:
            def __init__(self, x, w): self.x, self.w = x, w
            def __len__(self): return len(self.x)
            def __getitem__(self, i): return fc.conv2d(self.x[i:i + 1], self.w, padding=1)[0]

        if __name__ == "__main__":
            fc.set_num_threads(2)
            rng = np.random.default_rng(0)
            x = rng.standard_normal((12, 4, 10, 10)).astype(np.float32)
            w = rng.standard_normal((4, 4, 3, 3)).astype(np.float32)
            want = fc.conv2d(x, w, padding=1)          # the OpenMP pool now exists
            ok = []
            for ctx in ("fork", "spawn"):
                got = np.concatenate(list(DataLoader(Conv(x, w), batch_size=5, num_workers=2,
                                                     multiprocessing_context=ctx)))
                ok.append(bool(np.allclose(got, want, rtol=1e-5, atol=1e-4)))
            print(ok, fc.get_num_threads())
    """)
    path = tmp_path / "script.py"            # spawn re-imports the main script by path
    path.write_text(code)
    try:
        r = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                           timeout=180)
    except subprocess.TimeoutExpired:
        pytest.fail("DataLoader workers hung after a multi-threaded fastconv call")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.split("\n")[0] == "[True, True] 2", r.stdout + r.stderr


def test_fastconv_data_is_imported_with_fastconv():
    r = subprocess.run([sys.executable, "-c", "import fastconv; print(fastconv.data.DataLoader."
                        "__name__, fastconv.train.fit.__name__)"],
                       capture_output=True, text=True, timeout=120)
    assert r.stdout.split() == ["DataLoader", "fit"], r.stderr

"""fastconv.data.DataLoader: batches of a map-style dataset, in the main process or in
worker processes, with torch.utils.data.DataLoader's semantics on NumPy arrays.

Workers are forked by default (where the platform has fork): fastconv's own fork
handling makes a child forked after a multi-threaded call run its fastconv calls on one
thread instead of waiting forever for OpenMP threads that did not survive the fork
(tests/runtime/test_fork.py), and one thread per worker is what a data worker should
have anyway (N workers next to the training process's pool must not oversubscribe the
cores; each worker sets fastconv's threads to 1, as torch's workers do for torch).
Forking is also what lets a dataset, sampler or collate function defined in a script
(a class in `__main__`, a lambda) and large in-memory arrays reach the workers without
pickling them or re-importing the script. `multiprocessing_context="spawn"` or
`"forkserver"` starts fresh interpreters instead: then the dataset and functions must
be picklable and a script must guard its entry point with `if __name__ == "__main__":`.
"""
import collections.abc
import math
import multiprocessing
import numbers
import queue
import random
import sys
import traceback

import numpy as np

from fastconv._datasets import ArrayDataset

__all__ = ["DataLoader", "default_collate", "get_worker_info", "WorkerInfo"]

WorkerInfo = collections.namedtuple("WorkerInfo", "id num_workers seed dataset")
_worker_info = None


def get_worker_info():
    """In a DataLoader worker process: WorkerInfo(id, num_workers, seed, dataset) (the
    dataset is the worker's copy). In the main process: None. As torch's."""
    return _worker_info


def default_collate(batch):
    """Stacks a list of samples into a batch, as torch's default_collate does with
    tensors: arrays (and anything with __array__) are stacked along a new first axis;
    NumPy scalars become an array of their dtype, Python ints int64, floats float64,
    bools bool; strings and bytes stay a list; dicts, tuples (named tuples too) and lists
    are collated field by field into the same kind of container."""
    if not isinstance(batch, collections.abc.Sequence) or len(batch) == 0:
        raise TypeError(f"default_collate: expected a non-empty list of samples, got {batch!r}")
    elem = batch[0]
    if isinstance(elem, np.ndarray):
        return np.stack(batch)
    if isinstance(elem, np.generic):
        return np.array(batch, dtype=elem.dtype)
    if isinstance(elem, bool):
        return np.array(batch, dtype=bool)
    if isinstance(elem, numbers.Integral):
        return np.array(batch, dtype=np.int64)
    if isinstance(elem, numbers.Real):
        return np.array(batch, dtype=np.float64)
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        return {k: default_collate([d[k] for d in batch]) for k in elem}
    if isinstance(elem, collections.abc.Sequence):
        n = len(elem)
        if any(len(s) != n for s in batch):
            raise ValueError("default_collate: every sample must have the same number of "
                             "fields")
        fields = [default_collate(list(f)) for f in zip(*batch)]
        if isinstance(elem, tuple):
            return type(elem)(*fields) if hasattr(elem, "_fields") else tuple(fields)
        return fields
    if hasattr(elem, "__array__"):             # e.g. CPU torch tensors
        return np.stack([np.asarray(s) for s in batch])
    raise TypeError(f"default_collate: cannot batch samples of type {type(elem).__name__}; "
                    f"pass collate_fn=")


def _fetch(dataset, indices, collate_fn, batched):
    if not batched:                             # batch_size=None: one sample at a time
        sample = dataset[indices]
        return sample if collate_fn is None else collate_fn(sample)
    if collate_fn is None and isinstance(dataset, ArrayDataset):
        return dataset._batch(np.asarray(indices, dtype=np.int64))
    if hasattr(dataset, "__getitems__"):
        samples = dataset.__getitems__(indices)
    else:
        samples = [dataset[i] for i in indices]
    return (collate_fn or default_collate)(samples)


def _int_arg(value, name, low):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"DataLoader: {name} must be an int, got {value!r}")
    if value < low:
        raise ValueError(f"DataLoader: {name} must be >= {low}, got {name}={value}")
    return int(value)


class DataLoader:
    """Iterates over `dataset` in batches, as torch.utils.data.DataLoader.

    dataset: anything with __len__ and __getitem__ (ArrayDataset(x, y) for arrays,
    ImageFolder, your own class). Each batch is collate_fn(list of samples), by default
    default_collate (for ArrayDataset, one fancy index per array instead).
    batch_size=None yields single samples.

    Order: `sampler` (any iterable of indices; not with shuffle=True) or, with
    shuffle=True, a permutation drawn from (seed, epoch), else 0..len-1. The epoch is
    `loader.epoch`: each `iter(loader)` uses it and then adds one, and
    `loader.set_epoch(e)` sets it (fastconv.train.fit does so before each epoch, so a
    resumed run sees the same orders). A sampler with a set_epoch method (a
    DistributedSampler) has it called with the epoch when each epoch starts. seed=None
    draws a seed from the OS once, when the loader is made.

    num_workers > 0 loads batches in that many worker processes, prefetch_factor
    batches ahead each; batches come back in sampler order whatever the worker count.
    Each worker seeds Python's and NumPy's global random generators with its own seed
    (from seed, epoch and worker id; see get_worker_info()), then calls
    worker_init_fn(worker_id). An exception in a worker is raised again in the main
    process with the worker's traceback; a worker that dies is a RuntimeError. See the
    module's docstring for the start method (multiprocessing_context).
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, num_workers=0,
                 sampler=None, seed=None, collate_fn=None, worker_init_fn=None,
                 multiprocessing_context=None, prefetch_factor=2, timeout=0):
        if not hasattr(dataset, "__getitem__"):
            raise TypeError(f"DataLoader: dataset must be indexable (__getitem__), got "
                            f"{type(dataset).__name__}")
        if sampler is None and not hasattr(dataset, "__len__"):
            raise TypeError(f"DataLoader: dataset must have __len__ (or pass sampler=), got "
                            f"{type(dataset).__name__}")
        if batch_size is not None:
            batch_size = _int_arg(batch_size, "batch_size", 1)
        elif drop_last:
            raise ValueError("DataLoader: drop_last=True needs a batch_size")
        if sampler is not None:
            if shuffle:
                raise ValueError("DataLoader: sampler and shuffle=True are mutually exclusive "
                                 "(the sampler decides the order)")
            if not hasattr(sampler, "__iter__"):
                raise TypeError(f"DataLoader: sampler must be an iterable of indices, got "
                                f"{type(sampler).__name__}")
        for name, fn in (("collate_fn", collate_fn), ("worker_init_fn", worker_init_fn)):
            if fn is not None and not callable(fn):
                raise TypeError(f"DataLoader: {name} must be callable, got {fn!r}")
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % 2**63)
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.num_workers = _int_arg(num_workers, "num_workers", 0)
        self.sampler = sampler
        self.seed = _int_arg(seed, "seed", 0)
        self.collate_fn = collate_fn
        self.worker_init_fn = worker_init_fn
        self.prefetch_factor = _int_arg(prefetch_factor, "prefetch_factor", 1)
        if not timeout >= 0:
            raise ValueError(f"DataLoader: timeout must be >= 0 seconds, got {timeout!r}")
        self.timeout = float(timeout)
        self.multiprocessing_context = self._context(multiprocessing_context)
        self.epoch = 0

    @staticmethod
    def _context(ctx):
        if ctx is None:
            methods = multiprocessing.get_all_start_methods()
            return multiprocessing.get_context("fork" if "fork" in methods else None)
        if isinstance(ctx, str):
            try:
                return multiprocessing.get_context(ctx)
            except ValueError:
                raise ValueError(f"DataLoader: multiprocessing_context must be one of "
                                 f"{multiprocessing.get_all_start_methods()}, got {ctx!r}") from None
        return ctx

    def set_epoch(self, epoch):
        """The epoch the next iteration uses for its shuffle order and the sampler."""
        self.epoch = _int_arg(epoch, "epoch", 0)

    def _indices(self, epoch):
        if self.sampler is not None:
            if hasattr(self.sampler, "set_epoch"):
                self.sampler.set_epoch(epoch)
            return [int(i) for i in self.sampler]
        n = len(self.dataset)
        if self.shuffle:
            return np.random.default_rng([self.seed, epoch]).permutation(n).tolist()
        return list(range(n))

    def _batches(self, indices):
        if self.batch_size is None:
            return indices
        b = self.batch_size
        stop = len(indices) - (len(indices) % b if self.drop_last else 0)
        return [indices[i:i + b] for i in range(0, stop, b)]

    def __len__(self):
        n = len(self.sampler) if self.sampler is not None else len(self.dataset)
        if self.batch_size is None:
            return n
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self):
        epoch = self.epoch
        self.epoch += 1
        batches = self._batches(self._indices(epoch))
        batched = self.batch_size is not None
        if self.num_workers == 0:
            return (_fetch(self.dataset, b, self.collate_fn, batched) for b in batches)
        return _WorkerIterator(self, batches, batched, epoch)


# -- worker processes -----------------------------------------------------------------

class _WorkerError:
    def __init__(self, worker_id, where):
        self.worker_id = worker_id
        self.exc_type = sys.exc_info()[0]
        self.text = f"in DataLoader worker {worker_id}, {where}:\n{traceback.format_exc()}"

    def reraise(self):
        try:
            err = self.exc_type(self.text)
        except Exception:                      # an exception type with another signature
            err = RuntimeError(self.text)
        raise err


def _worker_loop(dataset, collate_fn, batched, index_q, result_q, worker_id, num_workers,
                 seed, init_fn):
    global _worker_info
    try:
        from fastconv.runtime import set_num_threads
        set_num_threads(1)
        random.seed(seed)
        np.random.seed(seed % 2**32)
        _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
        if init_fn is not None:
            init_fn(worker_id)
    except Exception:
        result_q.put((None, _WorkerError(worker_id, "in worker_init_fn")))
        return
    try:
        while True:
            job = index_q.get()
            if job is None:
                # shut down: results the main process abandoned need not drain first
                result_q.cancel_join_thread()
                return
            i, indices = job
            try:
                data = _fetch(dataset, indices, collate_fn, batched)
            except Exception:
                data = _WorkerError(worker_id, f"loading batch {i}")
            result_q.put((i, data))
    except KeyboardInterrupt:          # Ctrl-C reaches the whole process group
        return


class _WorkerIterator:
    """Batch i goes to worker i % num_workers; results are put back in order."""

    _POLL_S = 1.0

    def __init__(self, loader, batches, batched, epoch):
        ctx = loader.multiprocessing_context
        n = loader.num_workers
        self._timeout = loader.timeout
        self._jobs = iter(enumerate(batches))
        self._next = 0
        self._outstanding = 0
        self._done = {}
        self._result_q = ctx.Queue()
        self._index_qs = [ctx.Queue() for _ in range(n)]
        seeds = np.random.SeedSequence([loader.seed, epoch]).generate_state(n, np.uint64)
        self._workers = []
        for w in range(n):
            p = ctx.Process(target=_worker_loop, daemon=True,
                            args=(loader.dataset, loader.collate_fn, batched,
                                  self._index_qs[w], self._result_q, w, n, int(seeds[w]),
                                  loader.worker_init_fn))
            p.start()
            self._workers.append(p)
        for _ in range(n * loader.prefetch_factor):
            self._send()

    def _send(self):
        job = next(self._jobs, None)
        if job is not None:
            self._index_qs[job[0] % len(self._workers)].put(job)
            self._outstanding += 1

    def __iter__(self):
        return self

    def __next__(self):
        if self._workers is None:
            raise StopIteration
        while self._next not in self._done:
            if self._outstanding == 0:
                self._shutdown()
                raise StopIteration
            i, data = self._receive()
            if i is None:                      # worker_init_fn failed
                self._shutdown()
                data.reraise()
            self._done[i] = data
            self._outstanding -= 1
        data = self._done.pop(self._next)
        self._next += 1
        self._send()
        if isinstance(data, _WorkerError):
            self._shutdown()
            data.reraise()
        return data

    def _receive(self):
        waited = 0.0
        while True:
            try:
                return self._result_q.get(timeout=self._POLL_S)
            except queue.Empty:
                pass
            waited += self._POLL_S
            dead = [p for p in self._workers if not p.is_alive()]
            if dead:
                try:                           # what it sent before it ended comes first
                    return self._result_q.get(timeout=self._POLL_S)
                except queue.Empty:
                    pass
                p = dead[0]
                self._shutdown()
                raise RuntimeError(f"DataLoader worker (pid {p.pid}) exited unexpectedly "
                                   f"with exit code {p.exitcode}")
            if self._timeout and waited >= self._timeout:
                self._shutdown()
                raise RuntimeError(f"DataLoader timed out: no batch from the workers in "
                                   f"{self._timeout:g} s")

    def _shutdown(self):
        workers, self._workers = self._workers, None
        if workers is None:
            return
        for q in self._index_qs:
            q.cancel_join_thread()
            try:
                q.put(None)
            except (OSError, ValueError):
                pass
        for p in workers:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
                p.join()
        for q in self._index_qs + [self._result_q]:
            q.close()

    def __del__(self):
        try:
            self._shutdown()
        except Exception:
            pass

"""Data-parallel training across processes and machines, on torch.distributed (gloo).

    import fastconv.distributed as fd
    fd.init_process_group("gloo")                 # env:// under torchrun
    ddp = fd.DistributedDataParallel(model)       # rank 0's weights everywhere
    loss = loss_fn(ddp(x), y)
    ddp.zero_grad(); ddp.backward(loss_fn.backward()); opt.step()

Every process runs the whole model on its shard of the batch; backward averages the
gradients over the processes, so that each one steps with the gradient of the global
batch (BatchNorm statistics stay per process: see DistributedDataParallel).

torch is optional: importing fastconv does not import it, and nothing here imports it
before it is used (the sampler needs no torch at all).
"""
import os
import socket
import sys
import time
from typing import NamedTuple

import numpy as np

from fastconv import runtime
from fastconv.functional import _args
from fastconv.functional.norm import batch_norm2d
from fastconv.nn.layers import BatchNorm2d
from fastconv.nn.module import Module

__all__ = [
    "init_process_group", "destroy_process_group", "is_initialized", "get_rank",
    "get_world_size", "DistributedDataParallel", "DistributedSampler", "SyncBatchNorm",
]


def _dist():
    try:
        import torch
        import torch.distributed as dist
    except ImportError as e:
        raise ImportError("fastconv.distributed needs PyTorch (torch.distributed): "
                          "pip install 'fastconv[distributed]'") from e
    if not dist.is_available():
        raise ImportError("fastconv.distributed: this PyTorch build has no "
                          "torch.distributed; install one that has "
                          "(pip install 'fastconv[distributed]')")
    return torch, dist


# ------------------------------------------------------------------ process group

def init_process_group(backend="gloo", init_method=None, world_size=-1, rank=-1,
                       timeout=None, num_threads=None):
    """Joins the default process group (torch.distributed.init_process_group).

    Without init_method it reads MASTER_ADDR, MASTER_PORT, RANK and WORLD_SIZE from the
    environment, as torchrun sets them; "tcp://host:port" or "file:///path" with
    world_size and rank work without a launcher. timeout: seconds or a timedelta.

    Threads: unless fastconv.set_num_threads was called (or num_threads is given), each
    process then runs fastconv's kernels on cores / local_world_size threads (at least
    one), where local_world_size is LOCAL_WORLD_SIZE (torchrun) or else the number of
    processes of the group on this host, so that the processes of one machine share its
    cores instead of each taking all of them."""
    if backend != "gloo":
        raise ValueError(f"init_process_group: backend must be 'gloo' (fastconv's arrays "
                         f"live in CPU memory), got backend={backend!r}")
    if num_threads is not None and (isinstance(num_threads, bool)
                                    or not isinstance(num_threads, int) or num_threads < 1):
        raise ValueError(f"init_process_group: num_threads must be an int >= 1 or None, "
                         f"got num_threads={num_threads!r}")
    _, dist = _dist()
    kw = {}
    if timeout is not None:
        import datetime
        kw["timeout"] = (timeout if isinstance(timeout, datetime.timedelta)
                         else datetime.timedelta(seconds=float(timeout)))
    dist.init_process_group(backend, init_method=init_method, world_size=world_size,
                            rank=rank, **kw)
    if num_threads is not None:
        runtime.set_num_threads(num_threads)
    elif not runtime._threads_explicit:
        _share_cores(_local_world_size())


def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def _share_cores(local):
    # runtime._C directly: set_num_threads would mark the count as the user's choice
    runtime._C.set_num_threads(max(1, _cores() // max(1, local)))


def _local_world_size():
    """Processes of the group on this host: LOCAL_WORLD_SIZE when a launcher set it,
    else counted by gathering every rank's host name (one collective)."""
    env = os.environ.get("LOCAL_WORLD_SIZE")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    if not is_initialized():
        return 1
    _, dist = _dist()
    names = [None] * dist.get_world_size()
    dist.all_gather_object(names, socket.gethostname())
    return names.count(socket.gethostname())


def is_initialized():
    """Whether a default process group exists (without importing torch when it was never
    imported: then none can)."""
    dist = sys.modules.get("torch.distributed")
    return bool(dist is not None and dist.is_available() and dist.is_initialized())


def get_rank():
    """This process's rank; 0 when no process group is initialized, so single-process
    code (rank 0 writes the checkpoint) runs unchanged."""
    return sys.modules["torch.distributed"].get_rank() if is_initialized() else 0


def get_world_size():
    """Processes in the default group; 1 when none is initialized."""
    return sys.modules["torch.distributed"].get_world_size() if is_initialized() else 1


def destroy_process_group():
    """Leaves the default process group (a no-op when none is initialized)."""
    if is_initialized():
        sys.modules["torch.distributed"].destroy_process_group()


# ------------------------------------------------------------ data parallel module

class _Bucket:
    """Parameters whose gradients travel in one all-reduce: a flat float32 buffer that
    torch reads in place (torch.from_numpy shares its memory)."""

    def __init__(self, params, torch):
        self.params = params
        self.slots = []
        offset = 0
        for p in params:
            self.slots.append((p, offset, p.size))
            offset += p.size
        self.flat = np.empty(offset, np.float32)
        self.tensor = torch.from_numpy(self.flat)
        self.work = None

    def gather_grads(self):
        for p, o, n in self.slots:
            if p.grad is None:              # unused this step: contributes zeros
                self.flat[o:o + n] = 0.0
            else:
                np.copyto(self.flat[o:o + n], np.asarray(p.grad, np.float32).reshape(-1))

    def scatter_grads(self, as_view):
        for p, o, n in self.slots:
            v = self.flat[o:o + n].reshape(p.shape)
            g = p.grad
            if as_view:
                p.grad = v
            elif (isinstance(g, np.ndarray) and g.shape == v.shape and g.dtype == np.float32
                  and g.flags.writeable and not np.may_share_memory(g, self.flat)):
                np.copyto(g, v)
            else:
                p.grad = v.copy()


class DistributedDataParallel:
    """Wraps a fastconv.nn.Module for data-parallel training over the default process
    group (init_process_group first).

    At construction every process takes rank 0's parameters and buffers (one broadcast
    each). ddp(x) runs the model; ddp.backward(grad_out) runs model.backward(grad_out)
    and leaves in every Parameter.grad the mean over the processes of their gradients,
    so that with a loss averaged over each process's equal shard, every process steps
    with the gradient of the whole global batch. Returns the input gradient (this
    process's, not averaged).

    Gradients travel in buckets of about bucket_cap_mb MB (parameters in reverse order
    of model.parameters(), roughly the order backward finishes them), each one flat
    float32 buffer all-reduced in place. Overlap: during ddp(x) and ddp.backward the
    modules that own parameters are watched; once a module's backward has run as many
    times as its forward did, its parameters' gradients are complete, and a bucket whose
    gradients are all complete is all-reduced asynchronously (in bucket order, the same
    on every process) while the rest of the backward runs. Gradients of modules run by
    other means (the model called directly, a parent computing a child's gradient
    itself) are sent when the backward returns: correct, without overlap.

    gradient_as_bucket_view=True leaves each .grad a view of its bucket (saves a copy
    per step; the next backward overwrites it), as torch's option of that name.

    BatchNorm: each process normalizes with its own shard's statistics and keeps its own
    running_mean / running_var (they are broadcast from rank 0 only at construction);
    training equals one process running each shard as a separate batch and averaging
    the gradients (SyncBatchNorm normalizes over the global batch instead). Save the
    model from rank 0.

    After each backward, last_stats holds {"buckets", "overlapped" (buckets sent before
    the backward returned), "wait_s" (time spent waiting for all-reduces after it)}."""

    def __init__(self, model, bucket_cap_mb=25, gradient_as_bucket_view=False):
        if not isinstance(model, Module):
            raise TypeError(f"DistributedDataParallel: model must be a fastconv.nn.Module, "
                            f"got {type(model).__name__}")
        if (isinstance(bucket_cap_mb, bool) or not isinstance(bucket_cap_mb, (int, float))
                or not bucket_cap_mb > 0):
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be a number > 0, "
                             f"got bucket_cap_mb={bucket_cap_mb!r}")
        torch, dist = _dist()
        if not dist.is_initialized():
            raise RuntimeError("DistributedDataParallel: no process group; call "
                               "fastconv.distributed.init_process_group() first")
        self.module = model
        self.gradient_as_bucket_view = bool(gradient_as_bucket_view)
        self.last_stats = None
        self._dist = dist
        self._world = dist.get_world_size()
        self._uses = None

        params, seen = [], set()
        for p in model.parameters():
            if id(p) not in seen:
                seen.add(id(p))
                params.append(p)
        # The modules owning each parameter (several when one is shared).
        self._owners = {}
        for m in model.modules():
            if any(id(p) in seen for p in m._parameters.values() if p is not None):
                self._owners[id(m)] = m
        cap = max(1, int(bucket_cap_mb * 1024 * 1024) // 4)
        self._buckets, group, size = [], [], 0
        for p in reversed(params):
            if group and size + p.size > cap:
                self._buckets.append(_Bucket(group, torch))
                group, size = [], 0
            group.append(p)
            size += p.size
        if group:
            self._buckets.append(_Bucket(group, torch))
        self._bucket_of = {id(p): i for i, b in enumerate(self._buckets) for p in b.params}
        self._broadcast_state(torch)

    # -- construction: rank 0's state everywhere -----------------------------------
    def _broadcast_state(self, torch):
        if self._world == 1:
            return
        for b in self._buckets:
            for p, o, n in b.slots:
                b.flat[o:o + n] = p.data.reshape(-1)
            self._dist.broadcast(b.tensor, src=0)
            for p, o, n in b.slots:
                v = b.flat[o:o + n].reshape(p.shape)
                if p.data.flags.writeable:
                    np.copyto(p.data, v)        # optimizers holding p.data see it
                else:
                    p.data = v.copy()
        for m in self.module.modules():
            for name, value in m._buffer_items():
                a = np.array(value, copy=True, order="C")
                self._dist.broadcast(torch.from_numpy(a), src=0)
                setattr(m, name, a)

    # -- forward: count each parameter owner's uses ----------------------------------
    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, *args, **kwargs):
        uses = {}

        def counting(m, fwd):
            def forward(*a, **k):
                uses[id(m)] = uses.get(id(m), 0) + 1
                return fwd(*a, **k)
            return forward

        with _Patched(self._owners.values(), "forward", counting):
            out = self.module(*args, **kwargs)
        self._uses = uses if self.module.training else None
        return out

    # -- backward: all-reduce each bucket as soon as it is complete -------------------
    def backward(self, grad_out, *, input_grad=True):
        """The model's backward (input_grad as in Module.backward) with the gradients
        averaged across processes."""
        uses, self._uses = self._uses or {}, None
        buckets = self._buckets
        missing = [len(b.params) for b in buckets]   # gradients not yet complete
        owners_left = {}                              # parameter id -> owners to finish
        for m in self._owners.values():
            if uses.get(id(m), 0):
                for p in m._parameters.values():
                    if p is not None:
                        owners_left[id(p)] = owners_left.get(id(p), 0) + 1
        done = {}
        state = {"next": 0, "overlapped": 0}

        def launch_ready():
            while state["next"] < len(buckets) and missing[state["next"]] == 0:
                self._launch(buckets[state["next"]])
                state["next"] += 1
                state["overlapped"] += 1

        def watching(m, bwd):
            def backward(g):
                r = bwd(g)
                done[id(m)] = done.get(id(m), 0) + 1
                if done[id(m)] == uses.get(id(m), 0):
                    for p in m._parameters.values():
                        if p is None or id(p) not in owners_left:
                            continue
                        owners_left[id(p)] -= 1
                        if owners_left[id(p)] == 0:
                            missing[self._bucket_of[id(p)]] -= 1
                    launch_ready()
                return r
            return backward

        try:
            with _Patched([m for m in self._owners.values() if uses.get(id(m))],
                          "backward", watching):
                gx = self.module.backward(grad_out, input_grad=input_grad)
            overlapped = state["overlapped"]
            for b in buckets[state["next"]:]:
                self._launch(b)
            state["next"] = len(buckets)
        finally:
            t0 = time.perf_counter()
            for b in buckets[:state["next"]]:      # never leave a send in flight
                b.work.wait()
                b.work = None
            wait = time.perf_counter() - t0
        scale = np.float32(1.0 / self._world)
        for b in buckets:
            if self._world > 1:
                b.flat *= scale
            b.scatter_grads(self.gradient_as_bucket_view)
        self.last_stats = {"buckets": len(buckets), "overlapped": overlapped,
                           "wait_s": wait}
        return gx

    def _launch(self, bucket):
        bucket.gather_grads()
        bucket.work = self._dist.all_reduce(bucket.tensor, async_op=True)

    # -- passthrough ---------------------------------------------------------------
    def zero_grad(self):
        self.module.zero_grad()

    def parameters(self):
        return self.module.parameters()

    def named_parameters(self, prefix=""):
        return self.module.named_parameters(prefix)

    def state_dict(self):
        """The model's state dict (keys without torch's "module." prefix: it loads into
        the bare model)."""
        return self.module.state_dict()

    def load_state_dict(self, state, strict=True):
        return self.module.load_state_dict(state, strict=strict)

    def train(self, mode=True):
        self.module.train(mode)
        return self

    def eval(self):
        return self.train(False)

    @property
    def training(self):
        return self.module.training

    def __repr__(self):
        return (f"DistributedDataParallel(world_size={self._world}, "
                f"buckets={len(self._buckets)})(\n  {self.module!r}\n)")


class _Patched:
    """Shadows method `name` of each module by wrap(module, original) for the duration
    of a with block (an instance attribute; the class is left alone)."""

    def __init__(self, modules, name, wrap):
        self.modules, self.name, self.wrap = list(modules), name, wrap

    def __enter__(self):
        for m in self.modules:
            object.__setattr__(m, self.name, self.wrap(m, getattr(m, self.name)))

    def __exit__(self, *exc):
        for m in self.modules:
            m.__dict__.pop(self.name, None)


# ----------------------------------------------------------------------- sampler

class DistributedSampler:
    """This rank's indices of a dataset, as torch.utils.data.DistributedSampler: the
    indices (shuffled with seed + epoch when shuffle, the same on every rank) are padded
    by repeating the first ones to a multiple of num_replicas (or cut to one with
    drop_last), and rank r takes every num_replicas-th from position r. The ranks get
    disjoint shards of equal length. Call set_epoch(epoch) before each epoch to
    reshuffle. dataset: a length or anything with len(). num_replicas / rank default to
    the process group's (1 / 0 without one). Shuffling uses NumPy's generator: the
    order differs from torch's, the partition rules are the same."""

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        if isinstance(dataset, (int, np.integer)) and not isinstance(dataset, bool):
            n = int(dataset)
        elif hasattr(dataset, "__len__"):
            n = len(dataset)
        else:
            raise TypeError(f"DistributedSampler: dataset must be a length or have len(), "
                            f"got {type(dataset).__name__}")
        if n < 0:
            raise ValueError(f"DistributedSampler: the dataset length must be >= 0, got {n}")
        num_replicas = get_world_size() if num_replicas is None else num_replicas
        rank = get_rank() if rank is None else rank
        for name, v, lo in (("num_replicas", num_replicas, 1), ("rank", rank, 0),
                            ("seed", seed, 0)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
                raise ValueError(f"DistributedSampler: {name} must be an int >= {lo}, "
                                 f"got {name}={v!r}")
        if rank >= num_replicas:
            raise ValueError(f"DistributedSampler: rank must be in [0, {num_replicas - 1}], "
                             f"got rank={rank}")
        self.dataset_len = n
        self.num_replicas, self.rank = int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last = bool(shuffle), int(seed), bool(drop_last)
        self.epoch = 0
        R = self.num_replicas
        self.num_samples = (n - R) // R + 1 if drop_last and n % R else -(-n // R)
        self.num_samples = max(self.num_samples, 0)
        self.total_size = self.num_samples * R

    def set_epoch(self, epoch):
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise ValueError(f"DistributedSampler.set_epoch: epoch must be an int >= 0, "
                             f"got epoch={epoch!r}")
        self.epoch = int(epoch)

    def __iter__(self):
        n = self.dataset_len
        if self.shuffle:
            idx = np.random.default_rng(self.seed + self.epoch).permutation(n)
        else:
            idx = np.arange(n)
        if n and self.total_size > n:
            idx = np.resize(idx, self.total_size)    # repeats from the start
        idx = idx[:self.total_size]
        return iter(idx[self.rank:self.total_size:self.num_replicas].tolist())

    def __len__(self):
        return self.num_samples


# ------------------------------------------------------------------ SyncBatchNorm

class _SyncCache(NamedTuple):
    x: np.ndarray
    mean: np.ndarray
    invstd: np.ndarray
    count: float            # values per channel over all processes


class SyncBatchNorm(BatchNorm2d):
    """BatchNorm2d whose training statistics are the global batch's: the forward
    all-reduces each channel's count, sum and sum of squares (float64), the backward the
    sums of grad and grad * x_hat, so that the processes together compute exactly one
    BatchNorm2d over the global batch (running statistics included, alike on every
    rank). Two small all-reduces per layer and pass; the arithmetic around them is NumPy,
    not fastconv's fused kernels (the normalization itself is). Without a process group,
    or in eval mode, it is BatchNorm2d. convert_sync_batchnorm(model) swaps a model's
    BatchNorm2d layers for it (sharing their parameters and buffers)."""

    def forward(self, x):
        if not self.training or get_world_size() == 1:
            return super().forward(x)
        x = _args.as_float32(x, "x", "SyncBatchNorm")
        self._check(x)
        C = self.num_features
        stats = np.empty(2 * C + 1, np.float64)
        stats[:C] = x.sum(axis=(0, 2, 3), dtype=np.float64)
        stats[C:2 * C] = np.einsum("nchw,nchw->c", x, x, dtype=np.float64)
        stats[2 * C] = x.shape[0] * x.shape[2] * x.shape[3]
        _all_reduce(stats)
        m = stats[2 * C]
        if m <= 1:
            raise ValueError(f"SyncBatchNorm: training needs more than one value per channel "
                             f"over all processes, got {int(m)}")
        mean = stats[:C] / m
        var = np.maximum(stats[C:2 * C] / m - mean * mean, 0.0)
        invstd = (1.0 / np.sqrt(var + self.eps)).astype(np.float32)
        if self.track_running_stats:
            self.num_batches_tracked = self.num_batches_tracked + 1
            mom = (1.0 / float(self.num_batches_tracked) if self.momentum is None
                   else float(self.momentum))
            self.running_mean = ((1 - mom) * self.running_mean + mom * mean).astype(np.float32)
            self.running_var = ((1 - mom) * self.running_var
                                + mom * var * (m / (m - 1))).astype(np.float32)
        mean32 = mean.astype(np.float32)
        gamma = self.weight.data if self.affine else None
        beta = self.bias.data if self.affine else None
        if x.size == 0:
            y = x.copy()
        else:                        # the kernel, normalizing by the global statistics
            y = batch_norm2d(x, gamma, beta, mean32, var.astype(np.float32), training=False,
                             eps=self.eps).y
        self._keep(_SyncCache(x, mean32, invstd, m))
        return y

    def backward(self, grad_out):
        cache = self._take()
        if not isinstance(cache, _SyncCache):          # a world of one: BatchNorm2d's
            object.__setattr__(self, "_cache", cache)
            return super().backward(grad_out)
        x, mean, invstd, m = cache
        g = _args.as_float32(grad_out, "grad_out", "SyncBatchNorm")
        C = self.num_features
        shape = (1, C, 1, 1)
        xhat = (x - mean.reshape(shape)) * invstd.reshape(shape)
        local = np.empty(2 * C, np.float64)
        local[:C] = g.sum(axis=(0, 2, 3), dtype=np.float64)
        local[C:] = np.einsum("nchw,nchw->c", g, xhat, dtype=np.float64)
        sums = local.copy()
        _all_reduce(sums)
        gamma = self.weight.data if self.affine else np.ones(C, np.float32)
        mdy = (sums[:C] / m).astype(np.float32).reshape(shape)
        mdyx = (sums[C:] / m).astype(np.float32).reshape(shape)
        gx = (gamma * invstd).reshape(shape) * (g - mdy - xhat * mdyx)
        if self.affine:           # this shard's part; DistributedDataParallel averages
            self.weight.accumulate(local[C:].astype(np.float32), owned=True)
            self.bias.accumulate(local[:C].astype(np.float32), owned=True)
        return gx.astype(np.float32, copy=False)

    @classmethod
    def convert_sync_batchnorm(cls, module):
        """Replaces every BatchNorm2d of module (at any depth; module itself too) by a
        SyncBatchNorm holding the same Parameters and buffers; returns the module."""
        if type(module) is BatchNorm2d:
            new = cls(module.num_features, module.eps, module.momentum, module.affine,
                      module.track_running_stats)
            if module.affine:
                new.weight, new.bias = module.weight, module.bias
            for name, value in module._buffer_items():
                setattr(new, name, value)
            new.train(module.training)
            return new
        for name, child in list(module._modules.items()):
            setattr(module, name, cls.convert_sync_batchnorm(child))
        return module


def _all_reduce(a):
    """Sums a float64 array over the processes, in place."""
    torch, dist = _dist()
    dist.all_reduce(torch.from_numpy(a))

"""What the 2-process tests train, shared by the workers (run_worker.py) and the
single-process references in the tests: models, data and the training loop.

Every step draws a global batch; rank r of W trains on rows [r*n/W, (r+1)*n/W). Rank r
builds its model from seed INIT_SEED + r, so equality with rank 0's start proves the
broadcast at construction."""
import numpy as np

import fastconv as fc
from fastconv import nn

STEPS = 5
GLOBAL_BATCH = 16
INIT_SEED = 100
LR, MOMENTUM = 0.05, 0.9


def batches(shape, classes, seed=7):
    """The STEPS global batches (x, labels) every process draws alike."""
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((GLOBAL_BATCH,) + shape).astype(np.float32),
             rng.integers(0, classes, GLOBAL_BATCH)) for _ in range(STEPS)]


def shard(a, rank, world):
    n = len(a) // world
    return a[rank * n:(rank + 1) * n]


def lenet(seed):
    nn.init.manual_seed(seed)
    return fc.models.lenet5()


def bn_net(seed):
    """A small network with BatchNorm (two of them, one after a strided conv)."""
    nn.init.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.Conv2d(8, 12, 3, stride=2), nn.BatchNorm2d(12), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(12, 5))


def sync_bn_net(seed):
    from fastconv.distributed import SyncBatchNorm
    return SyncBatchNorm.convert_sync_batchnorm(bn_net(seed))


NATIVE = {"lenet": (lenet, (1, 32, 32), 10), "bn": (bn_net, (3, 12, 12), 5),
          "syncbn": (sync_bn_net, (3, 12, 12), 5)}


def train_native(model, steps_data, rank, world, ddp=None):
    """STEPS of SGD with momentum on this rank's shards; ddp wraps model or is None."""
    run = ddp if ddp is not None else model
    opt = fc.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    loss_fn = nn.CrossEntropyLoss()
    for x, y in steps_data:
        out = run(shard(x, rank, world))
        loss_fn(out, shard(y, rank, world))
        run.zero_grad()
        run.backward(loss_fn.backward())
        opt.step()
    return model


def torch_net(seed):
    """A torch model converted to fastconv's kernels (convs and pools swapped)."""
    import torch
    import fastconv.torch as fct
    torch.manual_seed(seed)
    tnn = torch.nn
    m = tnn.Sequential(tnn.Conv2d(1, 6, 5), tnn.ReLU(), tnn.MaxPool2d(2),
                       tnn.Conv2d(6, 16, 5, padding=1), tnn.ReLU(), tnn.AvgPool2d(2),
                       tnn.Conv2d(16, 24, 3), tnn.ReLU(), tnn.AdaptiveAvgPool2d(1),
                       tnn.Flatten(), tnn.Linear(24, 10))
    return fct.convert(m)


def train_torch(model, steps_data, rank, world, run=None):
    import torch
    run = run if run is not None else model
    params = list(model.parameters())
    bufs = [None] * len(params)
    for x, y in steps_data:
        xs = torch.from_numpy(np.ascontiguousarray(shard(x, rank, world)))
        ys = torch.from_numpy(shard(y, rank, world).astype(np.int64))
        for p in params:
            p.grad = None
        torch.nn.functional.cross_entropy(run(xs), ys).backward()
        # torch.optim.SGD's update, written out: importing torch.optim loads
        # torch._dynamo, seconds per process
        with torch.no_grad():
            for i, p in enumerate(params):
                bufs[i] = p.grad.clone() if bufs[i] is None else bufs[i].mul_(MOMENTUM).add_(p.grad)
                p.sub_(LR * bufs[i])
    return model

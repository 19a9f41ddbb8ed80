"""Two processes on loopback, each with half of every global batch: after the steps of
scenarios.py the weights equal one process training on the whole global batch (for
BatchNorm networks: on each half as its own batch, the gradients averaged, as the
statistics are per process)."""
import os

import numpy as np
import pytest

pytest.importorskip("torch.distributed")

import fastconv as fc  # noqa: E402
from . import scenarios as sc  # noqa: E402
from .launch import launch  # noqa: E402

WORLD = 2
RTOL, ATOL = 2e-4, 2e-5     # float32: the sums of the halves round differently


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    launch(out, WORLD)

    def read(name, rank):
        with np.load(os.path.join(out, f"{name}_rank{rank}.npz")) as z:
            return {k: z[k] for k in z.files}
    return read


def _close(got, want, what):
    assert set(want) <= set(got), what
    for k, v in want.items():
        np.testing.assert_allclose(got[k], np.asarray(v), rtol=RTOL, atol=ATOL,
                                   err_msg=f"{what}: {k}")


def test_lenet_equals_one_process_on_the_global_batch(results):
    ref = sc.train_native(sc.lenet(sc.INIT_SEED), sc.batches((1, 32, 32), 10), 0, 1)
    for rank in range(WORLD):
        _close(results("lenet", rank), ref.state_dict(), f"lenet rank {rank}")


def test_buckets_were_sent_during_the_backward(results):
    r = results("lenet", 0)
    assert r["__buckets"] > 1 and r["__overlapped"] >= 1


def test_batchnorm_net_equals_per_shard_batches_averaged(results):
    """Reference: one model per shard, in one process, the same weights; each step
    averages their gradients and applies it to both. Each rank's running statistics are
    its own shard's."""
    data = sc.batches((3, 12, 12), 5)
    models = [sc.bn_net(sc.INIT_SEED) for _ in range(WORLD)]
    opts = [fc.optim.SGD(m.parameters(), lr=sc.LR, momentum=sc.MOMENTUM) for m in models]
    losses = [fc.nn.CrossEntropyLoss() for _ in range(WORLD)]
    for x, y in data:
        for r, (m, loss) in enumerate(zip(models, losses)):
            loss(m(sc.shard(x, r, WORLD)), sc.shard(y, r, WORLD))
            m.zero_grad()
            m.backward(loss.backward())
        for ps in zip(*(m.parameters() for m in models)):
            mean = sum(p.grad.astype(np.float64) for p in ps) / WORLD
            for p in ps:
                p.grad = mean.astype(np.float32)
        for o in opts:
            o.step()
    for rank in range(WORLD):
        got = results("bn", rank)
        _close(got, models[rank].state_dict(), f"bn rank {rank}")
    # the shards differ, so do the statistics: nothing synchronised them
    a, b = results("bn", 0), results("bn", 1)
    assert not np.allclose(a["1.running_mean"], b["1.running_mean"])


def test_sync_batchnorm_net_equals_one_process_on_the_global_batch(results):
    """SyncBatchNorm: one batch norm over the global batch, running statistics included
    (the reference is plain BatchNorm2d in one process)."""
    ref = sc.train_native(sc.bn_net(sc.INIT_SEED), sc.batches((3, 12, 12), 5), 0, 1)
    for rank in range(WORLD):
        _close(results("syncbn", rank), ref.state_dict(), f"syncbn rank {rank}")


def test_torch_ddp_on_a_converted_model(results):
    import torch
    torch.set_num_threads(1)
    ref = sc.train_torch(sc.torch_net(sc.INIT_SEED), sc.batches((1, 28, 28), 10), 0, 1)
    want = {k: v.detach().numpy() for k, v in ref.state_dict().items()}
    for rank in range(WORLD):
        _close(results("torch", rank), want, f"torch rank {rank}")


def test_each_process_gets_its_share_of_the_cores(results):
    cores = len(os.sched_getaffinity(0))
    for rank in range(WORLD):
        assert int(results("info", rank)["threads"]) == max(1, cores // WORLD)

"""fastconv.distributed in one process (a world of one): the wrapper's contract, its
errors, threads, and torch staying optional. The 2-process equality tests are in
test_two_processes.py."""
import os
import subprocess
import sys

import numpy as np
import pytest

import fastconv as fc
import fastconv.distributed as fd
from fastconv import nn, runtime
from .launch import file_init_method


def test_importing_fastconv_does_not_import_torch():
    code = ("import sys, fastconv, fastconv.distributed as fd; "
            "assert 'torch' not in sys.modules; "
            "assert (fd.is_initialized(), fd.get_rank(), fd.get_world_size()) == (False, 0, 1); "
            "assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_torch_names_the_extra(monkeypatch):
    for name in ("torch", "torch.distributed"):
        monkeypatch.setitem(sys.modules, name, None)   # import torch -> ImportError
    with pytest.raises(ImportError, match=r"fastconv\[distributed\]"):
        fd.init_process_group("gloo")
    with pytest.raises(ImportError, match=r"fastconv\[distributed\]"):
        fd.DistributedDataParallel(fc.models.lenet5())


pytest.importorskip("torch.distributed")


@pytest.fixture
def group(tmp_path):
    fd.init_process_group("gloo", init_method=file_init_method(tmp_path),
                          world_size=1, rank=0)
    yield
    fd.destroy_process_group()


@pytest.fixture
def threads_restored():
    before, explicit = fc.get_num_threads(), runtime._threads_explicit
    yield
    runtime._C.set_num_threads(before)
    runtime._threads_explicit = explicit


def _net(seed=3):
    nn.init.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(2, 5, 3), nn.BatchNorm2d(5), nn.ReLU(), nn.Flatten(),
                         nn.Linear(5 * 4 * 4, 3))


def _grads(model):
    return [None if p.grad is None else p.grad.copy() for p in model.parameters()]


def test_group_queries(group):
    assert fd.is_initialized() and fd.get_rank() == 0 and fd.get_world_size() == 1


@pytest.mark.parametrize("cap", [25, 1e-6])
@pytest.mark.parametrize("as_view", [False, True])
def test_backward_gives_the_model_gradients(group, rng, cap, as_view):
    """World of one: the mean over processes is the process's own gradient, whatever the
    bucketing; two backward passes without zero_grad accumulate, as the model's do."""
    x = rng.standard_normal((4, 2, 6, 6)).astype(np.float32)
    g = rng.standard_normal((4, 3)).astype(np.float32)
    ref, model = _net(), _net()
    ddp = fd.DistributedDataParallel(model, bucket_cap_mb=cap, gradient_as_bucket_view=as_view)
    for _ in range(2):
        ref(x)
        ref.backward(g)
        ddp(x)
        gx = ddp.backward(g)
    for a, b in zip(_grads(ref), _grads(model)):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)
    assert gx.shape == x.shape
    n = ddp.last_stats["buckets"]
    assert n == (1 if cap == 25 else len(model.parameters()))
    assert ddp.last_stats["overlapped"] == n     # every bucket sent from inside backward


def test_model_run_directly_still_averages_without_overlap(group, rng):
    x = rng.standard_normal((3, 2, 6, 6)).astype(np.float32)
    model = _net()
    ddp = fd.DistributedDataParallel(model, bucket_cap_mb=1e-6)
    ref = _net()
    ref(x)
    ref.backward(np.ones((3, 3), np.float32))
    model(x)                                    # not through ddp: no uses recorded
    ddp.backward(np.ones((3, 3), np.float32))
    assert ddp.last_stats["overlapped"] == 0
    for a, b in zip(_grads(ref), _grads(model)):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)


def test_unused_parameter_gets_a_zero_gradient(group, rng):
    """A parameter no forward touched contributes zeros, so every process ends with the
    same gradients (a None on one rank and a value on another would diverge)."""
    class TwoHeads(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(4, 2), nn.Linear(4, 2)

        def forward(self, x):
            return self.a(x)

        def backward(self, g):
            return self.a.backward(g)

    model = TwoHeads()
    ddp = fd.DistributedDataParallel(model, bucket_cap_mb=1e-5)
    ddp(rng.standard_normal((3, 4)))
    ddp.backward(np.ones((3, 2), np.float32))
    assert np.array_equal(model.b.weight.grad, np.zeros((2, 4), np.float32))
    assert np.abs(model.a.weight.grad).sum() > 0


def test_passthrough(group):
    model = _net()
    ddp = fd.DistributedDataParallel(model)
    assert ddp.parameters() == model.parameters()
    assert list(ddp.state_dict()) == list(model.state_dict())
    ddp.eval()
    assert not model.training and not ddp.training
    ddp.train()
    ddp(np.ones((2, 2, 6, 6), np.float32))
    ddp.backward(np.ones((2, 3), np.float32))
    ddp.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    # the wrapper's watchers are gone: the model's own methods are back
    assert all("forward" not in m.__dict__ and "backward" not in m.__dict__
               for m in model.modules())


def test_bad_arguments(group):
    with pytest.raises(TypeError, match="model"):
        fd.DistributedDataParallel(object())
    for cap in (0, -1, "25", True):
        with pytest.raises(ValueError, match="bucket_cap_mb"):
            fd.DistributedDataParallel(_net(), bucket_cap_mb=cap)


def test_no_group_is_an_error():
    assert not fd.is_initialized()
    with pytest.raises(RuntimeError, match="init_process_group"):
        fd.DistributedDataParallel(_net())
    with pytest.raises(ValueError, match="backend"):
        fd.init_process_group("nccl")
    with pytest.raises(ValueError, match="num_threads"):
        fd.init_process_group("gloo", num_threads=0)


def test_threads_are_the_local_share_of_the_cores(monkeypatch, threads_restored, tmp_path):
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    runtime._threads_explicit = False
    runtime._C.set_num_threads(7)
    fd.init_process_group("gloo", init_method=file_init_method(tmp_path),
                          world_size=1, rank=0)
    fd.destroy_process_group()
    assert fc.get_num_threads() == max(1, len(os.sched_getaffinity(0)) // 2)


def test_threads_set_by_the_user_are_kept(monkeypatch, threads_restored, tmp_path):
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    fc.set_num_threads(3)
    fd.init_process_group("gloo", init_method=file_init_method(tmp_path),
                          world_size=1, rank=0)
    fd.destroy_process_group()
    assert fc.get_num_threads() == 3
    fd.init_process_group("gloo", init_method=file_init_method(tmp_path),
                          world_size=1, rank=0, num_threads=5)
    fd.destroy_process_group()
    assert fc.get_num_threads() == 5


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape", [(4, 3, 5, 7), (1, 9, 2, 1), (2, 8, 1, 3)])
def test_sync_batchnorm_math_equals_batchnorm(group, monkeypatch, rng, affine, shape):
    """The synchronized path (forced on in a world of one, where the all-reduces are the
    identity) computes what BatchNorm2d computes: output, input and parameter gradients,
    running statistics."""
    monkeypatch.setattr(fd, "get_world_size", lambda: 2)
    C = shape[1]
    ref, sync = nn.BatchNorm2d(C, affine=affine), fd.SyncBatchNorm(C, affine=affine)
    if affine:
        for m in (ref, sync):
            m.weight.data[:] = np.linspace(0.5, 2, C)
            m.bias.data[:] = np.linspace(-1, 1, C)
    for _ in range(2):
        x = (3 * rng.standard_normal(shape) + 1).astype(np.float32)
        g = rng.standard_normal(shape).astype(np.float32)
        np.testing.assert_allclose(sync(x), ref(x), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(sync.backward(g), ref.backward(g), rtol=1e-4, atol=1e-4)
    for k, v in ref.state_dict().items():
        np.testing.assert_allclose(sync.state_dict()[k], v, rtol=1e-5, atol=1e-6, err_msg=k)
    if affine:
        np.testing.assert_allclose(sync.weight.grad, ref.weight.grad, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(sync.bias.grad, ref.bias.grad, rtol=1e-4, atol=1e-4)
    sync.eval()
    ref.eval()
    np.testing.assert_allclose(sync(x), ref(x), rtol=1e-5, atol=1e-6)


def test_convert_sync_batchnorm_shares_the_parameters():
    model = fc.models.resnet18(num_classes=10)
    params = model.parameters()
    bns = [m for m in model.modules() if type(m) is nn.BatchNorm2d]
    out = fd.SyncBatchNorm.convert_sync_batchnorm(model)
    assert out is model
    syncs = [m for m in model.modules() if isinstance(m, fd.SyncBatchNorm)]
    assert len(syncs) == len(bns) == 20
    assert all(a is b for a, b in zip(model.parameters(), params))
    assert [m.running_mean is b.running_mean for m, b in zip(syncs, bns)] == [True] * 20
    assert not any(type(m) is nn.BatchNorm2d for m in model.modules())

"""`torchrun --nproc_per_node 2 -m fastconv train MODEL --distributed`: two processes
train one model (gloo on loopback), rank 0 alone prints the epochs and writes the
checkpoint and the weights, and the run can be resumed."""
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("torch")


def _run(tmp_path, *extra):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           "--nproc_per_node", "2", "-m", "fastconv", "train", "lenet5", "--distributed",
           "--synthetic", "--samples", "64", "--batch-size", "16", "--checkpoint", "ck.npz",
           *extra]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=240)


def test_two_processes_train_and_resume(tmp_path):
    r = _run(tmp_path, "--epochs", "1", "--out", "w.npz", "--quiet")
    assert r.returncode == 0, r.stderr[-2000:]
    assert sorted(os.listdir(tmp_path)) == ["ck.npz", "w.npz"]
    w = np.load(tmp_path / "w.npz")
    assert all(np.isfinite(w[k]).all() for k in w.files)
    r = _run(tmp_path, "--epochs", "2", "--resume")
    assert r.returncode == 0, r.stderr[-2000:]
    epochs = [ln for ln in r.stdout.splitlines() if "epoch 2/2" in ln and "loss" in ln]
    assert len(epochs) == 1          # rank 0 prints; epoch 1 came from the checkpoint
    import fastconv
    assert fastconv.train.load_checkpoint(tmp_path / "ck.npz")["epoch"] == 2

"""The nested checkpoints fit writes (fastconv.save / fastconv.load, .npz + a JSON index,
fastconv/nn/checkpoint.py): nested structures round-trip exactly, nothing is unpickled,
other files are refused."""
import math
import os

import numpy as np
import pytest

from fastconv import load as load_checkpoint
from fastconv import save as save_checkpoint


def test_nested_round_trip(tmp_path):
    obj = {"model": {"conv1.weight": np.arange(6, dtype=np.float32).reshape(2, 3),
                     "bn.num_batches_tracked": np.array(3, np.int64)},
           "optimizer": {"state": {0: {"momentum_buffer": np.ones(4, np.float32), "step": 2}},
                         "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "params": [0, 1],
                                           "nesterov": False, "name": None}]},
           "epoch": 3, "best": float("nan"), "inf": -math.inf, "scalar": np.float32(1.5),
           "empty": {}, "list": []}
    path = tmp_path / "ck.npz"
    save_checkpoint(obj, path)
    assert os.listdir(tmp_path) == ["ck.npz"]
    back = load_checkpoint(path)
    assert back.keys() == obj.keys()
    w = back["model"]["conv1.weight"]
    assert w.dtype == np.float32 and w.tolist() == obj["model"]["conv1.weight"].tolist()
    assert back["model"]["bn.num_batches_tracked"].dtype == np.int64
    st = back["optimizer"]["state"]
    assert list(st) == [0] and st[0]["step"] == 2          # int keys stay ints
    np.testing.assert_array_equal(st[0]["momentum_buffer"], np.ones(4, np.float32))
    assert back["optimizer"]["param_groups"] == [{"lr": 0.1, "betas": (0.9, 0.999),
                                                  "params": [0, 1], "nesterov": False,
                                                  "name": None}]
    assert back["epoch"] == 3 and math.isnan(back["best"]) and back["inf"] == -math.inf
    assert back["scalar"] == 1.5                           # a NumPy scalar comes back a number
    assert back["empty"] == {} and back["list"] == []


def test_refuses_what_it_cannot_store(tmp_path):
    with pytest.raises(TypeError, match="is a set"):
        save_checkpoint({"a": {1, 2}}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="real numbers"):
        save_checkpoint({"a": np.array(["s"])}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="keys"):
        save_checkpoint({(1, 2): 0}, tmp_path / "x.npz")
    assert not os.listdir(tmp_path)


def test_other_files_are_refused_without_unpickling(tmp_path):
    pickled = tmp_path / "obj.npz"
    np.savez(pickled, __checkpoint__=np.array([{"x": 1}], dtype=object))
    with pytest.raises(ValueError, match="not a fastconv archive"):
        load_checkpoint(pickled)
    weights = tmp_path / "w.npz"
    np.savez(weights, w=np.zeros(3))
    from fastconv.train import load_checkpoint as fit_checkpoint
    assert set(load_checkpoint(weights)) == {"w"}      # plain weights load as a flat dict
    with pytest.raises(ValueError, match="not a training checkpoint"):
        fit_checkpoint(weights)                        # but are no training checkpoint
    for name, data in (("text.npz", b"hello"), ("empty.npz", b"")):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ValueError, match="not a fastconv archive"):
            load_checkpoint(tmp_path / name)
    np.save(tmp_path / "plain.npy", np.zeros(2))
    with pytest.raises(ValueError, match="not a fastconv archive"):
        load_checkpoint(tmp_path / "plain.npy")
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.npz")

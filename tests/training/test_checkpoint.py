"""fastconv.save / fastconv.load of nested training checkpoints: the round trip keeps
every value and type, the file is a pickle-free .npz, and training resumed from a
checkpoint is bit for bit the training that never stopped."""
import json
import math
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import fastconv
from fastconv import nn, optim
from fastconv.nn.checkpoint import CHECKPOINT_INDEX
from fastconv.optim import lr_scheduler


def _model(seed):
    nn.init.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 5, 3, padding=1), nn.BatchNorm2d(5), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(5 * 4 * 4, 7))


def _batches(n):
    rng = np.random.default_rng(7)
    return [(rng.standard_normal((6, 3, 8, 8)).astype(np.float32),
             rng.integers(0, 7, 6)) for _ in range(n)]


def _train(model, opt, sched, batches):
    loss_fn = nn.CrossEntropyLoss()
    for x, y in batches:
        opt.zero_grad()
        loss_fn(model(x), y)
        model.backward(loss_fn.backward())
        opt.step()
        if sched is not None:
            sched.step()


SETUPS = {
    "sgd_momentum": (lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True,
                                          weight_decay=1e-3),
                     lambda o: lr_scheduler.StepLR(o, 2, gamma=0.5)),
    "adam": (lambda ps: optim.Adam(ps, lr=1e-2, amsgrad=True),
             lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.02, total_steps=6)),
    "adamw": (lambda ps: optim.AdamW(ps, lr=1e-2, weight_decay=0.1),
              lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=4)),
    "rmsprop": (lambda ps: optim.RMSprop(ps, lr=1e-3, momentum=0.5, centered=True),
                lambda o: lr_scheduler.MultiStepLR(o, [1, 4])),
    "sgd_groups": (lambda ps: optim.SGD([{"params": ps[:2], "lr": 0.1},
                                         {"params": ps[2:]}], lr=0.02, momentum=0.8),
                   lambda o: lr_scheduler.OneCycleLR(o, max_lr=[0.2, 0.05], total_steps=6)),
}


@pytest.mark.parametrize("with_sched", [False, True])
@pytest.mark.parametrize("setup", sorted(SETUPS))
def test_resume_is_bitwise(setup, with_sched, tmp_path):
    make_opt, make_sched = SETUPS[setup]
    batches = _batches(6)
    model = _model(0)
    opt = make_opt(model.parameters())
    sched = make_sched(opt) if with_sched else None
    _train(model, opt, sched, batches[:3])
    ckpt = {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}
    if with_sched:
        ckpt["scheduler"] = sched.state_dict()
    path = tmp_path / "ckpt.npz"
    fastconv.save(ckpt, path)
    _train(model, opt, sched, batches[3:])

    fresh = _model(1)                     # other initial weights: all must come from the file
    opt2 = make_opt(fresh.parameters())
    sched2 = make_sched(opt2) if with_sched else None
    loaded = fastconv.load(path)
    assert loaded["epoch"] == 3
    fresh.load_state_dict(loaded["model"])
    opt2.load_state_dict(loaded["optimizer"])
    if with_sched:
        sched2.load_state_dict(loaded["scheduler"])
    _train(fresh, opt2, sched2, batches[3:])
    a, b = model.state_dict(), fresh.state_dict()
    assert list(a) == list(b)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    if with_sched:
        assert sched.get_last_lr() == sched2.get_last_lr()
    assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in opt2.param_groups]


def test_round_trip_keeps_values_and_types(tmp_path):
    obj = {
        "ints": {0: np.arange(6, dtype=np.int64).reshape(2, 3), 3: None},
        "scalars": [1, 2.5, -0.0, float("inf"), True, "text", "ünï", None],
        "nan": float("nan"),
        "tuple": (0.9, 0.999),
        "od": OrderedDict([("b", np.float32(1.5)), ("a", np.zeros((), np.int64))]),
        "empty": {}, "empty_list": [], "big": 2**62,
        "f16": np.ones((2, 2), np.float16), "flags": np.array([True, False]),
    }
    fastconv.save(obj, tmp_path / "c.npz")
    back = fastconv.load(tmp_path / "c.npz")
    assert set(back) == set(obj)
    assert list(back["ints"]) == [0, 3] and back["ints"][3] is None
    np.testing.assert_array_equal(back["ints"][0], obj["ints"][0])
    assert back["ints"][0].dtype == np.int64
    assert back["scalars"][:3] == [1, 2.5, -0.0] and math.copysign(1, back["scalars"][2]) < 0
    assert back["scalars"][3:] == [float("inf"), True, "text", "ünï", None]
    assert type(back["scalars"][0]) is int and type(back["scalars"][4]) is bool
    assert math.isnan(back["nan"])
    assert back["tuple"] == (0.9, 0.999) and isinstance(back["tuple"], tuple)
    assert isinstance(back["od"], OrderedDict) and list(back["od"]) == ["b", "a"]
    assert back["od"]["b"] == 1.5 and back["od"]["a"].shape == ()
    assert back["empty"] == {} and back["empty_list"] == [] and back["big"] == 2**62
    assert back["f16"].dtype == np.float16 and back["flags"].dtype == np.bool_


def test_file_is_plain_npz_without_pickle(tmp_path):
    path = tmp_path / "c.npz"
    fastconv.save({"w": {"x": np.ones(3, np.float32)}, "epoch": 2}, path)
    with np.load(path, allow_pickle=False) as z:      # NumPy reads it without pickle
        names = sorted(z.files)
        index = json.loads(z[CHECKPOINT_INDEX].tobytes().decode())
        np.testing.assert_array_equal(z["a0"], np.ones(3))
    assert names == sorted(["a0", CHECKPOINT_INDEX])
    assert index["tree"]["$dict"][1] == ["epoch", 2]


def test_model_and_flat_dicts_keep_the_old_format(tmp_path):
    model = _model(0)
    fastconv.save(model, tmp_path / "m.npz")
    fastconv.save(model.state_dict(), tmp_path / "sd.npz")
    for name in ("m.npz", "sd.npz"):
        with np.load(tmp_path / name, allow_pickle=False) as z:
            assert sorted(z.files) == sorted(model.state_dict())
        sd = fastconv.load(tmp_path / name)
        assert isinstance(sd, OrderedDict) and list(sd) == list(model.state_dict())
        fastconv.load(tmp_path / name, _model(3))


def test_save_errors_name_the_value(tmp_path):
    with pytest.raises(TypeError, match=r"obj\['opt'\]\['fn'\] is a function"):
        fastconv.save({"opt": {"fn": lambda: 0}}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match=r"obj\['a'\]\[1\] is an array of object"):
        fastconv.save({"a": [1, np.array([None])]}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="keys must be str or int"):
        fastconv.save({(1, 2): 3}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="complex"):
        fastconv.save({"c": np.ones(2, np.complex64)}, tmp_path / "x.npz")
    assert not (tmp_path / "x.npz").exists()


def test_load_refuses_bad_checkpoints(tmp_path):
    path = tmp_path / "c.npz"
    fastconv.save({"model": _model(0).state_dict(), "epoch": 1}, path)
    with pytest.raises(ValueError, match="holds a checkpoint"):
        fastconv.load(path, _model(0))

    def write(index, **arrays):
        with open(path, "wb") as f:
            np.savez(f, **{CHECKPOINT_INDEX: np.frombuffer(index, np.uint8)}, **arrays)
    for index, why in [(b"{not json", "JSONDecodeError"), (b'{"format": 99, "tree": 1}',
                                                           "format"),
                       (b'{"format": 1, "tree": {"$array": 5}}', "lacks"),
                       (b'{"format": 1, "tree": {"$code": "x"}}', "unexpected"),
                       (b'\xff\xfe', "UnicodeDecodeError")]:
        write(index)
        with pytest.raises(ValueError, match=why):
            fastconv.load(path)
    # a pickled member is refused before anything is unpickled
    with zipfile.ZipFile(path, "w") as z:
        with z.open("a0.npy", "w") as m:
            np.lib.format.write_array(m, np.array([{"x": 1}], dtype=object),
                                      allow_pickle=True)
    with pytest.raises(ValueError, match="object"):
        fastconv.load(path)

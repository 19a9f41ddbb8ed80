"""User-facing defects of issue 13, item 8:
(a) empty batches (N=0) through the layers and models, forward and backward;
(b) load_state_dict without BatchNorm's num_batches_tracked (old checkpoints);
(c) load_state_dict is all or nothing;
(d) fastconv.load on files that are not fastconv archives;
(e) sizes checked from shapes before any input is converted or copied."""
import io
import os
import pickle
import zipfile

import numpy as np
import pytest

import fastconv
from fastconv import models, nn

# ---------------------------------------------------------------------------------
# (a) empty batches


def _model_cases():
    return [
        ("lenet5", lambda: models.lenet5(), (1, 32, 32), 10),
        ("lenet5-relu", lambda: models.lenet5(activation="relu"), (1, 32, 32), 10),
        ("resnet18", lambda: models.resnet18(num_classes=7), (3, 32, 32), 7),
        ("resnet50", lambda: models.resnet50(num_classes=5), (3, 32, 32), 5),
        ("alexnet", lambda: models.alexnet(num_classes=6), (3, 227, 227), 6),
        ("alexnet-small", lambda: models.alexnet(num_classes=6), (3, 99, 99), 6),
    ]


@pytest.mark.parametrize("make, chw, classes", [c[1:] for c in _model_cases()],
                         ids=[c[0] for c in _model_cases()])
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_model_on_empty_batch(make, chw, classes, mode):
    m = make()
    getattr(m, mode)()
    state = m.state_dict()
    x = np.zeros((0,) + chw, np.float32)
    y = m(x)
    assert y.shape == (0, classes) and y.dtype == np.float32
    if mode == "eval":
        return
    gx = m.backward(np.zeros((0, classes), np.float32))
    assert gx.shape == x.shape
    for name, p in m.named_parameters():
        assert p.grad is not None and p.grad.shape == p.shape, name
        assert not p.grad.any(), name
    # running statistics unchanged; num_batches_tracked counts the batch, as torch's
    for k, v in m.state_dict().items():
        if k.endswith("num_batches_tracked"):
            assert v == state[k] + 1, k
        else:
            np.testing.assert_array_equal(v, state[k], err_msg=k)


@pytest.mark.parametrize("layer, x_shape, y_shape", [
    (lambda: nn.Conv2d(3, 4, 3, padding=1), (0, 3, 5, 5), (0, 4, 5, 5)),
    (lambda: nn.ConvTranspose2d(3, 4, 3, stride=2), (0, 3, 5, 5), (0, 4, 11, 11)),
    (lambda: nn.DepthwiseConv2d(3, 3), (0, 3, 5, 5), (0, 3, 3, 3)),
    (lambda: nn.MaxPool2d(2), (0, 3, 6, 6), (0, 3, 3, 3)),
    (lambda: nn.AvgPool2d(2), (0, 3, 6, 6), (0, 3, 3, 3)),
    (lambda: nn.AdaptiveAvgPool2d(1), (0, 3, 6, 6), (0, 3, 1, 1)),
    (lambda: nn.AdaptiveAvgPool2d((4, 5)), (0, 3, 6, 7), (0, 3, 4, 5)),
    (lambda: nn.Linear(5, 3), (0, 5), (0, 3)),
    (lambda: nn.BatchNorm2d(3), (0, 3, 4, 4), (0, 3, 4, 4)),
    (lambda: nn.BatchNorm2d(3, affine=False), (0, 3, 4, 4), (0, 3, 4, 4)),
    (lambda: nn.BatchNorm2d(3, track_running_stats=False), (0, 3, 4, 4), (0, 3, 4, 4)),
    (lambda: nn.ReLU(), (0, 3, 4, 4), (0, 3, 4, 4)),
    (lambda: nn.Flatten(), (0, 3, 4, 4), (0, 48)),
    (lambda: nn.Flatten(), (2, 0, 4), (2, 0)),
    (lambda: nn.Flatten(2), (0, 3, 4, 4), (0, 3, 16)),
    (lambda: nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(),
                           nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16, 2)),
     (0, 3, 6, 6), (0, 2)),
], ids=["conv", "tconv", "depthwise", "maxpool", "avgpool", "gap", "adaptive", "linear",
        "bn", "bn-no-affine", "bn-no-stats", "relu", "flatten", "flatten-empty-C",
        "flatten-2", "sequential"])
def test_layer_on_empty_batch(layer, x_shape, y_shape):
    m = layer().train()
    x = np.zeros(x_shape, np.float32)
    y = m(x)
    assert y.shape == y_shape and y.dtype == np.float32
    gx = m.backward(np.zeros(y_shape, np.float32))
    assert gx.shape == x_shape
    for name, p in m.named_parameters():
        assert p.grad is not None and not p.grad.any(), name
    m.eval()
    assert m(x).shape == y_shape


def test_batchnorm_empty_batch_matches_torch():
    torch = pytest.importorskip("torch")
    for momentum in (0.1, None):
        ours = nn.BatchNorm2d(3, momentum=momentum)
        ref = torch.nn.BatchNorm2d(3, momentum=momentum)
        x = np.random.default_rng(0).standard_normal((4, 3, 2, 2)).astype(np.float32)
        ours(x)
        ref(torch.from_numpy(x))
        e = np.zeros((0, 3, 2, 2), np.float32)
        assert ours(e).shape == tuple(ref(torch.from_numpy(e)).shape)
        ours(x)
        ref(torch.from_numpy(x))
        for k, v in ref.state_dict().items():
            np.testing.assert_allclose(ours.state_dict()[k], v.numpy(), rtol=1e-6,
                                       err_msg=k)


def test_batchnorm_one_value_per_channel_still_refused():
    with pytest.raises(ValueError, match="more than one value per channel"):
        nn.BatchNorm2d(3)(np.zeros((1, 3, 1, 1), np.float32))


def test_cross_entropy_on_empty_batch():
    loss = nn.CrossEntropyLoss()
    with np.errstate(all="ignore"):
        v = loss(np.zeros((0, 4), np.float32), np.zeros((0,), np.int64))
    assert np.isnan(v)                                  # torch: mean of nothing is nan
    assert loss.backward().shape == (0, 4)
    s = nn.CrossEntropyLoss(reduction="sum")
    assert s(np.zeros((0, 4), np.float32), np.zeros((0,), np.int64)) == 0.0
    assert s.backward().shape == (0, 4)
    mse = nn.MSELoss()
    assert np.isnan(mse(np.zeros((0, 3)), np.zeros((0, 3))))
    assert mse.backward().shape == (0, 3)


@pytest.mark.parametrize("op, args, out", [
    ("conv2d", ((0, 3, 5, 5), (4, 3, 3, 3)), (0, 4, 3, 3)),
    ("depthwise_conv2d", ((0, 3, 5, 5), (6, 1, 3, 3)), (0, 6, 3, 3)),
    ("conv_transpose2d", ((0, 3, 5, 5), (3, 2, 3, 3)), (0, 2, 7, 7)),
])
def test_functional_conv_on_empty_batch(op, args, out):
    x, w = (np.zeros(s, np.float32) for s in args)
    y = getattr(fastconv, op)(x, w)
    assert y.shape == out
    gx, gw, gb = getattr(fastconv, op + "_backward")(y, x, w)
    assert gx.shape == x.shape and gw.shape == w.shape and not gw.any() and not gb.any()


def test_functional_pools_and_matmul_on_empty_batch():
    x = np.zeros((0, 3, 6, 6), np.float32)
    for op in ("max_pool2d", "avg_pool2d"):
        y = getattr(fastconv, op)(x, 2)
        assert y.shape == (0, 3, 3, 3)
        assert getattr(fastconv, op + "_backward")(y, x, 2).shape == x.shape
    for op in ("global_avg_pool2d", "global_max_pool2d"):
        y = getattr(fastconv, op)(x)
        assert y.shape == (0, 3, 1, 1)
        assert getattr(fastconv, op + "_backward")(y, x).shape == x.shape
    assert fastconv.matmul(np.zeros((0, 5)), np.ones((5, 3))).shape == (0, 3)


# ---------------------------------------------------------------------------------
# (b) and (c) load_state_dict


def _trained_bn_model():
    m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                      nn.Linear(4 * 4 * 4, 2))
    x = np.random.default_rng(1).standard_normal((3, 3, 6, 6)).astype(np.float32)
    for _ in range(5):
        m(x)
    return m


def test_load_state_dict_without_num_batches_tracked():
    src = _trained_bn_model()
    dst = _trained_bn_model()
    dst.train()
    dst(np.ones((2, 3, 6, 6), np.float32))            # 6 batches tracked
    state = {k: v for k, v in src.state_dict().items()
             if not k.endswith("num_batches_tracked")}
    missing, unexpected = dst.load_state_dict(state)  # strict: as torch, accepted
    assert missing == [] and unexpected == []
    assert dst.state_dict()["1.num_batches_tracked"] == 6   # kept
    for k, v in state.items():
        np.testing.assert_array_equal(dst.state_dict()[k], v)


def test_load_state_dict_other_missing_keys_still_refused():
    m = _trained_bn_model()
    state = m.state_dict()
    del state["1.running_var"]
    with pytest.raises(KeyError, match="running_var"):
        m.load_state_dict(state)


def _corruptions(state):
    """(name, corrupted copy of state) for each way a load must fail."""
    def changed():
        return {k: (v + 1 if v.dtype.kind == "f" else v + 3) for k, v in state.items()}
    out = []
    s = changed()
    s["4.weight"] = np.zeros((3, 64), np.float32)            # the last key's shape
    out.append(("last shape", s))
    s = changed()
    s["1.running_mean"] = np.zeros((5,), np.float32)        # a buffer's shape
    out.append(("buffer shape", s))
    s = changed()
    s["4.bias"] = np.array(["a", "b"])                      # not numbers
    out.append(("strings", s))
    s = changed()
    s["4.bias"] = np.array([1 + 2j, 3j])                    # complex
    out.append(("complex", s))
    s = changed()
    s["1.num_batches_tracked"] = np.array(np.nan)           # not an integer
    out.append(("nan count", s))
    s = changed()
    s["1.num_batches_tracked"] = np.array(2.5)
    out.append(("fractional count", s))
    s = changed()
    s["4.bias"] = [object(), object()]                      # not array-like numbers
    out.append(("objects", s))
    return out


@pytest.mark.parametrize("strict", [True, False])
def test_failed_load_state_dict_changes_nothing(strict):
    m = _trained_bn_model()
    before = m.state_dict()
    for name, bad in _corruptions(before):
        with pytest.raises((ValueError, TypeError)):
            m.load_state_dict(bad, strict=strict)
        after = m.state_dict()
        for k, v in before.items():
            np.testing.assert_array_equal(after[k], v, err_msg=f"{name}: {k}")
            assert after[k].dtype == v.dtype


def test_load_state_dict_converts_dtypes():
    m = _trained_bn_model()
    state = {k: v.astype(np.float64) for k, v in m.state_dict().items()}
    state["1.num_batches_tracked"] = np.array(9.0)
    m.load_state_dict(state)
    sd = m.state_dict()
    assert sd["0.weight"].dtype == np.float32
    assert sd["1.num_batches_tracked"].dtype == np.int64 and sd["1.num_batches_tracked"] == 9


# ---------------------------------------------------------------------------------
# (d) fastconv.load on files that are not fastconv archives


class _Boom:
    """Unpickling this creates a marker directory: proof that load never unpickles."""

    marker = None

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def _not_archives(tmp_path):
    files = {}
    rng = np.random.default_rng(0)
    files["random bytes"] = rng.integers(0, 256, 4096, dtype=np.uint8).tobytes()
    files["text"] = b"this is not an archive\n"
    files["empty"] = b""
    files["zip magic only"] = b"PK\x03\x04"
    files["truncated zip"] = None
    files["npy"] = None
    files["foreign zip"] = None
    files["object npz"] = None
    files["pickle"] = None
    files["npz with a text member"] = None
    files["forged npy header"] = None
    paths = {}
    for name, data in files.items():
        p = tmp_path / (name.replace(" ", "_") + ".npz")
        if data is not None:
            p.write_bytes(data)
        paths[name] = p
    np.save(tmp_path / "plain.npy", np.ones(3))
    os.replace(tmp_path / "plain.npy", paths["npy"])
    with zipfile.ZipFile(paths["foreign zip"], "w") as z:
        z.writestr("readme.txt", "hello")
    _Boom.marker = str(tmp_path / "unpickled")
    obj = np.empty(1, dtype=object)
    obj[0] = _Boom()
    np.savez(paths["object npz"], a=obj)
    paths["pickle"].write_bytes(pickle.dumps(_Boom()))
    good = tmp_path / "good.npz"
    np.savez(good, w=np.ones(3, np.float32))
    paths["truncated zip"].write_bytes(good.read_bytes()[:-30])
    np.save(tmp_path / "w.npy", np.ones(3, np.float32))
    with zipfile.ZipFile(paths["npz with a text member"], "w") as z:
        z.write(tmp_path / "w.npy", "w.npy")
        z.writestr("notes.txt", "hi")
    header = io.BytesIO()         # claims 4 TiB of data and holds 16 bytes
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f4", "fortran_order": False, "shape": (2**40,)})
    with zipfile.ZipFile(paths["forged npy header"], "w") as z:
        z.writestr("w.npy", header.getvalue() + bytes(16))
    return paths


def test_load_refuses_files_that_are_not_archives(tmp_path):
    for name, path in _not_archives(tmp_path).items():
        with pytest.raises(ValueError, match="load: .*" + str(path.name)):
            fastconv.load(str(path))
        with pytest.raises(ValueError, match="not a fastconv archive"):
            fastconv.load(path, models.lenet5())
    assert not os.path.exists(_Boom.marker)             # nothing was unpickled


def test_load_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        fastconv.load(str(tmp_path / "missing.npz"))


def test_save_load_round_trip(tmp_path):
    m = _trained_bn_model()
    path = tmp_path / "m.npz"
    fastconv.nn.save(m, str(path))
    state = fastconv.load(str(path))
    assert list(state) == list(m.state_dict())
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(state[k], v)
        assert state[k].dtype == v.dtype
    m2 = _trained_bn_model()
    m2.train()
    m2(np.ones((2, 3, 6, 6), np.float32))
    assert fastconv.load(str(path), m2) is m2
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(m2.state_dict()[k], v)
    bare = tmp_path / "weights"                      # no suffix: written as named
    fastconv.nn.save(m, str(bare))
    assert sorted(os.listdir(tmp_path)).count("weights") == 1
    assert list(fastconv.load(str(bare))) == list(m.state_dict())
    empty = tmp_path / "empty.npz"
    fastconv.nn.save(nn.ReLU(), str(empty))          # no state: an empty archive
    assert fastconv.load(str(empty)) == {}


# ---------------------------------------------------------------------------------
# (e) sizes checked before any input is converted

# 2**46 elements: its float32 copy would need 256 TiB, more than any x86-64 process
# can map, so a copy made before the checks fails with NumPy's own MemoryError
# ("Unable to allocate ..."), and these tests see the wrong error instead of a hang.
HUGE = np.broadcast_to(np.float64(1), (1, 1, 2**24, 2**22))
HUGE2 = np.broadcast_to(np.float64(1), (2**23, 2**23))
W3 = np.ones((1, 1, 3, 3), np.float32)


@pytest.mark.parametrize("call, match", [
    (lambda: fastconv.conv2d(HUGE, W3, dilation=2**25), "exceeds the padded input"),
    (lambda: fastconv.conv2d(HUGE, np.ones((1, 2, 3, 3))), "input channels"),
    (lambda: fastconv.conv2d(HUGE, W3, bias=np.ones(2)), "bias of shape"),
    (lambda: fastconv.conv2d(HUGE, W3, algorithm="winograd", stride=2), "serves only"),
    (lambda: fastconv.conv2d_backward(HUGE, HUGE, W3), "expected grad_out"),
    (lambda: fastconv.conv2d(W3, HUGE), "exceeds the padded input"),
    (lambda: fastconv.depthwise_conv2d(HUGE, W3, dilation=2**25), "exceeds the padded"),
    (lambda: fastconv.depthwise_conv2d_backward(HUGE, HUGE, W3), "expected grad_out"),
    (lambda: fastconv.conv_transpose2d(HUGE, W3, padding=2**30), "too large"),
    (lambda: fastconv.conv_transpose2d_backward(HUGE, HUGE, W3), "expected grad_out"),
    (lambda: fastconv.max_pool2d(HUGE, 2**25), "exceeds the padded"),
    (lambda: fastconv.max_pool2d_backward(HUGE, HUGE, 2), "expected grad_out"),
    (lambda: fastconv.avg_pool2d(HUGE, 2**25), "exceeds the padded"),
    (lambda: fastconv.avg_pool2d_backward(HUGE, HUGE, 2), "expected grad_out"),
    (lambda: fastconv.global_max_pool2d_backward(HUGE, HUGE), "expected grad_out"),
    (lambda: fastconv.global_avg_pool2d_backward(HUGE, HUGE), "expected grad_out"),
    (lambda: fastconv.matmul(HUGE2, np.ones((3, 2))), "inner dimensions"),
    (lambda: fastconv.matmul(np.ones((2, 3)), HUGE2), "inner dimensions"),
    (lambda: fastconv.matmul(HUGE2.T, np.ones((3, 2))), "inner dimensions"),
], ids=["conv2d", "conv2d-channels", "conv2d-bias", "conv2d-winograd", "conv2d_backward",
        "conv2d-huge-weight", "depthwise", "depthwise_backward", "tconv", "tconv_backward",
        "maxpool", "maxpool_backward", "avgpool", "avgpool_backward", "gmp_backward",
        "gap_backward", "matmul-a", "matmul-b", "matmul-aT"])
def test_impossible_shapes_fail_before_any_copy(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("call, what", [
    (lambda: fastconv.conv2d(HUGE, np.ones((4, 1, 1, 1))), "output"),
    (lambda: fastconv.conv2d_backward(np.broadcast_to(np.float32(1), (1, 4) + HUGE.shape[2:]),
                                      HUGE, np.ones((4, 1, 1, 1))), "grad_x"),
    (lambda: fastconv.conv_transpose2d(HUGE, np.ones((1, 4, 1, 1))), "output"),
    (lambda: fastconv.depthwise_conv2d(HUGE, np.ones((4, 1, 1, 1))), "output"),
    (lambda: fastconv.max_pool2d(HUGE, 1), "output"),
    (lambda: fastconv.avg_pool2d(HUGE, 1), "output"),
    (lambda: fastconv.matmul(HUGE2, HUGE2), "output"),
])
def test_huge_outputs_are_memory_errors_naming_the_size(call, what):
    with pytest.raises(MemoryError, match=rf": the {what} of shape .* needs \d+ bytes"):
        call()


def test_huge_input_copy_is_memory_error_naming_the_argument():
    # legal arguments and a small output, but x itself cannot be converted
    with pytest.raises(MemoryError, match=r"global_avg_pool2d: converting x of shape "
                                          r"\(1, 1, 16777216, 4194304\) .* \d+ bytes"):
        fastconv.global_avg_pool2d(HUGE)


def test_conversion_still_happens_after_the_checks(rng):
    x = np.broadcast_to(rng.standard_normal((1, 2, 1, 5)), (3, 2, 6, 5))
    w = rng.standard_normal((4, 2, 3, 3))
    y = fastconv.conv2d(x, w, padding=1)
    np.testing.assert_allclose(
        y, fastconv.conv2d(np.ascontiguousarray(x, np.float32), w.astype(np.float32),
                           padding=1), rtol=0, atol=0)
    a = rng.standard_normal((6, 5))
    np.testing.assert_allclose(fastconv.matmul(a.T, a), (a.T @ a).astype(np.float32),
                               rtol=1e-5, atol=1e-5)

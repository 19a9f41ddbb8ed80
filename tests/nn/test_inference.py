"""fastconv.nn.inference: the fused, arena-planned plan against the unfused model in
eval mode and against the torch twins (float64), with non-trivial BatchNorm
statistics; what the rewrites leave; memory figures; weights snapshot."""
import importlib

import numpy as np
import pytest
from batchnorm_stats import randomize_fc_bn
from reference import rel_err
from torch_batchnorm import randomize_bn
from torch_twins_loader import load_torch_twins

import fastconv as fc
from fastconv import _C
from fastconv import models, nn

inf = importlib.import_module("fastconv.nn.inference")


CASES = [   # (name, builder, input shape without the batch, tolerance)
    ("lenet5", lambda: models.lenet5(), (1, 32, 32), 1e-5),
    ("alexnet", lambda: models.alexnet(num_classes=10), (3, 99, 99), 1e-4),
    ("resnet18", lambda: models.resnet18(num_classes=10), (3, 40, 40), 1e-4),
    ("resnet50", lambda: models.resnet50(num_classes=10), (3, 32, 32), 1e-4),
]


@pytest.fixture(scope="module")
def built():
    nn.init.manual_seed(0)
    out = {}
    for name, make, shape, tol in CASES:
        out[name] = randomize_fc_bn(make(), seed=len(name))
    return out


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("name,make,shape,tol", CASES, ids=[c[0] for c in CASES])
def test_plan_equals_eval_model(built, name, make, shape, tol, batch):
    model = built[name]
    x = np.random.default_rng(batch).standard_normal((batch,) + shape).astype(np.float32)
    plan = nn.inference(model)
    assert not model.training
    ref = model(x)
    y = plan(x)
    assert y.shape == ref.shape and y.dtype == np.float32
    assert rel_err(y, ref) <= tol
    y2 = plan(x)                      # the second call reuses the compiled program
    np.testing.assert_array_equal(y, y2)
    assert y is not y2


@pytest.mark.parametrize("name,make,shape,tol", CASES, ids=[c[0] for c in CASES])
def test_plan_equals_torch_twin(built, name, make, shape, tol):
    torch = pytest.importorskip("torch")
    tw = load_torch_twins()
    twin = {"lenet5": lambda: tw.LeNet5(), "alexnet": lambda: tw.AlexNet(num_classes=10),
            "resnet18": lambda: tw.resnet(18, 10), "resnet50": lambda: tw.resnet(50, 10)}[name]()
    randomize_bn(twin, 1)
    model = make()
    model.load_state_dict(twin.state_dict())
    twin = twin.double().eval()
    x = np.random.default_rng(3).standard_normal((2,) + shape).astype(np.float32)
    with torch.no_grad():
        ref = twin(torch.tensor(x, dtype=torch.float64)).numpy()
    assert rel_err(nn.inference(model)(x), ref) <= tol


def test_resnet_steps_are_fused(built):
    plan = nn.inference(built["resnet18"])
    ops = [s.op for s in plan.steps()]
    # conv1 maxpool, 8 blocks of 2 convs + 3 downsample convs, avgpool, flatten, fc
    assert ops.count("conv") == 1 + 16 + 3
    assert ops.count("affine") == ops.count("act") == ops.count("add") == 0
    convs = [s for s in plan.steps() if s.op == "conv"]
    assert sum(s.a["residual"] is not None for s in convs) == 8   # every block's join
    assert all(s.a["relu"] for s in convs if s.a["residual"] is not None)
    assert all(s.a["b"] is not None for s in convs)                # BN's shift


@pytest.mark.parametrize("name,blocks", [("resnet18", 8), ("resnet50", 16)])
def test_residuals_added_in_place(built, name, blocks):
    """Each block's join writes its output into the shortcut's buffer, the shortcut's
    last reader being that convolution; the plan still equals the model."""
    model = built[name]
    plan = nn.inference(model)
    x = np.random.default_rng(5).standard_normal((2, 3, 40, 40)).astype(np.float32)
    assert rel_err(plan(x), model(x)) <= 1e-4
    prog = plan._for(x.shape)
    assert len(prog.in_place) == blocks
    for o, r in prog.in_place.items():
        assert prog.env[o] is prog.env[r] or np.shares_memory(prog.env[o], prog.env[r])


@pytest.mark.parametrize("name,shape", [("resnet18", (3, 40, 40)), ("alexnet", (3, 99, 99)),
                                        ("resnet50", (3, 32, 32))])
def test_conv_and_max_pool_per_image(built, monkeypatch, name, shape):
    """A convolution whose only reader is a max pool runs with it one image at a time
    (forced here on small inputs): the same values, bit for bit, as the two steps over
    the batch, and the convolution's output for the whole batch never in the arena."""
    model = built[name]
    x = np.random.default_rng(9).standard_normal((3,) + shape).astype(np.float32)
    whole = nn.inference(model)
    want = whole(x)
    monkeypatch.setattr(inf, "POOL_PER_IMAGE_MIN_BYTES", 0)
    plan = nn.inference(model)
    got = plan(x)
    prog = plan._for(x.shape)
    ops = [s.op for s in prog.steps]
    pools = [s.op for s in whole._for(x.shape).steps].count("maxpool")
    assert ops.count("conv_pool") >= 1
    assert ops.count("conv_pool") + ops.count("maxpool") == pools
    assert len(plan.algorithms()) == len(whole.algorithms())
    np.testing.assert_array_equal(got, want)
    assert rel_err(got, model(x)) <= 1e-4
    assert plan.memory_bound_bytes(x.shape) <= whole.memory_bound_bytes(x.shape)


def test_bn_fold_is_exact_in_float64():
    """The folded convolution of conv -> BN equals the two in float64."""
    rng = np.random.default_rng(5)
    conv = nn.Conv2d(5, 7, 3, padding=1, bias=True)
    bn = randomize_fc_bn(nn.Sequential(conv, nn.BatchNorm2d(7)), 9)
    plan = nn.inference(bn)
    assert [s.op for s in plan.steps()] == ["conv"]
    x = rng.standard_normal((2, 5, 9, 11)).astype(np.float32)
    b = bn[1]
    w64, x64 = conv.weight.data.astype(np.float64), x.astype(np.float64)
    y = np.zeros((2, 7, 9, 11))
    xp = np.pad(x64, ((0, 0), (0, 0), (1, 1), (1, 1)))
    for r in range(3):
        for s in range(3):
            y += np.einsum("nchw,kc->nkhw", xp[:, :, r:r + 9, s:s + 11], w64[:, :, r, s])
    y += conv.bias.data[None, :, None, None]
    inv = 1 / np.sqrt(b.running_var.astype(np.float64) + b.eps)
    ref = ((y - b.running_mean[None, :, None, None]) * (b.weight.data * inv)[None, :, None, None]
           + b.bias.data[None, :, None, None])
    assert rel_err(plan(x), ref) <= 1e-5


def test_unfused_steps_and_unknown_modules():
    """BN after a non-conv, a ReLU whose input is read twice, Tanh, an unknown module and
    Concat run unfused and still agree."""
    class Double(nn.Module):
        def forward(self, x):
            return 2 * x

    model = randomize_fc_bn(nn.Sequential(
        nn.MaxPool2d(2), nn.BatchNorm2d(3), nn.Conv2d(3, 4, 3, padding=1), nn.Tanh(),
        nn.Concat(nn.Conv2d(4, 2, 1), nn.Sequential(nn.ReLU(), Double())),
        nn.Dropout(0.3), nn.Flatten(), nn.Linear(6 * 4 * 4, 5), nn.ReLU(), nn.Linear(5, 3)), 2)
    x = np.random.default_rng(0).standard_normal((3, 3, 8, 8)).astype(np.float32)
    plan = nn.inference(model)
    ops = [s.op for s in plan.steps()]
    assert "affine" in ops and "module" in ops and "concat" in ops
    assert rel_err(plan(x), model(x)) <= 1e-5


def test_depthwise_and_separable_layers():
    model = randomize_fc_bn(nn.Sequential(
        nn.SeparableConv2d(4, 6, 3, padding="same", depth_multiplier=2), nn.BatchNorm2d(6),
        nn.ReLU(), nn.DepthwiseConv2d(6, 3, stride=2, padding=1), nn.ReLU()), 3)
    x = np.random.default_rng(0).standard_normal((2, 4, 9, 7)).astype(np.float32)
    plan = nn.inference(model)
    assert [s.op for s in plan.steps()] == ["conv"] * 3
    assert rel_err(plan(x), model(x)) <= 1e-5
    assert plan.algorithms()[0] == "depthwise"


def test_winograd_layers_use_pretransformed_weights():
    model = nn.Sequential(nn.Conv2d(8, 16, 3, padding=1, algorithm="winograd_f23"), nn.ReLU(),
                          nn.Conv2d(16, 8, 3, padding=1, algorithm="winograd_f43"))
    x = np.random.default_rng(0).standard_normal((2, 8, 12, 10)).astype(np.float32)
    plan = nn.inference(model)
    y = plan(x)
    assert plan.algorithms() == ["winograd_f23", "winograd_f43"]
    assert rel_err(y, model(x)) <= 1e-4


def test_plan_is_a_snapshot_of_the_weights():
    model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.ReLU())
    x = np.ones((1, 2, 5, 5), np.float32)
    plan = nn.inference(model)
    before = plan(x)
    model[0].weight.data *= 2
    np.testing.assert_array_equal(plan(x), before)
    assert rel_err(nn.inference(model)(x), model(x)) <= 1e-6


def test_new_input_shape_compiles_a_new_program(built):
    plan = nn.inference(built["resnet18"])
    plan.MAX_PROGRAMS = 2
    model = built["resnet18"]
    for shape in [(1, 3, 32, 32), (2, 3, 48, 40), (1, 3, 32, 32), (1, 3, 36, 36),
                  (2, 3, 48, 40)]:
        x = np.random.default_rng(sum(shape)).standard_normal(shape).astype(np.float32)
        assert rel_err(plan(x), model(x)) <= 1e-4
        assert len(plan._programs) <= 2
    assert list(plan._programs) == [(1, 3, 36, 36), (2, 3, 48, 40)]


def test_memory_figures(built):
    plan = nn.inference(built["resnet18"])
    shape = (2, 3, 64, 64)
    bound, peak = plan.memory_bound_bytes(shape), plan.peak_bytes(shape)
    # The bound: conv1's input + output, or maxpool's input + output with ... at least
    # the largest activation (conv1's output) plus the input.
    conv1 = 2 * 64 * 32 * 32 * 4
    assert bound >= conv1 + 2 * 3 * 64 * 64 * 4
    assert bound <= peak
    # Issue 17's case: ResNet-18 batch 16, the convolutions' scratch memory included
    # (small inputs make the scratch a larger share: at 64x64 the stem's im2col columns).
    big = (16, 3, 224, 224)
    assert plan.peak_bytes(big) <= 1.25 * plan.memory_bound_bytes(big)
    # conv1 runs with its max pool one image at a time: its output for the batch (and
    # the pool's) is never held, so the bound is below those two alone
    assert plan.memory_bound_bytes(big) < 16 * 64 * (112 * 112 + 56 * 56) * 4
    with pytest.raises(ValueError, match="x_shape"):
        nn.inference(built["lenet5"]).peak_bytes()


def test_bad_arguments():
    with pytest.raises(TypeError, match="model"):
        nn.inference(lambda x: x)
    plan = nn.inference(models.lenet5())
    with pytest.raises(ValueError):
        plan(np.zeros((1, 1, 32), np.float32))
    with pytest.raises(ValueError, match="channels|C="):
        plan(np.zeros((1, 2, 32, 32), np.float32))


def test_plan_on_every_isa(isa):
    model = randomize_fc_bn(models.resnet18(num_classes=4), 4)
    x = np.random.default_rng(0).standard_normal((1, 3, 32, 32)).astype(np.float32)
    assert rel_err(nn.inference(model)(x), model(x)) <= 1e-4


def test_exported_from_fastconv_nn():
    assert fc.nn.inference is nn.inference
    assert "inference" in nn.__all__


@pytest.mark.parametrize("precision", ["high", "highest"])   # with and without Winograd
def test_epilogue_runs_in_the_conv_kernels(monkeypatch, built, precision):
    """The residual add and ReLU go to the convolution crossings (the kernels apply them
    to each output tile), not to separate passes."""
    inf = importlib.import_module("fastconv.nn.inference")   # the module, not the function
    calls = []

    class Spy:
        def __getattr__(self, name):
            real = getattr(_C, name)
            # where the residual and relu arguments sit
            at = 6 if name == "conv2d_blocked_forward" else 4 if name.endswith("_ex") else None
            if at is None:
                return real

            def call(*a):
                calls.append((name, a[at] is not None, a[at + 1]))   # residual given, relu
                return real(*a)
            return call
    monkeypatch.setattr(inf, "_C", Spy())
    old = fc.get_precision()
    fc.set_precision(precision)
    try:
        model = built["resnet18"]
        x = np.random.default_rng(7).standard_normal((1, 3, 32, 32)).astype(np.float32)
        y = nn.inference(model)(x)
    finally:
        fc.set_precision(old)
    assert ("conv2d_forward_ex", True, True) in calls or \
        ("conv2d_forward_prepacked_ex", True, True) in calls or \
        ("conv2d_winograd_forward_pretransformed_ex", True, True) in calls or \
        ("conv2d_blocked_forward", True, True) in calls
    assert any(relu and not res for _, res, relu in calls)
    assert rel_err(y, model(x)) <= 1e-4


def test_scratch_in_the_arena_and_other_thread_counts(built):
    """Each convolution's workspace is an arena buffer of its step; under another thread
    count than at compile time the library's cache serves and results do not change."""
    plan = nn.inference(built["resnet18"])
    x = np.random.default_rng(3).standard_normal((2, 3, 40, 40)).astype(np.float32)
    old = fc.get_num_threads()
    try:
        fc.set_num_threads(2)
        fc.release_workspace()
        y2 = plan(x)
        # the pools' small tables still come from the cache; no convolution's scratch does
        assert plan._last.scratch and fc.workspace_cache_bytes() < 64 << 10
        fc.set_num_threads(1)
        y1 = plan(x)
    finally:
        fc.set_num_threads(old)
    assert rel_err(y1, y2) <= 1e-5
    assert rel_err(y2, built["resnet18"](x)) <= 1e-4


def test_workspace_argument_is_checked():
    x = np.zeros((1, 2, 5, 5), np.float32)
    w = np.zeros((3, 2, 3, 3), np.float32)
    y = np.empty((1, 3, 3, 3), np.float32)
    with pytest.raises(TypeError, match="workspace"):
        _C.conv2d_forward_ex(x, w, None, None, None, False, y, (1, 1), (0, 0, 0, 0), (1, 1),
                             1, _C.ALGORITHMS["im2col"], [0.0] * 100)
    with pytest.raises(RuntimeError, match="workspace"):     # too small: refused, not overrun
        _C.conv2d_forward_ex(x, w, None, None, None, False, y, (1, 1), (0, 0, 0, 0), (1, 1),
                             1, _C.ALGORITHMS["im2col"], np.empty(1, np.float32))


def test_profile_names_and_times_every_step(built, monkeypatch):
    """plan.profile: one (name, seconds) per step of the program, reorders included, in
    order; a convolution named by its shape and the algorithm plan.algorithms() gives;
    the plan's results unchanged by it."""
    model = built["resnet18"]
    x = np.random.default_rng(3).standard_normal((1, 3, 40, 40)).astype(np.float32)
    plan = nn.inference(model)
    prof = plan.profile(x, repeat=2)
    names = [n for n, _ in prof]
    assert len(prof) == len(plan._for(x.shape).runs)
    assert all(isinstance(t, float) and t >= 0 for _, t in prof)
    convs = [n for n in names if n.startswith("conv ")]
    assert len(convs) == 20
    assert [n.split()[-1] for n in convs] == plan.algorithms()
    assert convs[0].startswith("conv 3->64 7x7/2 @40x40 ")
    assert "conv 64->128 1x1/2 @10x10 " in " ".join(convs) + " "
    if "nchw8c" in plan.algorithms():   # batch 1: the blocked region's two reorders
        assert names.count("to_nchw8c") == names.count("from_nchw8c") == 1
    assert names[-1] == "linear"
    assert rel_err(plan(x), model(x)) <= 1e-4
    # a first layer run image by image with its pool is one step
    monkeypatch.setattr(inf, "POOL_PER_IMAGE_MIN_BYTES", 0)
    x2 = np.concatenate([x, x])
    names2 = [n for n, _ in nn.inference(model).profile(x2, repeat=1)]
    assert names2[0].startswith("conv_pool 3->64 7x7/2 @40x40 ")
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="repeat"):
            plan.profile(x, repeat=bad)
    with pytest.raises(ValueError, match="stat"):
        plan.profile(x, repeat=2, stat="mean")
    with pytest.raises(ValueError):
        plan.profile(np.zeros((1, 3, 40), np.float32))


def test_profile_min_takes_each_steps_fastest_run(built, monkeypatch):
    """stat="min": each step's fastest of the repeats, "median" their median (a fake
    clock: every step of repeat r takes r + 1 seconds, repeats 0..2)."""
    plan = nn.inference(built["resnet18"])
    x = np.random.default_rng(4).standard_normal((1, 3, 40, 40)).astype(np.float32)
    plan(x)
    n = len(plan._for(x.shape).runs)
    got = {}
    for stat in ("min", "median"):
        calls = iter(range(10 ** 6))

        def clock():
            i = next(calls)
            return float(i) + (0.0 if i % 2 == 0 else (i // 2) // n)

        monkeypatch.setattr(inf.time, "perf_counter", clock)
        got[stat] = [t for _, t in plan.profile(x, repeat=3, stat=stat)]
    assert got["min"] == [1.0] * n
    assert got["median"] == [2.0] * n

"""The one registry of benchmark cases: each shape and pass mapped to a fastconv
callable and, where they exist, a PyTorch and a NumPy callable doing the same work.

A case builds its inputs lazily (`case.build()`), once, and the callables reuse them:
timing covers the op, not the allocation of its inputs. An op or algorithm fastconv
does not have (yet) raises NotServed from build(), and the case is skipped with that
reason, so ops merged later appear without a change here.
"""
import dataclasses
from typing import Callable, Dict, Optional

import numpy as np

import fastconv
from fastconv.bench import shapes as _shapes

CONV_ALGORITHMS = ("auto", "direct", "im2col", "winograd")
CONV_PASSES = ("fwd", "bwd_data", "bwd_weights")

# Shapes (or case names) in the --quick subset (small enough for about two minutes on two cores).
QUICK_SHAPES = {
    "lenet_c3", "alexnet_c5", "resnet_56_n1", "resnet_7_n1", "dw_14_n16", "tconv_2x2_n16",
    "maxpool_alexnet_n16", "avgpool_lenet_n64", "gap_resnet_n16", "gemm_1024",
    "gemm_resnet_56_n1", "model/lenet5/infer/n64", "model/lenet5/train/n64",
    "model/resnet18/infer/n1",
}


class NotServed(Exception):
    """fastconv (this build or branch) cannot run the case; the message says why."""


@dataclasses.dataclass
class Case:
    name: str        # unique: "conv2d/resnet_56_n1/fwd/direct"
    op: str          # table group: conv2d, depthwise, conv_transpose2d, pool, gemm, model
    shape: str       # name in the shape set
    pass_: str       # fwd, bwd_data, bwd_weights, bwd, infer, train
    algorithm: str   # conv algorithm, or "" where there is no choice
    unit: str        # "flop" (GFLOP/s), "byte" (GB/s) or "img" (images/s)
    work: float      # flops, bytes or images per call
    build: Callable[[], Dict[str, Optional[Callable[[], object]]]]
    quick: bool = False
    params: dict = dataclasses.field(default_factory=dict)

    def matches(self, filters):
        """True when any filter string is a substring of the name (no filters: all)."""
        return not filters or any(f in self.name for f in filters)


# ----------------------------------------------------------------- helpers

_torch_mod = None


def torch_or_none():
    """torch when installed (imported once), else None."""
    global _torch_mod
    if _torch_mod is None:
        try:
            import torch
            _torch_mod = torch
        except ImportError:
            _torch_mod = False
    return _torch_mod or None


def _rand(rng, shape):
    return rng.standard_normal(shape, dtype=np.float32)


def _fc_attr(name):
    fn = getattr(fastconv, name, None)
    if fn is None:
        raise NotServed(f"fastconv.{name} does not exist in this build")
    return fn


def _probe(fn, what, algorithm=None):
    """Runs fn once (the warm-up call) and turns "cannot serve" into NotServed: an
    UnsupportedError, or a ValueError about the algorithm asked for."""
    try:
        fn()
    except (fastconv.UnsupportedError, NotImplementedError) as e:
        raise NotServed(f"{what}: {e}") from None
    except ValueError as e:
        msg = str(e).lower()
        if algorithm and ("algorithm" in msg or algorithm.lower() in msg):
            raise NotServed(f"{what}: {e}") from None
        raise
    return fn


def _bytes(*shapes):
    return 4.0 * sum(float(np.prod(s)) for s in shapes)


# ------------------------------------------------------------ NumPy baselines

def _np_im2col(x, R, S, stride, pad):
    """cols[N][C*R*S][OH*OW] (a copy) of x padded by pad."""
    N, C, H, W = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x
    win = np.lib.stride_tricks.sliding_window_view(xp, (R, S), axis=(2, 3))
    win = win[:, :, ::stride, ::stride]                    # N, C, OH, OW, R, S
    OH, OW = win.shape[2], win.shape[3]
    return win.transpose(0, 1, 4, 5, 2, 3).reshape(N, C * R * S, OH * OW), OH, OW


def _np_col2im(cols, x_shape, R, S, stride, pad, OH, OW):
    """The adjoint of _np_im2col: scatter-adds cols back into an (N, C, H, W) array."""
    N, C, H, W = x_shape
    xp = np.zeros((N, C, H + 2 * pad, W + 2 * pad), np.float32)
    c6 = cols.reshape(N, C, R, S, OH, OW)
    for r in range(R):
        for s in range(S):
            xp[:, :, r:r + stride * OH:stride, s:s + stride * OW:stride] += c6[:, :, r, s]
    return xp[:, :, pad:pad + H, pad:pad + W]


def _np_conv_fwd(x, w, stride, pad, groups):
    N, C = x.shape[:2]
    K, Cg, R, S = w.shape
    cols, OH, OW = _np_im2col(x, R, S, stride, pad)
    cols = cols.reshape(N, groups, Cg * R * S, OH * OW)
    y = np.matmul(w.reshape(groups, K // groups, Cg * R * S), cols)
    return y.reshape(N, K, OH, OW)


def _np_conv_bwd_data(gy, w, x_shape, stride, pad, groups):
    N, K, OH, OW = gy.shape
    _, Cg, R, S = w.shape
    wt = w.reshape(groups, K // groups, Cg * R * S).transpose(0, 2, 1)
    cols = np.matmul(wt, gy.reshape(N, groups, K // groups, OH * OW))
    return _np_col2im(cols.reshape(N, groups * Cg * R * S, OH * OW), x_shape, R, S, stride,
                      pad, OH, OW)


def _np_conv_bwd_weights(gy, x, w_shape, stride, pad, groups):
    N, K, OH, OW = gy.shape
    _, Cg, R, S = w_shape
    cols, _, _ = _np_im2col(x, R, S, stride, pad)
    cols = cols.reshape(N, groups, Cg * R * S, OH * OW)
    g = gy.reshape(N, groups, K // groups, OH * OW)
    gw = np.matmul(g, cols.transpose(0, 1, 3, 2)).sum(axis=0)
    return gw.reshape(w_shape), gy.sum(axis=(0, 2, 3))


# --------------------------------------------------------------- convolution

def _fc_conv_pass(x, w, gy, stride, pad, groups, algorithm, pass_):
    """A callable running one conv pass through fastconv's validated crossing. The public
    conv2d_backward computes both gradients; timing each pass alone needs its own call."""
    from fastconv import _C
    from fastconv.functional import conv as fconv

    p = fconv.ConvParams("conv2d", x.shape, w.shape, stride, pad, 1, groups)
    algo = fconv._algorithm(algorithm, "conv2d", p)
    args = p.c_args()
    if pass_ == "fwd":
        y = np.empty(p.out_shape, np.float32)
        return lambda: _C.conv2d_forward(x, w, None, y, *args, algo)
    if pass_ == "bwd_data":
        gx = np.empty(x.shape, np.float32)
        return lambda: _C.conv2d_backward_data(gy, w, gx, *args, algo)
    gw = np.empty(w.shape, np.float32)
    gb = np.empty((w.shape[0],), np.float32)
    return lambda: _C.conv2d_backward_weights(gy, x, gw, gb, *args, algo)


def _torch_conv_pass(x, w, gy, stride, pad, groups, pass_, transposed=False, out_pad=0):
    torch = torch_or_none()
    if torch is None:
        return None
    tx, tw, tgy = (torch.from_numpy(a) for a in (x, w, gy))
    conv_bwd = torch.ops.aten.convolution_backward
    st, pd, dl, op = [stride] * 2, [pad] * 2, [1, 1], [out_pad] * 2
    bias_sizes = [w.shape[1] * groups if transposed else w.shape[0]]
    if pass_ == "fwd":
        f = torch.nn.functional.conv_transpose2d if transposed else torch.nn.functional.conv2d
        if transposed:
            return lambda: f(tx, tw, None, stride, pad, out_pad, groups)
        return lambda: f(tx, tw, None, stride, pad, 1, groups)
    mask = {"bwd_data": [True, False, False], "bwd_weights": [False, True, True],
            "bwd": [True, True, True]}[pass_]
    return lambda: conv_bwd(tgy, tx, tw, bias_sizes, st, pd, dl, transposed, op, groups, mask)


def _conv_case(s, pass_, algorithm, depthwise_unit):
    N, C, H, W, K, R, S = (s[k] for k in "NCHWKRS")
    stride, pad, groups = s["stride"], s["padding"], s["groups"]
    OH, OW = _shapes.conv_out(H, R, stride, pad), _shapes.conv_out(W, S, stride, pad)
    xs, ws, ys = (N, C, H, W), (K, C // groups, R, S), (N, K, OH, OW)
    flops = 2.0 * N * K * OH * OW * (C // groups) * R * S
    io = {"fwd": (xs, ws, ys), "bwd_data": (ys, ws, xs), "bwd_weights": (ys, xs, ws)}[pass_]
    unit, work = ("byte", _bytes(*io)) if depthwise_unit else ("flop", flops)

    def build():
        rng = np.random.default_rng(0)
        x, w, gy = _rand(rng, xs), _rand(rng, ws), _rand(rng, ys)
        what = f"conv2d algorithm={algorithm!r}"
        try:
            fc = _fc_conv_pass(x, w, gy, stride, pad, groups, algorithm, pass_)
        except fastconv.UnsupportedError as e:  # refused in validation, before any C
            raise NotServed(f"{what}: {e}") from None
        except ValueError as e:  # an algorithm name this build does not know
            if "algorithm" in str(e):
                raise NotServed(f"{what}: {e}") from None
            raise
        out = {"fastconv": _probe(fc, what, algorithm),
               "torch": _torch_conv_pass(x, w, gy, stride, pad, groups, pass_)}
        if pass_ == "fwd":
            out["numpy"] = lambda: _np_conv_fwd(x, w, stride, pad, groups)
        elif pass_ == "bwd_data":
            out["numpy"] = lambda: _np_conv_bwd_data(gy, w, xs, stride, pad, groups)
        else:
            out["numpy"] = lambda: _np_conv_bwd_weights(gy, x, ws, stride, pad, groups)
        return out

    return Case(f"conv2d/{s['name']}/{pass_}/{algorithm}", "conv2d", s["name"], pass_,
                algorithm, unit, work, build, params=dict(s))


def _depthwise_case(s, pass_):
    N, C, H, W, K, R, S = (s[k] for k in "NCHWKRS")
    stride, pad = s["stride"], s["padding"]
    OH, OW = _shapes.conv_out(H, R, stride, pad), _shapes.conv_out(W, S, stride, pad)
    xs, ws, ys = (N, C, H, W), (K, 1, R, S), (N, K, OH, OW)
    # fwd reads x, w and writes y; bwd reads grad_out, x, w and writes grad_x, grad_w.
    work = _bytes(xs, ws, ys) if pass_ == "fwd" else _bytes(ys, xs, ws, xs, ws)

    def build():
        rng = np.random.default_rng(0)
        x, w, gy = _rand(rng, xs), _rand(rng, ws), _rand(rng, ys)
        if pass_ == "fwd":
            f = _fc_attr("depthwise_conv2d")
            fc = lambda: f(x, w, None, stride, pad)  # noqa: E731
            npf = lambda: _np_conv_fwd(x, w, stride, pad, C)  # noqa: E731
        else:
            f = _fc_attr("depthwise_conv2d_backward")
            fc = lambda: f(gy, x, w, stride, pad)  # noqa: E731
            npf = None
        return {"fastconv": _probe(fc, f"depthwise_conv2d {pass_}"),
                "torch": _torch_conv_pass(x, w, gy, stride, pad, C, pass_), "numpy": npf}

    return Case(f"depthwise/{s['name']}/{pass_}", "depthwise", s["name"], pass_, "", "byte",
                work, build, params=dict(s))


def _tconv_case(s, pass_):
    # Transposed conv: input (N, C, H, W), weight (C, K/groups, R, S).
    N, C, H, W, K, R, S = (s[k] for k in "NCHWKRS")
    stride, pad, groups = s["stride"], s["padding"], s["groups"]
    opad = s.get("output_padding", 0)
    OH, OW = (H - 1) * stride - 2 * pad + R + opad, (W - 1) * stride - 2 * pad + S + opad
    xs, ws, ys = (N, C, H, W), (C, K // groups, R, S), (N, K, OH, OW)
    # Every input pixel meets K/groups*R*S weights: the flops of the conv it transposes.
    flops = 2.0 * N * C * H * W * (K // groups) * R * S * (1 if pass_ == "fwd" else 2)

    def build():
        rng = np.random.default_rng(0)
        x, w, gy = _rand(rng, xs), _rand(rng, ws), _rand(rng, ys)
        if pass_ == "fwd":
            f = _fc_attr("conv_transpose2d")
            fc = lambda: f(x, w, None, stride, pad, opad, groups)  # noqa: E731
        else:
            f = _fc_attr("conv_transpose2d_backward")
            fc = lambda: f(gy, x, w, stride, pad, opad, groups)  # noqa: E731
        npf = None
        if pass_ == "fwd" and groups == 1 and opad == 0:
            # The forward of a transposed conv is the data gradient of the conv it transposes.
            npf = lambda: _np_conv_bwd_data(x, w, ys, stride, pad, 1)  # noqa: E731
        return {"fastconv": _probe(fc, f"conv_transpose2d {pass_}"),
                "torch": _torch_conv_pass(x, w, gy, stride, pad, groups, pass_, True, opad),
                "numpy": npf}

    return Case(f"conv_transpose2d/{s['name']}/{pass_}", "conv_transpose2d", s["name"], pass_,
                "", "flop", flops, build, params=dict(s))


# ------------------------------------------------------------------- pooling

def _np_pool(x, k, stride, pad, kind):
    if pad:
        fill = -np.inf if kind == "max" else 0.0
        x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=fill)
    win = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))[:, :, ::stride, ::stride]
    return win.max(axis=(4, 5)) if kind == "max" else win.mean(axis=(4, 5))


def _np_avg_pool_bwd(gy, x_shape, k, stride, pad):
    N, C, H, W = x_shape
    OH, OW = gy.shape[2:]
    gx = np.zeros((N, C, H + 2 * pad, W + 2 * pad), np.float32)
    g = gy * np.float32(1.0 / (k * k))
    for r in range(k):
        for s in range(k):
            gx[:, :, r:r + stride * OH:stride, s:s + stride * OW:stride] += g
    return gx[:, :, pad:pad + H, pad:pad + W]


def _pool_case(s, pass_):
    op, N, C, H, W = s["op"], s["N"], s["C"], s["H"], s["W"]
    if op == "global_avg_pool2d":
        k, stride, pad, OH, OW = None, None, 0, 1, 1
    else:
        k, stride, pad = s["kernel_size"], s["stride"], s["padding"]
        OH, OW = _shapes.conv_out(H, k, stride, pad), _shapes.conv_out(W, k, stride, pad)
    xs, ys = (N, C, H, W), (N, C, OH, OW)
    # Backward of max pooling also reads x to find the arg-max.
    io = (xs, ys) if pass_ == "fwd" else ((ys, xs, xs) if op == "max_pool2d" else (ys, xs))

    def build():
        rng = np.random.default_rng(0)
        x, gy = _rand(rng, xs), _rand(rng, ys)
        torch = torch_or_none()
        tx, tgy = (torch.from_numpy(x), torch.from_numpy(gy)) if torch else (None, None)
        F = torch.nn.functional if torch else None
        fname = op if pass_ == "fwd" else op + "_backward"
        f = _fc_attr(fname)
        tf = npf = None
        if op == "global_avg_pool2d":
            fc = (lambda: f(x)) if pass_ == "fwd" else (lambda: f(gy, x))
            if pass_ == "fwd":
                npf = lambda: x.mean(axis=(2, 3), keepdims=True)  # noqa: E731
                if torch:
                    tf = lambda: F.adaptive_avg_pool2d(tx, 1)  # noqa: E731
            else:
                npf = lambda: np.broadcast_to(gy * np.float32(1.0 / (H * W)), xs).copy()  # noqa: E731
                if torch:
                    tf = lambda: torch.ops.aten._adaptive_avg_pool2d_backward(tgy, tx)  # noqa: E731
        else:
            kind = "max" if op == "max_pool2d" else "avg"
            if pass_ == "fwd":
                fc = lambda: f(x, k, stride, pad)  # noqa: E731
                npf = lambda: _np_pool(x, k, stride, pad, kind)  # noqa: E731
                if torch:
                    tfn = F.max_pool2d if kind == "max" else F.avg_pool2d
                    tf = lambda: tfn(tx, k, stride, pad)  # noqa: E731
            else:
                fc = lambda: f(gy, x, k, stride, pad)  # noqa: E731
                if kind == "avg":
                    npf = lambda: _np_avg_pool_bwd(gy, xs, k, stride, pad)  # noqa: E731
                    if torch:
                        tf = lambda: torch.ops.aten.avg_pool2d_backward(  # noqa: E731
                            tgy, tx, [k, k], [stride, stride], [pad, pad], False, True, None)
                elif torch:
                    # Torch's max-pool backward takes the indices its forward saved; they
                    # are computed once outside the timing (fastconv recomputes them).
                    _, idx = F.max_pool2d(tx, k, stride, pad, return_indices=True)
                    tf = lambda: torch.ops.aten.max_pool2d_with_indices_backward(  # noqa: E731
                        tgy, tx, [k, k], [stride, stride], [pad, pad], [1, 1], False, idx)
        return {"fastconv": _probe(fc, f"{fname}"), "torch": tf, "numpy": npf}

    return Case(f"pool/{s['name']}/{pass_}", "pool", s["name"], pass_, "", "byte", _bytes(*io),
                build, params=dict(s))


# ---------------------------------------------------------------------- SGEMM

def gemm_shapes(shape_set):
    """1024^3 plus the im2col GEMMs of the batch-1 ResNet layers: (name, M, N, K) with
    M = output channels, N = output pixels, K = C*R*S."""
    out = [("gemm_1024", 1024, 1024, 1024)]
    for s in shape_set:
        if s["op"] == "conv2d" and s["name"].startswith("resnet") and s["groups"] == 1 \
                and s["N"] == 1:
            OH = _shapes.conv_out(s["H"], s["R"], s["stride"], s["padding"])
            OW = _shapes.conv_out(s["W"], s["S"], s["stride"], s["padding"])
            out.append((f"gemm_{s['name']}", s["K"], OH * OW, s["C"] * s["R"] * s["S"]))
    return out


def _gemm_case(name, M, N, K):
    def build():
        rng = np.random.default_rng(0)
        a, b = _rand(rng, (M, K)), _rand(rng, (K, N))
        f = _fc_attr("matmul")
        torch = torch_or_none()
        tf = None
        if torch:
            ta, tb = torch.from_numpy(a), torch.from_numpy(b)
            tf = lambda: torch.matmul(ta, tb)  # noqa: E731
        return {"fastconv": _probe(lambda: f(a, b), "matmul"), "torch": tf,
                "numpy": lambda: np.matmul(a, b)}

    return Case(f"gemm/{name}", "gemm", name, "fwd", "", "flop", 2.0 * M * N * K, build,
                params={"M": M, "N": N, "K": K})


# -------------------------------------------------------------------- models

MODELS = {  # name: (fastconv.models factory, input shape, classes)
    "lenet5": ("lenet5", (1, 32, 32), 10),
    "alexnet": ("alexnet", (3, 227, 227), 1000),
    "resnet18": ("resnet18", (3, 224, 224), 1000),
    "resnet50": ("resnet50", (3, 224, 224), 1000),
    "googlenet": ("googlenet", (3, 224, 224), 1000),
    "xception": ("xception", (3, 299, 299), 1000),
    "fcn_resnet18": ("fcn_resnet18", (3, 224, 224), 21),
}

# The whole-model rows (name, pass, batch) at the batch sizes of issues 15 and 17. A
# training step is forward, cross-entropy, backward and SGD with momentum 0.9.
MODEL_ROWS = (
    ("lenet5", "infer", 64), ("lenet5", "train", 64),
    ("resnet18", "infer", 1), ("resnet18", "infer", 16), ("resnet18", "train", 16),
    ("resnet50", "infer", 1), ("resnet50", "infer", 8), ("resnet50", "infer", 16),
    ("resnet50", "train", 8),
    ("alexnet", "infer", 1), ("alexnet", "infer", 16), ("alexnet", "train", 16),
    ("googlenet", "infer", 1), ("googlenet", "train", 16), ("xception", "infer", 1),
    ("fcn_resnet18", "infer", 1),
)
LR, MOMENTUM = 1e-3, 0.9


class Absent:
    """A peer column a case cannot fill on this installation; the reason is reported."""

    def __init__(self, reason):
        self.reason = reason

    def __repr__(self):
        return f"Absent({self.reason!r})"


def _torch_model(name):
    from fastconv.bench import torch_models
    return getattr(torch_models, name)(MODELS[name][2])


def _fc_model(factory):
    models = getattr(fastconv, "models", None)
    if models is None:
        try:
            import fastconv.models as models
        except ImportError:
            raise NotServed("fastconv.models does not exist in this build") from None
    make = getattr(models, factory, None)
    if make is None:
        raise NotServed(f"fastconv.models.{factory} does not exist in this build")
    return make()


def _model_case(name, pass_, batch):
    factory, chw, classes = MODELS[name]

    def build():
        model = _fc_model(factory)
        rng = np.random.default_rng(0)
        x = _rand(rng, (batch,) + chw)
        labels = rng.integers(0, classes, batch)
        out = {"fastconv": _probe(_fc_model_step(model, x, labels, pass_),
                                  f"models.{factory} {pass_}")}
        torch = torch_or_none()
        if torch is None:
            out["torch"] = Absent("torch is not installed")
            if pass_ == "infer":  # the ONNX file is the torch twin's export
                out["onnxruntime"] = out["fastconv.onnx"] = Absent(
                    "torch is not installed (the ONNX file is exported from torch)")
            return out
        tm = _torch_model(name)
        out["torch"] = _torch_model_step(torch, tm, x, labels, pass_)
        if pass_ == "infer":
            out.update(_onnx_peers(torch, tm, x))
        return out

    return Case(f"model/{name}/{pass_}/n{batch}", "model", name, pass_, "", "img",
                float(batch), build, params={"batch": batch, "input": chw})


def _fc_model_step(model, x, labels, pass_):
    """Inference: fastconv.nn.inference(model)'s plan where fastconv.nn has it, else
    model(x) in eval mode. Training: forward, cross-entropy loss, backward and an SGD
    step with momentum, through fastconv.nn's explicit-backward API (as torch's step)."""
    nn = getattr(fastconv, "nn", None)
    if pass_ == "infer":
        plan_of = getattr(nn, "inference", None)
        if plan_of is not None:
            plan = plan_of(model)
            return lambda: plan(x)
        if hasattr(model, "eval"):
            model.eval()
        return lambda: model(x)
    optim = getattr(fastconv, "optim", None)
    loss_cls = getattr(nn, "CrossEntropyLoss", None)
    sgd = getattr(optim, "SGD", None)
    if not (hasattr(model, "backward") and loss_cls and sgd):
        raise NotServed("training needs model.backward, fastconv.nn.CrossEntropyLoss and "
                        "fastconv.optim.SGD")
    model.train()
    loss_fn = loss_cls()
    opt = sgd(model.parameters(), lr=LR, momentum=MOMENTUM)

    def step():
        loss_fn(model(x), labels)
        model.zero_grad()
        # the image needs no gradient (as in the torch step, where x does not require it)
        model.backward(loss_fn.backward(), input_grad=False)
        opt.step()
    return step


def _torch_model_step(torch, tm, x, labels, pass_):
    tx = torch.from_numpy(x)
    if pass_ == "infer":
        tm.eval()

        def infer():
            with torch.inference_mode():
                return tm(tx)
        return infer
    tm.train()
    opt = torch.optim.SGD(tm.parameters(), lr=LR, momentum=MOMENTUM)
    tl = torch.from_numpy(labels)

    def step():
        opt.zero_grad(set_to_none=False)
        torch.nn.functional.cross_entropy(tm(tx), tl).backward()
        opt.step()
    return step


def _onnx_peers(torch, tm, x):
    """onnxruntime (CPU EP) and fastconv.onnx sessions on the torch twin exported to
    ONNX (TorchScript exporter, fixed batch), each an Absent with the reason where it
    cannot run here."""
    import os
    import tempfile
    import warnings

    try:
        import onnxruntime as ort
    except ImportError:
        ort = None
    try:
        import fastconv.onnx as fc_onnx
    except ImportError as e:
        fc_onnx = Absent(str(e))
    if ort is None and isinstance(fc_onnx, Absent):
        return {"onnxruntime": Absent("onnxruntime is not installed"), "fastconv.onnx": fc_onnx}
    tm.eval()
    out = {}
    with tempfile.TemporaryDirectory(prefix="fastconv-bench-") as d:
        path = os.path.join(d, "model.onnx")
        try:
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation
                torch.onnx.export(tm, (torch.from_numpy(x),), path, dynamo=False,
                                  input_names=["input"], output_names=["logits"])
        except Exception as e:  # an exporter missing or failing costs only these columns
            why = f"torch.onnx.export failed: {type(e).__name__}: {e}".splitlines()[0]
            return {"onnxruntime": Absent(why), "fastconv.onnx": Absent(why)}
        if ort is None:
            out["onnxruntime"] = Absent("onnxruntime is not installed")
        else:
            so = ort.SessionOptions()
            so.intra_op_num_threads = fastconv.get_num_threads()  # the bench thread count
            so.inter_op_num_threads = 1
            # The same footing as fastconv's pool (GOMP_SPINCOUNT): ORT's threads spin
            # between the nodes of a run, as by default, and stop spinning when the run
            # ends, so that they do not spin through the other contenders' turns.
            so.add_session_config_entry("session.intra_op.allow_spinning", "1")
            so.add_session_config_entry("session.force_spinning_stop", "1")
            try:
                sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
                sess.run(None, {"input": x})
            except Exception as e:  # onnxruntime refusing the export costs only its column
                why = f"onnxruntime cannot run the export: {type(e).__name__}: {e}"
                out["onnxruntime"] = Absent(why.splitlines()[0])
            else:
                out["onnxruntime"] = lambda: sess.run(None, {"input": x})
        if isinstance(fc_onnx, Absent):
            out["fastconv.onnx"] = fc_onnx
        else:
            try:
                fsess = fc_onnx.InferenceSession(path)
            except (fastconv.UnsupportedError, NotImplementedError) as e:
                # The op it lacks, not the whole list; the report names the peer itself.
                msg = str(e).split("; supported:")[0]
                out["fastconv.onnx"] = Absent(msg.removeprefix("fastconv.onnx: "))
            else:
                out["fastconv.onnx"] = lambda: fsess.run(None, {"input": x})
    return out


# ------------------------------------------------------------------ registry

def cases(shape_set=None):
    """Every benchmark case, in table order."""
    shape_set = _shapes.load_shapes() if shape_set is None else shape_set
    out = []
    for s in shape_set:
        if s["op"] == "conv2d":
            dw = _shapes.is_depthwise(s)
            for pass_ in CONV_PASSES:
                for algo in CONV_ALGORITHMS:
                    out.append(_conv_case(s, pass_, algo, dw))
    for s in shape_set:
        if _shapes.is_depthwise(s):
            out += [_depthwise_case(s, p) for p in ("fwd", "bwd")]
    for s in shape_set:
        if s["op"] == "conv_transpose2d":
            out += [_tconv_case(s, p) for p in ("fwd", "bwd")]
    for s in shape_set:
        if s["op"] in ("max_pool2d", "avg_pool2d", "global_avg_pool2d"):
            out += [_pool_case(s, p) for p in ("fwd", "bwd")]
    out += [_gemm_case(*g) for g in gemm_shapes(shape_set)]
    out += [_model_case(*row) for row in MODEL_ROWS]
    for c in out:
        c.quick = c.shape in QUICK_SHAPES or c.name in QUICK_SHAPES
    return out

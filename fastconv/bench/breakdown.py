"""Where a training step's time goes: `python -m fastconv bench --breakdown resnet18`.

Times the whole step (forward, cross-entropy, backward, SGD with momentum, as the model
rows; fastconv's and the torch twin's steps alternate) and, inside it, every Conv2d
forward and backward call: each Conv2d instance gets a timing wrapper as an instance
attribute for the duration (fastconv.nn is unchanged).
"Other" is the step minus the convolutions: batch norm, ReLU, pooling, the linear
layer, the loss, the optimizer and Python. The PyTorch twin is split the same way
where torch is installed (module hooks around its Conv2d forwards, hooks on their
autograd nodes for the backwards).
"""
import contextlib
import statistics
import time

import numpy as np

from fastconv.bench import ops

PARTS = ("conv fwd", "conv bwd", "other")


def train_batch(name):
    """The batch of the model's training row (MODEL_ROWS)."""
    for n, pass_, batch in ops.MODEL_ROWS:
        if n == name and pass_ == "train":
            return batch
    raise ValueError(f"--breakdown: no training row for {name!r}; expected one of "
                     f"{sorted({n for n, p, _ in ops.MODEL_ROWS if p == 'train'})}")


def _shape_key(m, x):
    st = m.stride[0] if isinstance(m.stride, tuple) else m.stride
    R, S = m.kernel_size
    g = f" g{m.groups}" if m.groups != 1 else ""
    return f"{m.in_channels}->{m.out_channels} {R}x{S}/{st}{g} @{x.shape[2]}x{x.shape[3]}"


class _ConvTimer:
    """Sums the seconds of every wrapped conv call, per pass and per layer shape."""

    def __init__(self, clock=time.perf_counter):
        self.clock = clock
        self.reset()

    def reset(self):
        self.total = {"conv fwd": 0.0, "conv bwd": 0.0}
        self.by_shape = {}

    def add(self, part, key, dt):
        self.total[part] += dt
        d = self.by_shape.setdefault(key, {"conv fwd": 0.0, "conv bwd": 0.0, "calls": 0})
        d[part] += dt
        d["calls"] += part == "conv fwd"


@contextlib.contextmanager
def timed_fastconv_convs(model, timer):
    """Wraps forward and backward of every fastconv.nn.Conv2d in model; undone on exit."""
    from fastconv import nn

    convs = [m for m in model.modules() if type(m) is nn.Conv2d]
    clock = timer.clock
    keys = {}

    def wrap(m):
        fwd, bwd = m.forward, m.backward

        def forward(x):
            t0 = clock()
            y = fwd(x)
            keys[id(m)] = key = _shape_key(m, x)
            timer.add("conv fwd", key, clock() - t0)
            return y

        def backward(g):
            t0 = clock()
            gx = bwd(g)
            timer.add("conv bwd", keys.get(id(m), "?"), clock() - t0)
            return gx
        object.__setattr__(m, "forward", forward)
        object.__setattr__(m, "backward", backward)

    for m in convs:
        wrap(m)
    try:
        yield len(convs)
    finally:
        for m in convs:
            vars(m).pop("forward", None)
            vars(m).pop("backward", None)


@contextlib.contextmanager
def timed_torch_convs(torch, model, timer):
    """The same split for a torch model: forward pre/post hooks time each Conv2d
    forward, and a pre-hook and a hook on the autograd node of its output
    (ConvolutionBackward) time its backward."""
    clock = timer.clock
    handles = []

    def pre(m, args):
        m._fc_t0 = clock()

    def post(m, args, y):
        key = _shape_key(m, args[0])
        timer.add("conv fwd", key, clock() - m._fc_t0)
        node = y.grad_fn
        if node is None:
            return None
        start = {}

        def node_pre(grad_outputs):
            start["t"] = clock()

        def node_post(grad_inputs, grad_outputs):
            timer.add("conv bwd", key, clock() - start.pop("t"))
        node.register_prehook(node_pre)
        node.register_hook(node_post)
        return None

    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d):
            handles += [m.register_forward_pre_hook(pre), m.register_forward_hook(post)]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def _one_step(step, timer):
    timer.reset()
    t0 = timer.clock()
    step()
    total = timer.clock() - t0
    return total, timer.total["conv fwd"], timer.total["conv bwd"], dict(timer.by_shape)


def _summary(rows):
    """Medians of the step time and its parts; per-shape sums of the median step."""
    order = sorted(range(len(rows)), key=lambda i: rows[i][0])
    total = statistics.median(r[0] for r in rows)
    fwd = statistics.median(r[1] for r in rows)
    bwd = statistics.median(r[2] for r in rows)
    return {"step_s": total, "conv fwd": fwd, "conv bwd": bwd,
            "other": max(total - fwd - bwd, 0.0), "by_shape": rows[order[len(order) // 2]][3],
            "steps": len(rows)}


def breakdown(name="resnet18", batch=None, steps=5, warmup=1, with_torch=True):
    """{"fastconv": parts, "torch": parts or None, ...}; parts as _summary returns. The
    fastconv and torch steps alternate, so load from other processes hits both alike."""
    batch = batch or train_batch(name)
    factory, chw, classes = ops.MODELS[name]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch,) + chw, dtype=np.float32)
    labels = rng.integers(0, classes, batch)
    out = {"model": name, "batch": batch, "fastconv": None, "torch": None}
    model = ops._fc_model(factory)
    runs = {"fastconv": (ops._fc_model_step(model, x, labels, "train"), _ConvTimer())}
    torch = ops.torch_or_none() if with_torch else None
    with contextlib.ExitStack() as stack:
        out["convs"] = stack.enter_context(timed_fastconv_convs(model, runs["fastconv"][1]))
        if torch is not None:
            tm = ops._torch_model(name)
            runs["torch"] = (ops._torch_model_step(torch, tm, x, labels, "train"), _ConvTimer())
            stack.enter_context(timed_torch_convs(torch, tm, runs["torch"][1]))
        for step, _ in runs.values():
            for _ in range(warmup):
                step()
        rows = {k: [] for k in runs}
        names = list(runs)
        for i in range(steps):
            k = i % len(names)
            for who in names[k:] + names[:k]:
                rows[who].append(_one_step(*runs[who]))
    for who, rs in rows.items():
        out[who] = _summary(rs)
    return out


def format_breakdown(res, top=8):
    peers = [k for k in ("fastconv", "torch") if res.get(k)]
    lines = [f"training step of {res['model']}, batch {res['batch']} ({res['convs']} Conv2d "
             f"layers): medians of {res['fastconv']['steps']} steps, each part timed inside "
             "the step" + (", fastconv's and torch's steps alternating" if res.get("torch")
                           else "")]
    head = ["part"] + [f"{p} ms" for p in peers] + [f"{p} %" for p in peers]
    if "torch" in peers:
        head.append("torch / fastconv")
    rows = [head]
    for part in PARTS + ("step",):
        key = "step_s" if part == "step" else part
        vals = [res[p][key] for p in peers]
        row = [part] + [f"{v * 1e3:.1f}" for v in vals]
        row += [f"{100 * v / res[p]['step_s']:.0f}%" for v, p in zip(vals, peers)]
        if "torch" in peers:
            row.append(f"{vals[1] / vals[0]:.2f}x" if vals[0] > 0 else "-")
        rows.append(row)
    lines += _grid(rows)
    shapes = res["fastconv"]["by_shape"]
    ranked = sorted(shapes.items(), key=lambda kv: -(kv[1]["conv fwd"] + kv[1]["conv bwd"]))
    tsh = (res.get("torch") or {}).get("by_shape", {})
    lines += ["", f"conv layers by fastconv time (top {min(top, len(ranked))} of "
              f"{len(ranked)} shapes; C->K RxS/stride @input, summed over the layers of that "
              "shape):"]
    head = ["shape", "layers", "fwd ms", "bwd ms"] + (["torch fwd ms", "torch bwd ms"]
                                                        if tsh else [])
    rows = [head]
    for key, d in ranked[:top]:
        row = [key, str(d["calls"]), f"{d['conv fwd'] * 1e3:.1f}", f"{d['conv bwd'] * 1e3:.1f}"]
        if tsh:
            t = tsh.get(key)
            row += [f"{t['conv fwd'] * 1e3:.1f}", f"{t['conv bwd'] * 1e3:.1f}"] if t else ["-"] * 2
        rows.append(row)
    lines += _grid(rows)
    return "\n".join(lines)


def _grid(rows):
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for j, r in enumerate(rows):
        out.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                             for i, (c, w) in enumerate(zip(r, widths))).rstrip())
        if j == 0:
            out.append("  ".join("-" * w for w in widths))
    return out

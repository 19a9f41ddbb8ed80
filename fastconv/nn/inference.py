"""Inference plans: a model turned into a flat list of fused steps over one arena.

    plan = fastconv.nn.inference(model)      # puts model in eval mode
    logits = plan(x)                         # == model(x) within float32 rounding

Building the plan walks the module tree (Sequential, the fastconv.models networks,
residual blocks) into steps, folds each eval-mode BatchNorm2d into the convolution
before it, and fuses bias, ReLU and the residual add into the convolution's epilogue.
The first call with an input shape compiles the steps for it, once: each
convolution's algorithm is chosen (fastconv's "auto" heuristic, or the autotuner
when fastconv.autotune(True)), Winograd weights are transformed, im2col weights are
packed into the GEMM's panels (C API fc_conv2d_pack_weights), and every
activation gets a place in one preallocated arena in which a buffer is reused as
soon as its last reader has run. Later calls with that shape only run kernels.

The plan is a snapshot of the weights (and BatchNorm statistics) when it was built:
after changing them, build a new plan. plan(x) returns a fresh array (a copy of the
arena's result buffer). A plan runs one call at a time (its arena is shared).
"""

import statistics
import time

import numpy as np

from fastconv import _C
from fastconv.functional import _args, conv as _conv, tuning
from fastconv.functional.pool import PoolParams
from fastconv.nn import _plan_arena
from fastconv.nn._plan_graph import Graph, Step, _consumers, optimize
from fastconv.nn.container import Concat, Sequential
from fastconv.nn.conv import Conv2d, DepthwiseConv2d, SeparableConv2d
from fastconv.nn.layers import (BatchNorm2d, Dropout, Flatten, Identity, Linear, ReLU,
                                Sigmoid, Tanh)
from fastconv.nn.module import Module
from fastconv.nn.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d

__all__ = ["inference", "InferencePlan"]

_FN = "inference"

# ------------------------------------------------------------ the fused convolution

_IM2COL = _C.ALGORITHMS["im2col"]


class _Packed:
    """w packed once for the im2col forward, under the ISA active when packed; packed
    again if fastconv.set_isa changed it since (the C library refuses panels of another
    ISA's blocking)."""

    def __init__(self, w, p):
        self.w, self.p = w, p
        self._pack()

    def _pack(self):
        p = self.p
        self.isa = _C.get_isa()
        self.array = _C.conv2d_pack_weights(p.x_shape, self.w, p.stride, p.pads, p.dilation,
                                            p.groups)

    def current(self):
        if _C.get_isa() != self.isa:
            self._pack()
        return self.array


def _prepared(a, p):
    """(algorithm enum, its name, w prepared for it or None) for conv step attributes a
    at the checked ConvParams p: AUTO's choice (or the autotuner's) made once, Winograd
    weights transformed and im2col's packed once."""
    w, b = a["w"], a["b"]
    algo = _conv._algorithm(a["algorithm"], _FN, p)
    if algo == _C.ALGORITHMS["auto"]:
        if tuning.autotune_enabled():
            xz, yz = np.zeros(p.x_shape, np.float32), np.empty(p.out_shape, np.float32)
            algo = _conv._tuned(algo, "forward", p, lambda e: _C.conv2d_forward(
                xz, w, b, yz, *p.c_args(), e))
        else:
            algo = _C.ALGORITHMS[_C.conv2d_select_algorithm(
                p.x_shape, *p.w_shape[0:1], *p.w_shape[2:], p.stride, p.pads, p.dilation,
                p.groups, 0)]
    name = _C.ALGORITHM_NAMES[algo]
    u = None
    if name.startswith("winograd"):
        u = _C.conv2d_winograd_transform_weights(p.x_shape, w, p.pads, p.groups, algo, 0)
    elif algo == _IM2COL:
        u = _Packed(w, p)       # the GEMM's weight panels, packed once
    return algo, name, u


def _conv_fused(x, w, b, residual, relu, y, p, algo, u=None, ws=None):
    """y = relu?(conv(x, w) + b + residual?) into the arena buffer y, the epilogue
    applied by the kernels on each output tile (residual may be y); p: checked
    ConvParams, algo: the algorithm enum, u: w prepared once for algo (a _Packed for
    im2col, pre-transformed weights for a Winograd one), or None; ws: the step's scratch
    in the arena, or None for the library's cache. Returns y."""
    if u is not None and algo == _IM2COL:
        _C.conv2d_forward_prepacked_ex(x, u.current(), None, b, residual, relu, y, p.w_shape,
                                       p.stride, p.pads, p.dilation, p.groups, ws)
    elif u is not None:
        _C.conv2d_winograd_forward_pretransformed_ex(x, u, None, b, residual, relu, y,
                                                     p.w_shape, p.pads, p.groups, algo, ws)
    else:
        _C.conv2d_forward_ex(x, w, None, b, residual, relu, y, *p.c_args(), algo, ws)
    return y


# ------------------------------------------------------------------ model -> graph

def _f32(a):
    return None if a is None else np.array(a, dtype=np.float32, copy=True)


def _bias(m):
    return None if m.bias is None else _f32(m.bias.data)


def _lower(m, g, v):
    """Appends m's steps reading value v to g; returns the value m's output is."""
    from fastconv.models.resnet import ResNet, _Residual
    from fastconv.models.alexnet import AlexNet
    from fastconv.models.lenet import LeNet5

    if isinstance(m, Sequential):
        for c in m:
            v = _lower(c, g, v)
        return v
    if isinstance(m, ResNet):
        return _chain(m._stages(), g, v)
    if isinstance(m, AlexNet):
        return _chain((m.features, m.avgpool, m.flatten, m.classifier), g, v)
    if isinstance(m, LeNet5):
        return _chain((m.features, m.flatten, m.classifier), g, v)
    if isinstance(m, _Residual):
        # The shortcut first: its value then exists before the body's last convolution,
        # which can add it in its epilogue.
        idt = v if m.downsample is None else _lower(m.downsample, g, v)
        out = _chain(m._body(), g, v)
        return g.add("add", [out, idt], relu=True)
    if isinstance(m, Conv2d):
        return g.add("conv", [v], w=_f32(m.weight.data), b=_bias(m),
                     stride=m.stride, padding=m.padding, dilation=m.dilation,
                     groups=m.groups, algorithm=m.algorithm, relu=False, residual=None)
    if isinstance(m, DepthwiseConv2d):
        return g.add("conv", [v], w=_f32(m.weight.data), b=_bias(m),
                     stride=m.stride, padding=m.padding, dilation=m.dilation,
                     groups=m.in_channels, algorithm="auto", relu=False, residual=None)
    if isinstance(m, SeparableConv2d):
        return _chain((m.depthwise, m.pointwise), g, v)
    if isinstance(m, BatchNorm2d) and m.track_running_stats:
        inv = 1.0 / np.sqrt(np.asarray(m.running_var, np.float64) + m.eps)
        gamma = np.ones(m.num_features) if not m.affine else m.weight.data.astype(np.float64)
        beta = np.zeros(m.num_features) if not m.affine else m.bias.data.astype(np.float64)
        scale = gamma * inv
        shift = beta - np.asarray(m.running_mean, np.float64) * scale
        return g.add("affine", [v], scale=scale, shift=shift)
    if isinstance(m, (ReLU, Tanh, Sigmoid)):
        kind = {ReLU: "relu", Tanh: "tanh", Sigmoid: "sigmoid"}[type(m)]
        return g.add("act", [v], kind=kind)
    if isinstance(m, (Dropout, Identity)):
        return v
    if isinstance(m, Flatten):
        return g.add("flatten", [v], start_dim=m.start_dim)
    if isinstance(m, MaxPool2d):
        return g.add("maxpool", [v], kernel=m.kernel_size, stride=m.stride,
                     padding=m.padding, dilation=m.dilation, ceil_mode=m.ceil_mode)
    if isinstance(m, AvgPool2d):
        return g.add("avgpool", [v], kernel=m.kernel_size, stride=m.stride,
                     padding=m.padding, ceil_mode=m.ceil_mode,
                     count_include_pad=m.count_include_pad)
    if isinstance(m, AdaptiveAvgPool2d):
        return g.add("adaptive", [v], output_size=m.output_size)
    if isinstance(m, Linear):
        return g.add("linear", [v], w=_f32(m.weight.data), b=_bias(m),
                     relu=False)
    if isinstance(m, Concat) and m.dim == 1:
        outs = [_lower(b, g, v) for b in m.children()]
        return g.add("concat", outs, axis=1)
    return g.add("module", [v], module=m)      # anything else runs as it is


def _chain(mods, g, v):
    for c in mods:
        v = _lower(c, g, v)
    return v


def graph_of(model):
    """The optimized step graph of a fastconv.nn model (in eval mode)."""
    g = Graph()
    g.output = _lower(model, g, 0)
    return optimize(g)


# --------------------------------------------------------------- graph -> program

def _prod(shape):
    return int(np.prod(shape, dtype=np.int64))


# Batch sizes up to which the plan runs its convolutions on the blocked channel layout
# (NCHW8c, functional.blocked): at batch 1 the direct blocked kernel beats im2col on
# every ResNet layer after the first (the GEMM's narrow N of 49-196 outputs wastes tile
# lanes), while at larger batches im2col and Winograd fill their tiles.
BLOCKED_MAX_BATCH = 1
# Above that batch, the convolutions whose input map has at most this many pixels still
# run blocked (a region from the first such layer on). 0, none: at batch 8 the blocked
# kernel matches the packed im2col GEMM on ResNet-50's 14x14 and 7x7 layers (0.85-1.06
# of its time, one layer at a time) but loses to Winograd on 3x3 layers at batch 16, and
# whole plans with 196 (14x14) measured no faster (ResNet-50 n8, ResNet-18 n16).
BLOCKED_BATCHED_MAX_PIXELS = 0
_BLOCKED_MIN_CHANNELS = 16     # below this (a first layer) the lanes would be mostly padding
# A convolution whose output takes at least this many bytes, at batch > 1, and whose
# only reader is a max pool runs with it one image at a time (_Compiled._conv_pool):
# ResNet-18's conv1 output at batch 16 is 49 MiB, more than the rest of the network
# holds at once (the two-layer bound fell from 61.2 to 45.9 MiB, the input included).
POOL_PER_IMAGE_MIN_BYTES = 16 << 20
# plan.profile's statistics of a step's times over its repeats
PROFILE_STATS = {"median": statistics.median, "min": min}


class _Compiled:
    """One input shape's program: per-step closures, value shapes, the arena.

    Convolutions that run on the blocked layout read and write NCHW8c values; a value
    is reordered (one step, once) where a step needs the other layout, so that a chain
    of blocked convolutions (a ResNet from its first block to its last) keeps the layout
    between them and reorders only at its two ends."""

    def __init__(self, graph, x_shape):
        self.shapes = {0: tuple(x_shape)}
        self.runs = []
        self.steps = []                # what runs, reorders included, in order
        self.external = set()          # values that live outside the arena
        self.aliases = {}              # value -> the value whose buffer it shares
        self.nbytes_of = {}
        self.n_values = graph.n_values
        self.logical = {}              # values stored as NCHW8c -> their (N, C, H, W)
        self.copies = {}               # (value, "blocked" | "plain") -> its reordered copy
        self.scratch = {}              # step index -> the value holding its workspace
        # Workspace sizes hold for the thread count and ISA they were asked under; a call
        # under others passes None (the library's cache) instead.
        self.scratch_key = (_C.get_num_threads(), _C.get_isa())
        uses = _consumers(graph)
        k = 0
        while k < len(graph.steps):
            s = graph.steps[k]
            nxt = graph.steps[k + 1] if k + 1 < len(graph.steps) else None
            if self._pools_per_image(s, nxt, uses.get(s.out) == [k + 1]):
                self.runs.append(self._conv_pool(s, nxt))
                k += 2
                continue
            s = self._placed(s)
            self.runs.append(self._compile(s))
            self.steps.append(s)
            k += 1
        self.output = self._plain(graph.output)
        self._plan_memory()

    # -- layouts --------------------------------------------------------------------
    def _new_value(self):
        self.n_values += 1
        return self.n_values - 1

    def _reorder(self, v, to_blocked):
        key = (v, "blocked" if to_blocked else "plain")
        if key in self.copies:
            return self.copies[key]
        o = self._new_value()
        s = Step("to_nchw8c" if to_blocked else "from_nchw8c", [v], o, {})
        if to_blocked:
            N, C, H, W = self.shapes[v]
            self.shapes[o] = (N, -(-C // 8), H, W, 8)
            self.logical[o] = (N, C, H, W)
            run = lambda env: _C.reorder_nchw_to_nchw8c(env[v], env[o])  # noqa: E731
        else:
            self.shapes[o] = self.logical[v]
            run = lambda env: _C.reorder_nchw8c_to_nchw(env[v], env[o])  # noqa: E731
        self.runs.append(run)
        self.steps.append(s)
        self.copies[key] = o
        return o

    def _scratch(self, nbytes):
        """A value for the workspace of the step being compiled (alive in that step only:
        the arena reuses the memory of activations dead by then)."""
        if not nbytes:
            return None
        v = self._new_value()
        self.shapes[v] = (-(-int(nbytes) // 4),)
        self.scratch[len(self.steps)] = v
        return v

    def _plain(self, v):
        return self._reorder(v, False) if v in self.logical else v

    def _blocked(self, v):
        return v if v in self.logical else self._reorder(v, True)

    def _runs_blocked(self, s):
        if s.op != "conv" or s.a["algorithm"] != "auto" or s.a["groups"] != 1:
            return False
        shape = self.logical.get(s.ins[0], self.shapes[s.ins[0]])
        if len(shape) != 4 or shape[0] < 1 or shape[1] < _BLOCKED_MIN_CHANNELS:
            return False
        if shape[0] <= BLOCKED_MAX_BATCH or shape[2] * shape[3] <= BLOCKED_BATCHED_MAX_PIXELS:
            return True
        # Above that batch, the C rule (fc_conv2d_plan_blocked): with AVX-512's table
        # every such layer; with AVX2's the layers AUTO's forward itself runs blocked
        # (behind reorders, weights arranged on every call): ResNet-50's 3x3 layers at
        # 14x14 and 7x7, batch 8, plan 1-thread CPU time 685-721 -> 650-684 ms (three
        # alternating rounds); at batch 16 AUTO keeps the 14x14 ones on im2col, no
        # change measured.
        w = s.a["w"]
        p = _conv.ConvParams(_FN, shape, w.shape, s.a["stride"], s.a["padding"],
                             s.a["dilation"], 1)
        return _C.conv2d_plan_blocked(p.x_shape, w.shape[0], *w.shape[2:], p.stride,
                                      p.pads, p.dilation, 1)

    def _placed(self, s):
        """s reading its inputs in the layout it runs on (reorders emitted as needed)."""
        if self._runs_blocked(s):
            ins = [self._blocked(v) for v in s.ins]
            # the arranged weights, made on first need, cached on the graph's step: shared
            # by every input shape's program
            s.a.setdefault("_packed", {})
            a = dict(s.a, blocked=True)
        elif s.op == "maxpool" and s.ins[0] in self.logical:
            # pools in the layout its input already has (AlexNet between blocked layers)
            ins, a = list(s.ins), dict(s.a, blocked=True)
        else:
            ins = [self._plain(v) for v in s.ins]
            a = s.a
        if s.op == "conv" and s.a["residual"] is not None:
            a = dict(a, residual=ins[1])
        return Step(s.op, ins, s.out, a)

    # -- shapes and kernels ---------------------------------------------------------
    def _compile(self, s):
        a, o = s.a, s.out
        xs = self.shapes[s.ins[0]]
        op = s.op
        if op == "conv":
            return self._conv(s, xs)
        if op == "affine":
            self.shapes[o] = xs
            sc = a["scale"].astype(np.float32)[:, None, None]
            sh = a["shift"].astype(np.float32)[:, None, None]

            def run(env, i=s.ins[0]):
                np.multiply(env[i], sc, out=env[o])
                np.add(env[o], sh, out=env[o])
            return run
        if op == "act":
            self.shapes[o] = xs
            kind = a["kind"]
            return lambda env, i=s.ins[0]: _C.activation_forward(kind, 0.0, env[i], env[o])
        if op == "add":
            if self.shapes[s.ins[1]] != xs:
                raise ValueError(f"{_FN}: add of shapes {xs} and {self.shapes[s.ins[1]]}")
            self.shapes[o] = xs
            relu = a["relu"]
            i, j = s.ins
            return lambda env: _C.add(env[i], env[j], env[o], relu)
        if op == "flatten":
            lead = xs[:a["start_dim"]]
            shape = lead + (_prod(xs[len(lead):]),)
            self.shapes[o] = shape
            self.aliases[o] = s.ins[0]

            def run(env, i=s.ins[0]):
                env[o] = env[i].reshape(shape)
            return run
        if op in ("maxpool", "avgpool"):
            blocked = a.get("blocked", False)
            if blocked:
                xs = self.logical[s.ins[0]]
            if len(xs) != 4:
                raise ValueError(f"{_FN}: expected x of shape (N, C, H, W) for pooling, "
                                 f"got {xs}")
            dil = a.get("dilation", 1)
            p = PoolParams(_FN, xs, a["kernel"], a["stride"], a["padding"], dil,
                           a["ceil_mode"])
            self.shapes[o] = p.out_shape
            if blocked:
                N, C, OH, OW = p.out_shape
                self.shapes[o] = (N, -(-C // 8), OH, OW, 8)
                self.logical[o] = p.out_shape
                c = p.c_args()
                return lambda env, i=s.ins[0]: _C.max_pool2d_forward_nchw8c(
                    env[i], env[o], p.x_shape, *c)
            if op == "maxpool":
                c = p.c_args()
                return lambda env, i=s.ins[0]: _C.max_pool2d_forward(env[i], env[o], None, *c)
            cip = a["count_include_pad"]
            return lambda env, i=s.ins[0]: _C.avg_pool2d_forward(
                env[i], env[o], p.kernel, p.stride, p.pads, p.ceil_mode, cip)
        if op == "adaptive":
            return self._adaptive(s, xs)
        if op == "linear":
            return self._linear(s, xs)
        if op == "concat":
            shapes = [self.shapes[v] for v in s.ins]
            self.shapes[o] = xs[:1] + (sum(sh[1] for sh in shapes),) + xs[2:]
            ins = list(s.ins)
            return lambda env: np.concatenate([env[v] for v in ins], axis=1, out=env[o])
        if op == "module":
            m = a["module"]
            y = _args.as_float32(m(np.zeros(xs, np.float32)), "output", _FN)
            self.shapes[o] = y.shape
            self.external.add(o)

            def run(env, i=s.ins[0]):
                env[o] = _args.as_float32(m(env[i]), "output", _FN)
            return run
        raise AssertionError(op)

    def _conv(self, s, xs):
        a, o = s.a, s.out
        if a.get("blocked"):
            return self._conv_blocked(s)
        if len(xs) != 4:
            raise ValueError(f"{_FN}: expected x of shape (N, C, H, W) for a convolution, "
                             f"got {xs}")
        w, b = a["w"], a["b"]
        p = _conv.ConvParams(_FN, xs, w.shape, a["stride"], a["padding"], a["dilation"],
                             a["groups"])
        self.shapes[o] = p.out_shape
        algo, name, u = _prepared(a, p)
        i = s.ins[0]
        r = a["residual"]
        relu = a["relu"]
        self.algorithms = getattr(self, "algorithms", []) + [name]
        if algo == _IM2COL:
            need = _C.conv2d_prepacked_workspace_size(p.x_shape, p.w_shape, p.stride, p.pads,
                                                      p.dilation, p.groups)
        else:
            need = _C.conv2d_workspace_size(p.x_shape, *p.w_shape[0:1], *p.w_shape[2:],
                                            p.stride, p.pads, p.dilation, p.groups, algo, 0)
        t = self._scratch(need)

        def run(env):
            env[o] = _conv_fused(env[i], w, b, None if r is None else env[r], relu, env[o],
                                 p, algo, u, None if t is None else env[t])
        return run

    def _pools_per_image(self, s, nxt, pool_only_reader):
        """Whether conv step s and the max pool after it (its only reader) run together
        image by image: a large NCHW convolution output (a first layer at batch > 1)
        whose max pool follows."""
        if (s.op != "conv" or nxt is None or nxt.op != "maxpool" or not pool_only_reader
                or nxt.ins != [s.out] or s.a["residual"] is not None
                or s.ins[0] in self.logical or self._runs_blocked(s)):
            return False
        xs = self.shapes[s.ins[0]]
        if len(xs) != 4 or xs[0] < 2:
            return False
        w = s.a["w"]
        p = _conv.ConvParams(_FN, xs, w.shape, s.a["stride"], s.a["padding"],
                             s.a["dilation"], s.a["groups"])
        return 4 * _prod(p.out_shape) >= POOL_PER_IMAGE_MIN_BYTES

    def _conv_pool(self, s, ps):
        """conv -> max pool one image at a time: each image's convolution output goes to
        a scratch buffer and is pooled from there straight into the pool's output, so
        the convolution's output for the whole batch never exists (ResNet-18's conv1 at
        batch 16: 49 MiB; one image's, 3 MiB)."""
        a, i, o = s.a, s.ins[0], ps.out
        N, C, H, W = self.shapes[i]
        w, b, relu = a["w"], a["b"], a["relu"]
        p = _conv.ConvParams(_FN, (1, C, H, W), w.shape, a["stride"], a["padding"],
                             a["dilation"], a["groups"])
        pool = PoolParams(_FN, p.out_shape, ps.a["kernel"], ps.a["stride"], ps.a["padding"],
                          ps.a.get("dilation", 1), ps.a["ceil_mode"])
        self.shapes[o] = (N,) + pool.out_shape[1:]
        algo, name, u = _prepared(a, p)
        self.algorithms = getattr(self, "algorithms", []) + [name]
        t = self._scratch(4 * _prod(p.out_shape))
        self.steps.append(Step("conv_pool", [i], o, dict(a, pool=ps.a)))
        c = pool.c_args()

        def run(env):
            buf = env[t] if env[t] is not None else np.empty(_prod(p.out_shape), np.float32)
            cb = buf[:_prod(p.out_shape)].reshape(p.out_shape)
            x, y = env[i], env[o]
            for n in range(N):
                _conv_fused(x[n:n + 1], w, b, None, relu, cb, p, algo, u)
                _C.max_pool2d_forward(cb, y[n:n + 1], None, *c)
        return run

    def _conv_blocked(self, s):
        a, o, i = s.a, s.out, s.ins[0]
        xs = self.logical[i]
        w, b = a["w"], a["b"]
        p = _conv.ConvParams(_FN, xs, w.shape, a["stride"], a["padding"], a["dilation"], 1)
        N, K, OH, OW = p.out_shape
        self.shapes[o] = (N, -(-K // 8), OH, OW, 8)
        self.logical[o] = p.out_shape
        r, relu = a["residual"], a["relu"]
        if w.shape[2:] in ((3, 3), (5, 5)) and p.stride == (1, 1) and p.dilation == (1, 1):
            algo = _C.conv2d_plan_blocked_winograd(xs, K, p.pads, w.shape[2])
            if algo != "direct":
                return self._conv_blocked_winograd(s, xs, p, algo)
        packed = a["_packed"]
        if "nchw8c" not in packed:
            packed["nchw8c"] = _C.conv2d_blocked_transform_weights(w)
        wb = packed["nchw8c"]
        self.algorithms = getattr(self, "algorithms", []) + ["nchw8c"]
        t = self._scratch(_C.conv2d_blocked_workspace_size(xs, w.shape, p.stride, p.pads,
                                                           p.dilation))

        def run(env):
            _C.conv2d_blocked_forward(env[i], xs, wb, w.shape, None, b,
                                      None if r is None else env[r], relu, env[o],
                                      p.stride, p.pads, p.dilation,
                                      None if t is None else env[t])
        return run

    def _conv_blocked_winograd(self, s, xs, p, algo):
        """A 3x3 or 5x5 stride-1 layer on the blocked layout by Winograd (algo
        "winograd_f23", F(2x2,5x5) on 5x5, or "winograd_f43"): its filters transformed
        once (on the graph's step, for every input shape)."""
        a, o, i = s.a, s.out, s.ins[0]
        w, b, r, relu = a["w"], a["b"], a["residual"], a["relu"]
        packed = a["_packed"]
        key = "nchw8c_" + algo
        if key not in packed:
            packed[key] = _C.conv2d_blocked_winograd_transform_weights(w, algo)
        wb = packed[key]
        self.algorithms = getattr(self, "algorithms", []) + [key]
        t = self._scratch(_C.conv2d_blocked_winograd_workspace_size(algo, xs, w.shape[0],
                                                                    p.pads, w.shape[2]))

        def run(env):
            _C.conv2d_blocked_winograd_forward(algo, env[i], xs, wb, w, None, b,
                                               None if r is None else env[r], relu, env[o],
                                               p.pads, None if t is None else env[t])
        return run

    def _adaptive(self, s, xs):
        o, i = s.out, s.ins[0]
        N, C, H, W = xs
        oh, ow = s.a["output_size"]
        self.shapes[o] = (N, C, oh, ow)
        if (oh, ow) == (H, W):
            self.aliases[o] = i

            def run(env):
                env[o] = env[i]
            return run
        if (oh, ow) == (1, 1):
            return lambda env: _C.global_pool2d_forward("avg", env[i], env[o])
        if H % oh == 0 and W % ow == 0:
            k = (H // oh, W // ow)
            return lambda env: _C.avg_pool2d_forward(env[i], env[o], k, k, (0, 0, 0, 0),
                                                     False, True)
        from fastconv.nn.pooling import _adaptive_bounds
        rows, cols = _adaptive_bounds(H, oh), _adaptive_bounds(W, ow)

        def run(env):
            x, y = env[i], env[o]
            for a, (h0, h1) in enumerate(rows):
                for b, (w0, w1) in enumerate(cols):
                    y[:, :, a, b] = x[:, :, h0:h1, w0:w1].mean(axis=(2, 3), dtype=np.float32)
        return run

    def _linear(self, s, xs):
        o, i = s.out, s.ins[0]
        w, b, relu = s.a["w"], s.a["b"], s.a["relu"]
        n_out, k = w.shape
        if xs[-1] != k:
            raise ValueError(f"{_FN}: Linear expects x of shape (..., {k}), got {xs}")
        M = _prod(xs[:-1])
        self.shapes[o] = xs[:-1] + (n_out,)
        flat = (M, k)

        def run(env):
            x, y = env[i].reshape(flat), env[o]
            if M == 0:
                return
            _C.sgemm(False, True, M, n_out, k, 1.0, x, k, w, k, 0.0, y, n_out)
            if b is not None:
                _C.bias_add(M, n_out, 1, b, y)
            if relu:
                _C.activation_forward("relu", 0.0, y, y)
        return run

    # -- memory -----------------------------------------------------------------------
    def _root(self, v):
        while v in self.aliases:
            v = self.aliases[v]
        return v

    def _residuals_in_place(self, lifetimes):
        """A convolution adds its residual in place, its output taking the residual's
        buffer, where that was the residual's last use (lifetimes: _lifetimes() before
        any sharing; the input and external values have none): the kernels then read and
        write one array, not two (ResNet-50's 64 -> 256 1x1 at 56x56, batch 8: a third
        less memory traffic)."""
        last = {v: t1 for v, (nbytes, t0, t1) in lifetimes.items()}
        for t, s in enumerate(self.steps):
            r = s.a.get("residual") if s.op == "conv" else None
            if r is None:
                continue
            root = self._root(r)
            if (last.get(root) != t or self._root(s.ins[0]) == root
                    or self.shapes[r] != self.shapes[s.out]):
                continue
            self.aliases[s.out] = r
            self.in_place[s.out] = r
            last[root] = last.get(s.out, t)     # the buffer now lives as long as s.out

    def _lifetimes(self):
        """{buffer: (bytes, first step, last step)} of the arena's values, a value and
        the values sharing its buffer (self.aliases) counted as one."""
        n = len(self.steps)
        first, last = {}, {}
        for t, s in enumerate(self.steps):
            first.setdefault(self._root(s.out), t)
            for v in s.ins:
                last[self._root(v)] = t
        last[self._root(self.output)] = n        # read when the result is copied out
        return {v: (4 * _prod(self.shapes[v]), t0, max(last.get(v, t0), t0))
                for v, t0 in first.items() if v != 0 and v not in self.external}

    def _plan_memory(self):
        self.in_place = {}             # conv output -> the residual whose buffer it takes
        # the bound is the network's, before this plan's choice to share buffers
        unshared = self._lifetimes()
        self.bound = self._bound(unshared)
        self._residuals_in_place(unshared)
        buffers = self._lifetimes()
        self.lifetimes = dict(buffers)
        self.nbytes_of.update({v: b[0] for v, b in buffers.items()})
        for t, v in self.scratch.items():
            buffers[v] = (4 * _prod(self.shapes[v]), t, t)
        offsets, total = _plan_arena.assign_offsets(buffers)
        self.arena = _plan_arena.Arena(total)
        self.env = [None] * self.n_values
        for v, off in offsets.items():
            self.env[v] = self.arena.view(off, self.shapes[v])
        for o in self.in_place:
            self.env[o] = self.env[self._root(o)]
        self.nbytes_in = 4 * _prod(self.shapes[0])

    def _bound(self, lifetimes):
        """The two-consecutive-layer bound: the largest, over steps, of the bytes of the
        step's inputs and output plus those of values saved across it (a residual's
        input) and the plan's input (the caller's, alive through the call, as
        peak_bytes counts it), none shared: what any schedule of these steps must hold
        at once."""
        def nb(v):
            return 4 * _prod(self.shapes[v])
        alive = {v: (t0, t1) for v, (nbytes, t0, t1) in lifetimes.items()}
        best = 0
        for t, s in enumerate(self.steps):
            live = {self._root(v) for v in s.ins} | {self._root(s.out), 0}
            saved = {v for v, (t0, t1) in alive.items() if t0 < t < t1}
            best = max(best, sum(nb(v) for v in live | saved))
        return best

    def _env(self, x):
        env = list(self.env)
        env[0] = x
        if (_C.get_num_threads(), _C.get_isa()) != self.scratch_key:
            for v in self.scratch.values():
                env[v] = None
        return env

    def run(self, x):
        env = self._env(x)
        for f in self.runs:
            f(env)
        return np.array(env[self.output], copy=True)

    def step_names(self):
        """A name for each step of the program (self.steps, one per run): a
        convolution's channels, kernel, stride, input map and algorithm."""
        algos = iter(self.algorithms)
        names = []
        for s in self.steps:
            if s.op not in ("conv", "conv_pool"):
                names.append(s.op)
                continue
            N, C, H, W = self.logical.get(s.ins[0], self.shapes[s.ins[0]])
            K, _, R, S = s.a["w"].shape
            sh, sw = _args.pair(s.a["stride"], "stride", _FN)
            st = sh if sh == sw else f"{sh}x{sw}"
            names.append(f"{s.op} {C}->{K} {R}x{S}/{st} @{H}x{W} {next(algos)}")
        return names

    def profile(self, x, repeat, stat=statistics.median):
        """stat (median, min) of each run's seconds over `repeat` calls on x."""
        times = [[] for _ in self.runs]
        for _ in range(repeat):
            env = self._env(x)
            for k, f in enumerate(self.runs):
                t0 = time.perf_counter()
                f(env)
                times[k].append(time.perf_counter() - t0)
        return list(zip(self.step_names(), (stat(t) for t in times)))


class InferencePlan:
    """A model compiled for inference (see fastconv.nn.inference). plan(x) -> output.
    A program (with its arena) is kept for each of the last MAX_PROGRAMS input shapes."""

    MAX_PROGRAMS = 8

    def __init__(self, graph, name="model"):
        self.graph = graph
        self.name = name
        self._programs = {}
        self._last = None

    def _program(self, shape):
        shape = tuple(int(d) for d in shape)
        p = self._programs.pop(shape, None)
        if p is None:
            if len(self._programs) >= self.MAX_PROGRAMS:    # drop the least recently used
                self._programs.pop(next(iter(self._programs)))
            p = _Compiled(self.graph, shape)
        self._programs[shape] = p                            # most recently used last
        self._last = p
        return p

    def __call__(self, x):
        x = _args.as_float32(x, "x", _FN)
        return self._program(x.shape).run(x)

    def profile(self, x, repeat=5, stat="median"):
        """Where a call's time goes: runs the plan `repeat` times on x and returns, for
        each step of its program in order, (name, median seconds) -- the reorders
        between layouts included. stat="min": each step's fastest run instead (on a
        host whose neighbours steal cycles, the fastest of many runs is the steadier
        measure of the code). A convolution's name gives its channels, kernel,
        stride, input map and algorithm: "conv 64->256 1x1/1 @56x56 nchw8c"; a first
        layer run image by image with its max pool is one "conv_pool" step. The times
        are each step's own, measured around it (a call's Python overhead between steps
        is in none of them)."""
        x = _args.as_float32(x, "x", _FN)
        if isinstance(repeat, bool) or not isinstance(repeat, (int, np.integer)) or repeat < 1:
            raise ValueError(f"{_FN}.profile: repeat must be a positive integer, got {repeat!r}")
        if stat not in PROFILE_STATS:
            raise ValueError(f"{_FN}.profile: stat must be 'median' or 'min', got {stat!r}")
        p = self._program(x.shape)
        p.run(x)                                   # compiled and warm before timing
        return p.profile(x, int(repeat), PROFILE_STATS[stat])

    def steps(self):
        """The plan's steps (op name, reads, writes, attributes without arrays)."""
        return list(self.graph.steps)

    def _for(self, x_shape):
        if x_shape is None:
            if self._last is None:
                raise ValueError(f"{_FN}: give x_shape (the plan has not run yet)")
            return self._last
        return self._program(x_shape)

    def algorithms(self, x_shape=None):
        """The convolution algorithm chosen for each convolution step, in order."""
        return list(getattr(self._for(x_shape), "algorithms", []))

    def memory_bound_bytes(self, x_shape=None):
        """The two-consecutive-layer bound of activation memory for input x_shape (default:
        the last call's): the most, over steps, of its input + output bytes plus any
        value saved across it (a residual block's input) and the plan's input."""
        return self._for(x_shape).bound

    def peak_bytes(self, x_shape=None):
        """Bytes a call holds at most for input x_shape: the plan's arena (activations
        and every convolution's scratch memory, each alive in its own step only) plus the
        input (the caller's array, alive through the call); the returned copy not
        included. Under another thread count or ISA than the plan was compiled for, the
        convolutions take their scratch from the library's cache instead."""
        p = self._for(x_shape)
        return p.arena.nbytes + p.nbytes_in

    def __repr__(self):
        lines = [f"InferencePlan({self.name}, {len(self.graph.steps)} steps)"]
        lines += [f"  {s!r}" for s in self.graph.steps]
        return "\n".join(lines)


def inference(model):
    """An inference plan of `model` (a fastconv.nn.Module), which is put in eval mode.

    plan(x) equals model(x) in eval mode within float32 rounding: BatchNorm2d folded
    into the convolution before it (eval: running statistics), bias + ReLU + residual
    add fused into the convolution, each layer's algorithm chosen and Winograd weights
    transformed (im2col weights packed) once per input shape, activations in one arena reused across calls.
    The plan copies the weights when it is built: rebuild it after changing them."""
    if not isinstance(model, Module):
        raise TypeError(f"{_FN}: model must be a fastconv.nn.Module, got "
                        f"{type(model).__name__}")
    model.eval()
    return InferencePlan(graph_of(model), type(model).__name__)

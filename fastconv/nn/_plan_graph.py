"""The inference plan's graph: a flat list of steps over numbered values, and the
rewrites that make it fast (BatchNorm folded into the convolution before it; ReLU and
the residual add fused into the convolution's epilogue). Built from fastconv.nn
modules (fastconv.nn.inference) or from an ONNX graph (fastconv.onnx); compiled per
input shape by fastconv.nn.inference.InferencePlan.

Value 0 is the plan's input. A step reads `ins` (value ids) and defines `out`.
Ops and their attributes (a dict):
  conv     w, b, stride, padding, dilation, groups, algorithm, relu, residual (a value
           id the epilogue adds, also appended to ins); a BatchNorm is folded into w, b
  affine   scale, shift              y = x * scale[c] + shift[c] (an unfolded BatchNorm)
  act      kind ("relu", "tanh", "sigmoid")
  add      relu                      y = a + b (then max(., 0))
  maxpool / avgpool   kernel, stride, padding, dilation, ceil_mode, count_include_pad
  adaptive output_size               adaptive average pooling
  flatten  start_dim                 a view of its input (no copy)
  linear   w, b, relu                y = x W^T + b
  concat   axis
  module   module                    an unknown module, run as it is
"""
import numpy as np

__all__ = ["Graph", "Step", "optimize"]


class Step:
    __slots__ = ("op", "ins", "out", "a")

    def __init__(self, op, ins, out, a):
        self.op, self.ins, self.out, self.a = op, list(ins), out, a

    def __repr__(self):
        keep = {k: v for k, v in self.a.items()
                if not isinstance(v, np.ndarray) and not k.startswith("_")}  # (caches)
        return f"Step({self.op}, {self.ins} -> {self.out}, {keep})"


class Graph:
    """Steps in an order they can run in; value 0 is the input, `output` the result."""

    def __init__(self):
        self.steps = []
        self.n_values = 1
        self.output = 0

    def add(self, op, ins, **a):
        v = self.n_values
        self.n_values += 1
        self.steps.append(Step(op, ins, v, a))
        return v


def _consumers(g):
    uses = {}
    for i, s in enumerate(g.steps):
        for v in s.ins:
            uses.setdefault(v, []).append(i)
    uses.setdefault(g.output, []).append(len(g.steps))   # the result is read at the end
    return uses


def _only_consumer(uses, v, i):
    return uses.get(v) == [i]


def _fold_affine(g):
    """conv -> affine (BatchNorm in eval) becomes one conv with w * scale, b * scale +
    shift, when the affine is the convolution's only reader."""
    producer = {s.out: s for s in g.steps}
    uses = _consumers(g)
    keep = []
    for i, s in enumerate(g.steps):
        c = producer.get(s.ins[0]) if s.op == "affine" else None
        if (c is not None and c.op == "conv" and not c.a["relu"] and c.a["residual"] is None
                and _only_consumer(uses, c.out, i)):
            scale = s.a["scale"].astype(np.float64)
            w = c.a["w"].astype(np.float64) * scale[:, None, None, None]
            b = np.zeros(len(scale)) if c.a["b"] is None else c.a["b"].astype(np.float64)
            c.a["w"] = np.ascontiguousarray(w, dtype=np.float32)
            c.a["b"] = (b * scale + s.a["shift"].astype(np.float64)).astype(np.float32)
            _rename(g, s.out, c.out)
            continue
        keep.append(s)
    g.steps = keep


def _rename(g, old, new):
    """Every read of value `old` reads `new` instead (old's step is being removed)."""
    for s in g.steps:
        s.ins = [new if v == old else v for v in s.ins]
        if s.op == "conv" and s.a.get("residual") == old:
            s.a["residual"] = new
    if g.output == old:
        g.output = new


def _fuse_add(g):
    """add(conv(...), r) [+ relu] becomes conv with residual=r in its epilogue, when the
    add is the convolution's only reader and r exists before the convolution runs."""
    index = {s.out: i for i, s in enumerate(g.steps)}
    uses = _consumers(g)
    keep = []
    for i, s in enumerate(g.steps):
        if s.op == "add":
            for a, r in ((s.ins[0], s.ins[1]), (s.ins[1], s.ins[0])):
                c = g.steps[index[a]] if a in index else None
                if (c is not None and c.op == "conv" and not c.a["relu"]
                        and c.a["residual"] is None and _only_consumer(uses, a, i)
                        and a != r and index.get(r, -1) < index[a]):
                    c.a["residual"] = r
                    c.ins.append(r)
                    c.a["relu"] = s.a["relu"]
                    _rename(g, s.out, c.out)
                    break
            else:
                keep.append(s)
            continue
        keep.append(s)
    g.steps = keep


def _fuse_relu(g):
    """conv / linear / add followed by its only reader relu: relu=True on the first."""
    producer = {s.out: s for s in g.steps}
    uses = _consumers(g)
    keep = []
    for i, s in enumerate(g.steps):
        p = producer.get(s.ins[0]) if s.op == "act" and s.a["kind"] == "relu" else None
        if (p is not None and p.op in ("conv", "linear", "add") and not p.a["relu"]
                and _only_consumer(uses, p.out, i)):
            p.a["relu"] = True
            _rename(g, s.out, p.out)
            continue
        keep.append(s)
    g.steps = keep


def optimize(g):
    """The rewrites in the order that lets each see the previous one's result: BN into
    conv; a ReLU after an add onto the add; the add (with its ReLU) into the conv that
    produces one of its operands; then the remaining ReLUs into conv / linear / add."""
    _fold_affine(g)
    _fuse_relu_of_add_first(g)
    _fuse_add(g)
    _fuse_relu(g)
    return g


def _fuse_relu_of_add_first(g):
    """relu after an add is marked on the add, so that _fuse_add moves both into the
    convolution's epilogue."""
    producer = {s.out: s for s in g.steps}
    uses = _consumers(g)
    keep = []
    for i, s in enumerate(g.steps):
        p = producer.get(s.ins[0]) if s.op == "act" and s.a["kind"] == "relu" else None
        if p is not None and p.op == "add" and not p.a["relu"] and _only_consumer(uses, p.out, i):
            p.a["relu"] = True
            _rename(g, s.out, p.out)
            continue
        keep.append(s)
    g.steps = keep

"""The benchmark shape set (bench_shapes.json): LeNet, AlexNet, ResNet and MobileNet layers."""
import json
import os

_HERE = os.path.dirname(os.path.abspath(__file__))
# The package carries a copy so installed users have it; benchmarks/bench_shapes.json in
# the source tree is the same file (tests/bench/test_bench.py checks they agree).
DEFAULT_PATH = os.path.join(_HERE, "bench_shapes.json")

_REQUIRED = {
    "conv2d": ("N", "C", "H", "W", "K", "R", "S", "stride", "padding", "groups"),
    "conv_transpose2d": ("N", "C", "H", "W", "K", "R", "S", "stride", "padding", "groups"),
    "max_pool2d": ("N", "C", "H", "W", "kernel_size", "stride", "padding"),
    "avg_pool2d": ("N", "C", "H", "W", "kernel_size", "stride", "padding"),
    "global_avg_pool2d": ("N", "C", "H", "W"),
}


def load_shapes(path=None):
    """The list of shape dicts, each with "op" and "name"; checked for the keys its op needs."""
    path = path or DEFAULT_PATH
    with open(path) as f:
        doc = json.load(f)
    shapes = doc["shapes"] if isinstance(doc, dict) else doc
    names = set()
    for s in shapes:
        op, name = s.get("op"), s.get("name")
        if op not in _REQUIRED:
            raise ValueError(f"{path}: shape {name!r} has unknown op {op!r}; "
                             f"expected one of {sorted(_REQUIRED)}")
        missing = [k for k in _REQUIRED[op] if k not in s]
        if missing:
            raise ValueError(f"{path}: shape {name!r} ({op}) lacks {missing}")
        if name in names:
            raise ValueError(f"{path}: shape name {name!r} appears twice")
        names.add(name)
    return shapes


def is_depthwise(s):
    return s["op"] == "conv2d" and s["groups"] == s["C"] and s["K"] % s["C"] == 0 and s["groups"] > 1


def conv_out(size, k, stride, pad, dilation=1):
    return (size + 2 * pad - dilation * (k - 1) - 1) // stride + 1

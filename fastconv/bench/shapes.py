"""The benchmark shape set: bench_shapes.json (LeNet, AlexNet, ResNet and MobileNet
layers; the shared v1 set, kept as specified) followed by bench_shapes_categories.json
(the layer categories of issue 16: 3-channel input, dense 5x5, Inception 35x35, VGG 3x3,
pointwise 1x1, depthwise 5x5)."""
import json
import os

_HERE = os.path.dirname(os.path.abspath(__file__))
# The package carries copies so installed users have them; benchmarks/ in the source
# tree holds the same files (tests/bench/test_bench.py checks they agree).
DEFAULT_PATH = os.path.join(_HERE, "bench_shapes.json")
CATEGORIES_PATH = os.path.join(_HERE, "bench_shapes_categories.json")
DEFAULT_PATHS = (DEFAULT_PATH, CATEGORIES_PATH)

_REQUIRED = {
    "conv2d": ("N", "C", "H", "W", "K", "R", "S", "stride", "padding", "groups"),
    "conv_transpose2d": ("N", "C", "H", "W", "K", "R", "S", "stride", "padding", "groups"),
    "max_pool2d": ("N", "C", "H", "W", "kernel_size", "stride", "padding"),
    "avg_pool2d": ("N", "C", "H", "W", "kernel_size", "stride", "padding"),
    "global_avg_pool2d": ("N", "C", "H", "W"),
}


def load_shapes(path=None):
    """The list of shape dicts, each with "op" and "name"; checked for the keys its op
    needs. path: one file, a list of files (concatenated), or None for DEFAULT_PATHS."""
    paths = DEFAULT_PATHS if path is None else [path] if isinstance(path, str) else path
    shapes, names = [], set()
    for p in paths:
        shapes += _load_one(p, names)
    return shapes


def _load_one(path, names):
    with open(path) as f:
        doc = json.load(f)
    shapes = doc["shapes"] if isinstance(doc, dict) else doc
    for s in shapes:
        op, name = s.get("op"), s.get("name")
        if op not in _REQUIRED:
            raise ValueError(f"{path}: shape {name!r} has unknown op {op!r}; "
                             f"expected one of {sorted(_REQUIRED)}")
        missing = [k for k in _REQUIRED[op] if k not in s]
        if missing:
            raise ValueError(f"{path}: shape {name!r} ({op}) lacks {missing}")
        if name in names:
            raise ValueError(f"{path}: shape name {name!r} appears twice in the shape set")
        names.add(name)
    return shapes


def is_depthwise(s):
    return s["op"] == "conv2d" and s["groups"] == s["C"] and s["K"] % s["C"] == 0 and s["groups"] > 1


def conv_out(size, k, stride, pad, dilation=1):
    return (size + 2 * pad - dilation * (k - 1) - 1) // stride + 1

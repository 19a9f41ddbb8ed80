"""Opt-in autotuner for algorithm="auto" (like cuDNN's benchmark mode).

    fastconv.autotune(True)              # enable; returns the previous setting
    y = fastconv.conv2d(x, w, padding=1) # first call per key times every algorithm
    fastconv.autotune_save("tune.json")  # persist the table ...
    fastconv.autotune_load("tune.json")  # ... and load it in another process

The key of a choice is (pass, x shape, weight shape, stride, paddings, dilation,
groups, ISA path, threads, precision): a new key runs every algorithm that serves it
("direct", "im2col", "winograd_f23", "winograd_f43", "depthwise"; one that raises
UnsupportedError is no candidate, and under fastconv.set_precision("highest") the
Winograd ones are none either) a few times on the call's own arrays, keeps the fastest (best of _REPEATS runs:
the least disturbed by other load on the machine), and
later calls with that key run it directly. Without autotuning, "auto" follows the C
library's heuristic (fc_conv2d_select_algorithm). fastconv.info()["autotune"] lists
the choices.
"""
import json
import time

from fastconv import _C
from fastconv.errors import UnsupportedError

CANDIDATES = ("direct", "im2col", "winograd_f23", "winograd_f43", "depthwise")
PASSES = ("forward", "backward_data", "backward_weights")
_REPEATS = 5            # timed runs per candidate, after one warm-up run
_state = {"enabled": False}
_table = {}             # key tuple -> {"algorithm": name, "times": {name: seconds}}


def autotune(enabled=True):
    """Turns the autotuner on or off for algorithm="auto"; returns the previous setting."""
    if not isinstance(enabled, bool):
        raise TypeError(f"autotune: enabled must be a bool, got {enabled!r}")
    before = _state["enabled"]
    _state["enabled"] = enabled
    return before


def autotune_enabled():
    return _state["enabled"]


def autotune_clear():
    """Forgets every choice."""
    _table.clear()


def _key(pass_, p):
    return (pass_, tuple(p.x_shape), tuple(p.w_shape), tuple(p.stride), tuple(p.pads),
            tuple(p.dilation), int(p.groups), _C.get_isa(), int(_C.get_num_threads()),
            _C.get_precision())


_FIELDS = ("pass", "x_shape", "w_shape", "stride", "pads", "dilation", "groups", "isa",
           "threads", "precision")
_PRECISIONS = ("highest", "high")


def _entry(key, value):
    e = dict(zip(_FIELDS, (list(v) if isinstance(v, tuple) else v for v in key)))
    e["algorithm"] = value["algorithm"]
    e["times"] = dict(value["times"])
    return e


def autotune_table():
    """Every recorded choice as a list of dicts (the JSON form autotune_save writes)."""
    return [_entry(k, v) for k, v in sorted(_table.items(), key=lambda kv: repr(kv[0]))]


def autotune_save(path):
    """Writes the table of choices to a JSON file."""
    with open(path, "w") as f:
        json.dump({"fastconv_autotune": 1, "entries": autotune_table()}, f, indent=1)


def autotune_load(path):
    """Adds the choices of a file autotune_save wrote (they replace equal keys);
    returns how many were loaded. A malformed file raises ValueError."""
    with open(path) as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"autotune_load: {path} is not JSON: {e}") from None
    if not isinstance(data, dict) or data.get("fastconv_autotune") != 1:
        raise ValueError(f"autotune_load: {path} is not a fastconv autotune file")
    loaded = {}
    for i, e in enumerate(data.get("entries", [])):
        try:
            key = (e["pass"], tuple(e["x_shape"]), tuple(e["w_shape"]), tuple(e["stride"]),
                   tuple(e["pads"]), tuple(e["dilation"]), int(e["groups"]), e["isa"],
                   int(e["threads"]), e.get("precision", "high"))   # older files: "high"
            algo = e["algorithm"]
            times = {str(k): float(v) for k, v in e.get("times", {}).items()}
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"autotune_load: entry {i} of {path} is malformed") from None
        if key[0] not in PASSES or algo not in CANDIDATES or key[-1] not in _PRECISIONS:
            raise ValueError(f"autotune_load: entry {i} of {path} names an unknown pass "
                             f"{key[0]!r}, algorithm {algo!r} or precision {key[-1]!r}")
        if key[-1] == "highest" and algo.startswith("winograd"):
            raise ValueError(f"autotune_load: entry {i} of {path} chooses {algo!r} under "
                             f"precision 'highest', which keeps Winograd out")
        loaded[key] = {"algorithm": algo, "times": times}
    _table.update(loaded)
    return len(loaded)


def _time(run, algo):
    run(algo)                                   # warm-up (and UnsupportedError check)
    ts = []
    for _ in range(_REPEATS):
        t0 = time.perf_counter()
        run(algo)
        ts.append(time.perf_counter() - t0)
    return min(ts)


def choose(pass_, p, run, serves):
    """The C algorithm enum to run for this pass: the recorded choice, or the fastest
    of the candidates for which serves(name) is true, timed by run(enum)."""
    key = _key(pass_, p)
    e = _table.get(key)
    if e is None:
        times = {}
        for name in CANDIDATES:
            if not serves(name):
                continue
            try:
                times[name] = _time(run, _C.ALGORITHMS[name])
            except UnsupportedError:
                continue
        best = min(times, key=times.get)
        e = _table[key] = {"algorithm": best, "times": times}
    return _C.ALGORITHMS[e["algorithm"]]

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
    """Writes the table of choices to a JSON file (ASCII, finite numbers only), which
    autotune_load reads back to the same table."""
    doc = {"fastconv_autotune": 1, "entries": autotune_table()}
    text = json.dumps(doc, indent=1, allow_nan=False)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


MAX_FILE_BYTES = 16 * 2**20   # an entry is ~400 bytes: room for ~40000 of them
ISAS = ("portable", "avx2", "avx512")
_INT_MAX = 2**63 - 1
_OPTIONAL = ("times", "precision")   # files from before set_precision: "high"


class _Malformed(ValueError):
    """What is wrong with one part of the file (autotune_load adds where)."""


def _show(v):
    r = repr(v)
    return r if len(r) <= 60 else r[:57] + "..."


def _int(v, what, minimum):
    # JSON's 1.0 is a float and its true a bool: neither is an int here.
    if type(v) is not int or not minimum <= v <= _INT_MAX:
        raise _Malformed(f"{what} must be an int in [{minimum}, 2**63), got {_show(v)}")
    return v


def _ints(v, n, what, minimum):
    if type(v) is not list or len(v) != n:
        raise _Malformed(f"{what} must be a list of {n} ints, got {_show(v)}")
    return tuple(_int(a, what, minimum) for a in v)


def _name(v, allowed, what):
    if type(v) is not str or v not in allowed:
        raise _Malformed(f"{what} must be one of {allowed}, got {_show(v)}")
    return v


def _times(v):
    if type(v) is not dict:
        raise _Malformed(f"times must be an object of seconds by algorithm, got {_show(v)}")
    out = {}
    for k, t in v.items():
        _name(k, CANDIDATES, "a times key")
        if type(t) not in (int, float) or not 0 <= t < float("inf"):
            raise _Malformed(f"times[{k!r}] must be a finite number >= 0, got {_show(t)}")
        out[k] = float(t)
    return out


def _parse_entry(e, where):
    """(key, value) of one entry, every field checked, or _Malformed/ValueError."""
    from fastconv.functional.conv import ConvParams, candidate_serves
    if type(e) is not dict:
        raise _Malformed(f"an entry must be an object, got {_show(e)}")
    missing = [k for k in _FIELDS + ("algorithm",) if k not in e and k not in _OPTIONAL]
    unknown = [k for k in e if k not in _FIELDS + ("algorithm",) + _OPTIONAL]
    if missing or unknown:
        raise _Malformed("; ".join(f"{what} fields {names}" for what, names in
                                   (("missing", missing), ("unknown", unknown)) if names))
    pass_ = _name(e["pass"], PASSES, "pass")
    x_shape = _ints(e["x_shape"], 4, "x_shape", 1)
    w_shape = _ints(e["w_shape"], 4, "w_shape", 1)
    stride = _ints(e["stride"], 2, "stride", 1)
    pads = _ints(e["pads"], 4, "pads", 0)
    dilation = _ints(e["dilation"], 2, "dilation", 1)
    groups = _int(e["groups"], "groups", 1)
    isa = _name(e["isa"], ISAS, "isa")
    threads = _int(e["threads"], "threads", 1)
    algo = _name(e["algorithm"], CANDIDATES, "algorithm")
    times = _times(e["times"]) if "times" in e else {}
    precision = _name(e.get("precision", "high"), _PRECISIONS, "precision")
    # The shapes and arguments must be a convolution conv2d accepts ...
    try:
        p = ConvParams(where, x_shape, w_shape, stride, (pads[:2], pads[2:]), dilation,
                       groups)
    except (TypeError, ValueError) as err:
        raise ValueError(str(err)) from None
    # ... and the algorithm one that serves it, or every later "auto" call would fail.
    if algo.startswith("winograd") and precision == "highest":
        raise ValueError(f"{where}: chooses {algo!r} under precision 'highest', which keeps "
                         f"Winograd out")
    if not candidate_serves(algo, pass_, p, precision):
        R, S = w_shape[2:]
        raise ValueError(f"{where}: algorithm {algo!r} cannot serve the {pass_} pass of a {R}x{S} "
                         f"kernel with stride {stride}, dilation {dilation}, groups {groups} "
                         f"and C={x_shape[1]} (Winograd: 3x3, stride 1, dilation 1, not "
                         f"backward_weights; depthwise: groups == C > 1)")
    key = (pass_, x_shape, w_shape, stride, pads, dilation, groups, isa, threads, precision)
    return key, {"algorithm": algo, "times": times}


def _json_constant(name):
    raise ValueError(f"{name} is not a number autotune files hold")


def _json_float(text):
    v = float(text)
    if v in (float("inf"), float("-inf")):
        raise ValueError(f"the number {text[:40]} overflows a float")
    return v


def _json_object(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise ValueError(f"the key {_show(k)} appears twice in an object")
        d[k] = v
    return d


def autotune_load(path):
    """Adds the choices of a file autotune_save wrote (they replace equal keys);
    returns how many were loaded.

    A file that is not one raises ValueError and leaves the table as it was (all or
    nothing): not UTF-8 JSON (or larger than MAX_FILE_BYTES, or holding NaN, Infinity
    or duplicate keys), not {"fastconv_autotune": 1, "entries": [...]}, or an entry
    with a missing, unknown or mistyped field (ints must be JSON integers: 1.0 is not
    a stride), shapes and arguments that are no convolution, or an algorithm that
    cannot serve its pass and shapes (Winograd for a 5x5 kernel or stride 2, depthwise
    for a non-depthwise convolution); its message names the entry."""
    with open(path, "rb") as f:
        raw = f.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise ValueError(f"autotune_load: {path} is larger than {MAX_FILE_BYTES} bytes: "
                         f"not an autotune file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"autotune_load: {path} is not UTF-8 text: {e}") from None
    try:
        data = json.loads(text, parse_constant=_json_constant, parse_float=_json_float,
                          object_pairs_hook=_json_object)
    except RecursionError:
        raise ValueError(f"autotune_load: {path} is not JSON fastconv reads: nested too "
                         f"deeply") from None
    except ValueError as e:     # json.JSONDecodeError is one
        raise ValueError(f"autotune_load: {path} is not JSON: {e}") from None
    if (type(data) is not dict or type(data.get("fastconv_autotune")) is not int
            or data["fastconv_autotune"] != 1 or type(data.get("entries")) is not list):
        raise ValueError(f"autotune_load: {path} is not a fastconv autotune file (expected "
                         f'{{"fastconv_autotune": 1, "entries": [...]}})')
    loaded, first = {}, {}
    for i, e in enumerate(data["entries"]):
        where = f"autotune_load: entry {i} of {path}"
        try:
            key, value = _parse_entry(e, where)
        except _Malformed as err:
            raise ValueError(f"{where} is malformed: {err}") from None
        if key in loaded:
            raise ValueError(f"{where} has the same key as entry {first[key]}")
        loaded[key], first[key] = value, i
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

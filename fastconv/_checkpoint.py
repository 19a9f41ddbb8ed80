"""Training checkpoints for fastconv.train.fit: a nested structure of dicts, lists,
tuples, numbers, strings, None and NumPy arrays in one .npz file, never pickled.

The arrays are the archive's members `a0`, `a1`, ...; the structure is JSON, stored as
the uint8 member `__checkpoint__`, with each array replaced by {"__array__": name} (a
NumPy scalar by {"__scalar__": name}), tuples by {"__tuple__": [...]} and every dict by
{"__dict__": [[key, value], ...]} so that integer keys (an optimizer's per-parameter
state, as torch numbers it) come back as integers. Reading uses
np.load(allow_pickle=False) and accepts only numeric and boolean arrays.

fastconv.save / fastconv.load of nested dicts, where the library has them, are used
instead (fastconv.train tries them first); this format exists for when they do not.
"""
import json
import os

import numpy as np

__all__ = ["save_checkpoint", "load_checkpoint", "is_checkpoint"]

_TREE = "__checkpoint__"
_FORMAT = 1


def _encode(obj, arrays):
    if isinstance(obj, (bool, str)) or obj is None:
        return obj
    if isinstance(obj, int):
        return obj
    if isinstance(obj, float):
        return {"__float__": repr(obj)}       # nan and inf survive strict JSON readers
    if hasattr(obj, "detach") and hasattr(obj, "numpy"):   # a CPU torch tensor
        obj = obj.detach().cpu().numpy()
    if isinstance(obj, (np.ndarray, np.generic)):
        a = np.asarray(obj)
        if a.dtype.kind not in "biuf":
            raise TypeError(f"save_checkpoint: cannot store an array of dtype {a.dtype} "
                            f"(numbers and booleans only)")
        name = f"a{len(arrays)}"
        arrays[name] = a
        return {"__scalar__" if isinstance(obj, np.generic) else "__array__": name}
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if isinstance(k, bool) or not isinstance(k, (str, int)):
                raise TypeError(f"save_checkpoint: dict keys must be str or int, got {k!r}")
            items.append([k, _encode(v, arrays)])
        return {"__dict__": items}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, arrays) for v in obj]}
    if isinstance(obj, list):
        return [_encode(v, arrays) for v in obj]
    raise TypeError(f"save_checkpoint: cannot store a {type(obj).__name__} (dicts, lists, "
                    f"tuples, numbers, strings, None and arrays only)")


def _decode(node, arrays, path):
    if isinstance(node, list):
        return [_decode(v, arrays, path) for v in node]
    if not isinstance(node, dict):
        return node
    if len(node) != 1:
        raise ValueError(f"load_checkpoint: {path} has a malformed structure")
    (tag, value), = node.items()
    if tag == "__float__":
        return float(value)
    if tag in ("__array__", "__scalar__"):
        if value not in arrays:
            raise ValueError(f"load_checkpoint: {path} lacks its array {value!r}")
        a = arrays[value]
        return a[()] if tag == "__scalar__" else a
    if tag == "__tuple__":
        return tuple(_decode(v, arrays, path) for v in value)
    if tag == "__dict__":
        return {k: _decode(v, arrays, path) for k, v in value}
    raise ValueError(f"load_checkpoint: {path} has an unknown entry {tag!r}")


def save_checkpoint(obj, path):
    """Writes `obj` to `path` (exactly that name) through a temporary file renamed into
    place, so that a crash while writing leaves the previous checkpoint whole."""
    arrays = {}
    tree = json.dumps({"format": _FORMAT, "tree": _encode(obj, arrays)})
    arrays[_TREE] = np.frombuffer(tree.encode(), dtype=np.uint8)
    path = os.fspath(path)
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def is_checkpoint(path):
    """Whether `path` is a file in this format."""
    try:
        z = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return False
    if not isinstance(z, np.lib.npyio.NpzFile):
        return False
    with z:
        return _TREE in z.files


def load_checkpoint(path):
    """The structure save_checkpoint wrote. A file of another kind is a ValueError."""
    path = os.fspath(path)
    try:
        z = np.load(path, allow_pickle=False)
        if not isinstance(z, np.lib.npyio.NpzFile):
            raise ValueError("it is not an .npz archive")
        with z:
            if _TREE not in z.files:
                raise ValueError("no checkpoint structure in it")
            arrays = {}
            for name in z.files:
                a = z[name]
                if a.dtype.kind not in "biuf":
                    raise ValueError(f"its member {name!r} holds {a.dtype}")
                arrays[name] = a
        meta = json.loads(arrays.pop(_TREE).tobytes().decode())
    except FileNotFoundError:
        raise
    except (OSError, ValueError, EOFError, UnicodeDecodeError) as e:
        raise ValueError(f"load_checkpoint: {path} is not a fastconv checkpoint: {e}") from None
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT or "tree" not in meta:
        raise ValueError(f"load_checkpoint: {path} is not a fastconv checkpoint of format "
                         f"{_FORMAT}")
    return _decode(meta["tree"], arrays, path)

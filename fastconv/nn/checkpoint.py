"""fastconv.save / fastconv.load: model weights and whole training checkpoints in a
safe file format (an .npz: a zip of .npy arrays; nothing is ever pickled).

    fastconv.save(model, "m.npz")                 # the state dict, keys as in PyTorch
    fastconv.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                   "scheduler": sched.state_dict(), "epoch": 3}, "ckpt.npz")
    ckpt = fastconv.load("ckpt.npz")              # the same nesting back

A model, or a flat dict of named arrays, is written as one .npy member per array,
named by its key (plain NumPy: np.load reads it). Anything else is a checkpoint tree:
dicts (str or int keys), lists, tuples, None, bools, ints, floats, strings and arrays
of real numbers (NumPy arrays, or torch tensors, saved as NumPy). Its arrays are
members a0, a1, ... and the nesting is a JSON index stored as one more member
(UTF-8 bytes in a uint8 array, CHECKPOINT_INDEX), so that the file stays a plain,
pickle-free .npz.
"""
import json
import numbers
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Mapping

import numpy as np

from fastconv.nn.module import Module

__all__ = ["save", "load", "CHECKPOINT_INDEX"]

CHECKPOINT_INDEX = "__fastconv_checkpoint__"
_FORMAT = 1


def save(obj, path):
    """Writes obj to an .npz file at exactly `path` (np.savez would append ".npz" to a
    name without it). obj: a Module (its state_dict()), a flat dict of named arrays,
    or a nested checkpoint (see the module docstring). A value that cannot be saved
    safely is a TypeError naming where it is in obj, before the file is opened."""
    if isinstance(obj, Module):
        members = obj.state_dict()
    elif _flat_arrays(obj):
        members = OrderedDict((k, np.asarray(v)) for k, v in obj.items())
        for k, v in members.items():
            _check_array(v, f"obj[{k!r}]")
    else:
        arrays = []
        tree = _encode(obj, "obj", arrays)
        index = json.dumps({"format": _FORMAT, "tree": tree}, allow_nan=True)
        members = OrderedDict((f"a{i}", a) for i, a in enumerate(arrays))
        members[CHECKPOINT_INDEX] = np.frombuffer(index.encode("utf-8"), np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **members)


def load(path, model=None, strict=True):
    """Reads what save wrote. Without `model`: a state dict (an OrderedDict of
    arrays) for a model or flat dict, the nested object for a checkpoint. With
    `model`: loads a state dict into it (model.load_state_dict(.., strict)) and
    returns the model.

    A file that is not such an archive (random bytes, text, an empty file, a plain .npy,
    another zip, arrays of objects, a damaged index) is a ValueError naming the path;
    nothing is ever unpickled. A path that does not exist is a FileNotFoundError."""
    with open(path, "rb") as f:
        state = _read_archive(f, path)
    if CHECKPOINT_INDEX in state:
        obj = _decode_checkpoint(state, path)
        if model is not None:
            raise ValueError(f"load: {path} holds a checkpoint (nested values), not a "
                             f"model's state dict: load it with fastconv.load(path) and "
                             f"pass its model entry to model.load_state_dict")
        return obj
    if model is None:
        return state
    model.load_state_dict(state, strict=strict)
    return model


# -- the checkpoint tree --------------------------------------------------------------
def _flat_arrays(obj):
    return (isinstance(obj, Mapping) and len(obj) > 0 and CHECKPOINT_INDEX not in obj
            and all(isinstance(k, str) and k for k in obj)
            and all(isinstance(v, np.ndarray) or _is_tensor(v) for v in obj.values()))


def _is_tensor(v):
    return hasattr(v, "detach") and hasattr(v, "numpy")


def _check_array(a, where):
    if a.dtype.hasobject or a.dtype.kind not in "biuf":
        raise TypeError(f"save: {where} is an array of {a.dtype}; only arrays of real "
                        f"numbers (bool, int, float) can be saved")


def _encode(v, where, arrays):
    """v as JSON-able data; arrays are appended to `arrays` and referenced by index.
    Every JSON object in the result is tagged ($array, $dict, $odict, $tuple)."""
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, np.generic) and v.dtype.kind in "biuf":
        v = v.item()
    if isinstance(v, numbers.Integral):
        return int(v)
    if isinstance(v, numbers.Real):
        return float(v)
    if _is_tensor(v):
        t = v.detach().cpu()
        v = t.numpy() if str(t.dtype) != "torch.bfloat16" else t.float().numpy()
    if isinstance(v, np.ndarray):
        _check_array(v, where)
        arrays.append(v)
        return {"$array": len(arrays) - 1}
    if isinstance(v, Mapping):
        items = []
        for k, x in v.items():
            if isinstance(k, bool) or not isinstance(k, (str, numbers.Integral)):
                raise TypeError(f"save: {where} has a key {k!r} of type "
                                f"{type(k).__name__}; keys must be str or int")
            k = k if isinstance(k, str) else int(k)
            items.append([k, _encode(x, f"{where}[{k!r}]", arrays)])
        return {"$odict" if isinstance(v, OrderedDict) else "$dict": items}
    if isinstance(v, (list, tuple)):
        out = [_encode(x, f"{where}[{i}]", arrays) for i, x in enumerate(v)]
        return {"$tuple": out} if isinstance(v, tuple) else out
    raise TypeError(f"save: {where} is a {type(v).__name__}; a checkpoint holds dicts, "
                    f"lists, tuples, None, bools, numbers, strings and arrays")


def _decode_checkpoint(state, path):
    def bad(why):
        return ValueError(f"load: {path} has a damaged checkpoint index: {why}")
    raw = state.pop(CHECKPOINT_INDEX)
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise bad(f"the index is an array of {raw.dtype} with shape {raw.shape}")
    try:
        index = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise bad(f"{type(e).__name__}: {e}") from None
    if not isinstance(index, dict) or index.get("format") != _FORMAT or "tree" not in index:
        raise bad(f"expected format {_FORMAT}, got "
                  f"{index.get('format') if isinstance(index, dict) else index!r}")

    def dec(v, depth=0):
        if depth > 200:
            raise bad("nested too deeply")
        if v is None or isinstance(v, (bool, int, float, str)):
            return v
        if isinstance(v, list):
            return [dec(x, depth + 1) for x in v]
        if isinstance(v, dict) and len(v) == 1:
            (tag, body), = v.items()
            if tag == "$array":
                key = f"a{body}" if isinstance(body, int) and not isinstance(body, bool) \
                    else None
                if key not in state:
                    raise bad(f"it refers to array {body!r}, which the file lacks")
                return state[key]
            if tag == "$tuple" and isinstance(body, list):
                return tuple(dec(x, depth + 1) for x in body)
            if tag in ("$dict", "$odict") and isinstance(body, list):
                out = OrderedDict() if tag == "$odict" else {}
                for item in body:
                    if not (isinstance(item, list) and len(item) == 2
                            and isinstance(item[0], (str, int))
                            and not isinstance(item[0], bool)):
                        raise bad(f"a dict entry is {item!r}, not a [key, value] pair")
                    out[item[0]] = dec(item[1], depth + 1)
                return out
        raise bad(f"unexpected entry {str(v)[:80]!r}")
    return dec(index["tree"])


# -- reading the archive --------------------------------------------------------------
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")   # a local file header; an empty zip's end


class _NotArchive(ValueError):
    pass


def _read_archive(f, path):
    def bad(why):
        return _NotArchive(f"load: {path} is not a fastconv archive (an .npz of numeric "
                           f"arrays, as fastconv.save writes): {why}")
    magic = f.read(4)
    if magic not in _ZIP_MAGIC:
        raise bad("the file is empty" if not magic else "it is not a zip file")
    f.seek(0)
    fmt = np.lib.format
    state = OrderedDict()
    try:
        with zipfile.ZipFile(f) as z:
            for info in z.infolist():
                name = info.filename
                if info.is_dir() or not name.endswith(".npy"):
                    raise bad(f"its member {name!r} is not a .npy array")
                with z.open(info) as m:
                    version = fmt.read_magic(m)
                    if version == (1, 0):
                        shape, _, dtype = fmt.read_array_header_1_0(m)
                    elif version == (2, 0):
                        shape, _, dtype = fmt.read_array_header_2_0(m)
                    else:
                        raise bad(f"its member {name!r} has .npy format {version}")
                    header = m.tell()
                if dtype.hasobject or dtype.kind not in "biuf":
                    raise bad(f"its member {name!r} holds {dtype}, not real numbers")
                nbytes = dtype.itemsize
                for d in shape:
                    nbytes *= d
                if header + nbytes != info.file_size:
                    raise bad(f"its member {name!r} of shape {shape} and dtype {dtype} "
                              f"needs {nbytes} bytes of data, the archive holds "
                              f"{info.file_size - header}")
                with z.open(info) as m:
                    state[name[:-4]] = fmt.read_array(m, allow_pickle=False)
    except _NotArchive:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, OSError,
            NotImplementedError, RuntimeError) as e:
        raise bad(f"{type(e).__name__}: {e}") from None
    return state

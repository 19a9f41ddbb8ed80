"""Python layering: the package's modules bind what they use from the modules that
define it, never from the top-level package, so that no import is circular.

The rule, checked on the source (ast) of fastconv/**/*.py:

* Library modules (every file under fastconv/ except the top-level package itself,
  fastconv/__init__.py, and its clients, fastconv/__main__.py and fastconv/bench/)
  never bind the top-level package: no `import fastconv` (with or without `as`), no
  bare `import fastconv.sub` (it binds the name `fastconv`; write
  `import fastconv.sub as name`), no `from fastconv import X` unless X is a submodule
  or subpackage (`from fastconv import _C`, `from fastconv import nn`), no relative
  import of the same, and no `getattr(fastconv, ...)` or
  `importlib.import_module("fastconv")`. `from fastconv.functional import conv2d` and
  the like are the way to reach an op.
* The clients may use the public top-level API (the benchmark registry looks ops up
  on it by name, so that stand-ins patched onto fastconv reach it), but
  `import fastconv` loads none of them: nothing that imports the top-level package
  runs while it initializes.

And at run time, each public submodule imports first, on its own, in a fresh process.
"""
import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

import fastconv

PKG = Path(fastconv.__file__).resolve().parent
TOP = "fastconv"
CLIENTS = ("__init__.py", "__main__.py", "bench/")


def _submodules():
    """Names X that `from fastconv import X` may import as a module: .py files,
    packages and compiled extensions directly under fastconv/."""
    names = set()
    for p in PKG.iterdir():
        if p.is_dir() and (p / "__init__.py").exists():
            names.add(p.name)
        elif p.suffix in (".py", ".pyx") or p.suffix in (".so", ".pyd"):
            names.add(p.name.split(".")[0])
    names.discard("__init__")
    return names


def _is_client(rel):
    return any(rel == c or rel.startswith(c) for c in CLIENTS)


def _sources():
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG).as_posix()
        yield rel, path


def _resolve(rel, node):
    """The absolute module a (possibly relative) ImportFrom names."""
    if not node.level:
        return node.module
    parts = [TOP] + rel.split("/")[:-1]        # the importing file's package
    base = parts[:len(parts) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def top_level_uses(rel, source, submodules):
    """(line, text) of every place `source` binds or reaches the top-level package."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name == TOP:
                    found.append((node.lineno, f"import {a.name}"))
                elif a.name.startswith(TOP + ".") and a.asname is None:
                    found.append((node.lineno, f"import {a.name} (binds '{TOP}'; "
                                               f"use `as`)"))
        elif isinstance(node, ast.ImportFrom):
            if _resolve(rel, node) != TOP:
                continue
            for a in node.names:
                if a.name not in submodules:
                    found.append((node.lineno, f"from {'.' * node.level or TOP} "
                                               f"import {a.name}"))
        elif isinstance(node, ast.Call) and node.args:
            f, first = node.func, node.args[0]
            name = f.id if isinstance(f, ast.Name) else getattr(f, "attr", None)
            if name in ("getattr", "hasattr", "setattr") and (
                    isinstance(first, ast.Name) and first.id == TOP):
                found.append((node.lineno, f"{name}({TOP}, ...)"))
            if name in ("import_module", "__import__") and (
                    isinstance(first, ast.Constant) and first.value == TOP):
                found.append((node.lineno, f"{name}({TOP!r})"))
    return found


def test_the_rule_catches_what_it_forbids():
    subs = {"_C", "nn", "functional"}
    bad = """
import fastconv
import fastconv as fc
import fastconv.nn
from fastconv import conv2d
from fastconv import *
def f():
    import fastconv
    return getattr(fastconv, "conv2d")
import importlib; importlib.import_module("fastconv")
"""
    assert len(top_level_uses("nn/conv.py", bad, subs)) == 8
    rel_bad = "from .. import conv2d\nfrom . import conv2d\n"
    assert len(top_level_uses("nn/conv.py", rel_bad, subs)) == 1   # `from .` is fastconv.nn
    assert len(top_level_uses("torch.py", rel_bad, subs)) == 1     # `from .` is fastconv
    good = """
import fastconv.functional as fcf
from fastconv import _C, nn
from fastconv.functional import conv2d, conv2d_backward
from fastconv.functional._args import as_float32
from . import init
"""
    assert top_level_uses("nn/conv.py", good, subs) == []


def test_library_modules_never_import_the_top_level_package():
    subs = _submodules()
    assert {"_C", "functional", "nn", "runtime", "errors"} <= subs
    bad = []
    checked = 0
    for rel, path in _sources():
        if _is_client(rel):
            continue
        checked += 1
        for line, what in top_level_uses(rel, path.read_text(encoding="utf-8"), subs):
            bad.append(f"fastconv/{rel}:{line}: {what}")
    assert checked > 20
    assert not bad, ("modules below the top-level package import it (bind what you use "
                     "from its submodule instead, e.g. `from fastconv.functional import "
                     "conv2d`):\n" + "\n".join(bad))


def _run(code):
    env = dict(os.environ)
    env.pop("PYTHONSTARTUP", None)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120)


def test_importing_the_package_loads_none_of_its_clients():
    """The modules allowed to import the top-level package (fastconv.bench's) must not
    run while it initializes, or the import would be circular."""
    subs = _submodules()
    clients = sorted(
        "fastconv." + rel[:-3].replace("/", ".").removesuffix(".__init__")
        for rel, path in _sources()
        if _is_client(rel) and rel not in ("__init__.py", "__main__.py")
        and top_level_uses(rel, path.read_text(encoding="utf-8"), subs))
    assert "fastconv.bench.ops" in clients
    r = _run("import sys, fastconv; print(' '.join(sorted(m for m in sys.modules "
             "if m.startswith('fastconv'))))")
    assert r.returncode == 0, r.stderr
    loaded = set(r.stdout.split())
    assert "fastconv.nn" in loaded and "fastconv.functional" in loaded
    assert not loaded & set(clients), sorted(loaded & set(clients))


SUBMODULES = ["fastconv.nn", "fastconv.torch", "fastconv.onnx", "fastconv.models",
              "fastconv.optim", "fastconv.functional", "fastconv.data",
              "fastconv.models.train", "fastconv.nn.conv", "fastconv.functional.conv",
              "fastconv.runtime"]
NEEDS = {"fastconv.torch": "torch", "fastconv.onnx": "onnx"}


@pytest.mark.parametrize("module", SUBMODULES)
def test_each_submodule_imports_first_in_a_fresh_process(module):
    dep = NEEDS.get(module)
    if dep:
        pytest.importorskip(dep)
    r = _run(f"import {module}\n"
             f"import numpy as np\n"
             f"from fastconv import nn\n"
             f"y = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2))"
             f"(np.ones((1, 1, 6, 6), np.float32))\n"
             f"assert y.shape == (1, 2, 2, 2), y.shape\n")
    assert r.returncode == 0, r.stderr

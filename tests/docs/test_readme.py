"""The README's Python examples run as written: every ```python block, in order, in one
fresh interpreter (a block may use what an earlier one defined), in an empty working
directory.

A block that needs optional packages says so on the line before its fence, as an HTML
comment that GitHub does not render:

    <!-- requires: torch onnx -->
    ```python
    ...

and is skipped (with the reason printed) only when one of them is not installed; every
other block must run. Failures name the README line: each block is compiled with its
own line numbers."""
import importlib.util
import os
import re
import subprocess
import sys
import textwrap

import pytest

import fastconv

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
README = os.path.join(ROOT, "README.md")

_REQUIRES = re.compile(r"^<!--\s*requires:\s*([\w.\- ]+?)\s*-->\s*$")
# import names of the packages a marker may name by their pip name
_IMPORT_NAME = {"scikit-learn": "sklearn", "pillow": "PIL", "onnxruntime": "onnxruntime"}


def python_blocks(text):
    """[(first line number of the code, code, [required packages])] of every ```python
    block of a Markdown text."""
    blocks, lines = [], text.splitlines()
    i = 0
    while i < len(lines):
        fence = re.match(r"^(\s*)(`{3,}|~{3,})\s*(\S*)", lines[i])
        if not fence:
            i += 1
            continue
        marker, lang = fence.group(2), fence.group(3).lower()
        start = i + 1
        j = start
        while j < len(lines) and not lines[j].lstrip().startswith(marker):
            j += 1
        if lang in ("python", "py", "python3"):
            prev = lines[i - 1] if i > 0 else ""
            m = _REQUIRES.match(prev.strip())
            blocks.append((start + 1, textwrap.dedent("\n".join(lines[start:j]) + "\n"),
                           m.group(1).split() if m else []))
        i = j + 1
    return blocks


def _missing(packages):
    return [p for p in packages
            if importlib.util.find_spec(_IMPORT_NAME.get(p.lower(), p)) is None]


DRIVER = textwrap.dedent("""
    import json, sys, traceback
    blocks = json.load(open(sys.argv[1]))
    ns = {"__name__": "__main__"}
    for line, code in blocks:
        print(f"--- README.md:{line}", flush=True)
        try:
            exec(compile("\\n" * (line - 1) + code, "README.md", "exec"), ns)
        except BaseException:
            traceback.print_exc()
            print(f"FAILED README.md:{line}", flush=True)
            sys.exit(1)
    print("ALL BLOCKS RAN")
""")


def test_the_parser_finds_blocks_and_markers():
    text = ("# t\n```python\na = 1\n```\n<!-- requires: torch onnx -->\n```python\nb = 2\n"
            "```\n```bash\nls\n```\n````python\nc = '```'\n````\n")
    assert python_blocks(text) == [(3, "a = 1\n", []), (7, "b = 2\n", ["torch", "onnx"]),
                                   (13, "c = '```'\n", [])]


def test_readme_python_blocks_run(tmp_path):
    with open(README, encoding="utf-8") as f:
        blocks = python_blocks(f.read())
    assert len(blocks) >= 6
    runnable, skipped = [], []
    for line, code, needs in blocks:
        missing = _missing(needs)
        if missing:
            skipped.append(f"README.md:{line} needs {', '.join(missing)}")
        else:
            runnable.append((line, code))
    import json

    (tmp_path / "blocks.json").write_text(json.dumps(runnable))
    (tmp_path / "driver.py").write_text(DRIVER)
    # the fastconv under test, wherever the interpreter would otherwise find one
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(fastconv.__file__)))
    env = dict(os.environ, MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join([package_parent] + [p for p in os.environ.get(
                   "PYTHONPATH", "").split(os.pathsep) if p]))
    try:
        r = subprocess.run([sys.executable, str(tmp_path / "driver.py"),
                            str(tmp_path / "blocks.json")], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"the README's examples did not finish in 15 minutes:\n{e.stdout}")
    for s in skipped:
        print("skipped", s)
    assert r.returncode == 0 and "ALL BLOCKS RAN" in r.stdout, (
        f"{r.stdout[-3000:]}\n{r.stderr[-6000:]}")

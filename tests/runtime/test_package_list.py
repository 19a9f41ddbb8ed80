"""Every Python package under fastconv/ is listed in pyproject.toml, so that a regular
(non-editable) `pip install .` ships it (CI installs editable and would not notice)."""
import pathlib
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_every_subpackage_is_listed():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())
                 ["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts)
             for p in (ROOT / "fastconv").rglob("__init__.py")}
    assert found - listed == set(), "add these to [tool.setuptools] packages"

"""The shipped header and shared library work from plain C and from C++."""
import os
import shutil
import subprocess

import pytest

import fastconv

HERE = os.path.dirname(os.path.abspath(__file__))


def _build_and_run(compiler, std, src, tmp_path, extra=()):
    exe = tmp_path / f"prog_{os.path.basename(compiler)}"
    lib = fastconv.get_library_dir()
    cmd = [compiler, f"-std={std}", "-Wall", "-Werror", *extra, src, "-I", fastconv.get_include(),
           "-L", lib, "-lfastconv", f"-Wl,-rpath,{lib}", "-lm", "-o", str(exe)]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("lang", ["c99", "c++11"])
def test_c_program_links_and_runs(lang, tmp_path):
    compiler = shutil.which("g++" if lang.startswith("c++") else "cc")
    if compiler is None:
        pytest.skip(f"no compiler for {lang}")
    extra = ("-x", "c++") if lang.startswith("c++") else ()
    res = _build_and_run(compiler, lang, os.path.join(HERE, "..", "c", "test_conv_api.c"), tmp_path, extra)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "ok" in res.stdout


def test_header_and_library_are_installed():
    assert os.path.isfile(os.path.join(fastconv.get_include(), "fastconv.h"))
    assert os.path.isfile(os.path.join(fastconv.get_library_dir(), "libfastconv.so"))

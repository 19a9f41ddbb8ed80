"""examples/c/fastconv_example.c, compiled as C99 and as C++ against the shipped header
and library (fastconv.get_include() / get_library_dir()), run on every ISA path. The
program checks each op against naive double-precision loops or the adjoint identity
and exits non-zero on any mismatch; the numbers it prints are checked here too."""
import os
import re
import shutil
import subprocess

import pytest

import fastconv

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "examples", "c", "fastconv_example.c")


@pytest.fixture(scope="module", params=["c99", "c++11"])
def example_exe(request, tmp_path_factory):
    lang = request.param
    cxx = lang.startswith("c++")
    compiler = shutil.which("g++" if cxx else "cc")
    if compiler is None:
        pytest.skip(f"no compiler for {lang}")
    exe = tmp_path_factory.mktemp(lang.replace("+", "p")) / "fastconv_example"
    lib = fastconv.get_library_dir()
    cmd = [compiler, f"-std={lang}", "-Wall", "-Wextra", "-Werror", "-O1",
           *(["-x", "c++"] if cxx else []), EXAMPLE, "-I", fastconv.get_include(),
           "-L", lib, "-lfastconv", f"-Wl,-rpath,{lib}", "-lm", "-pthread", "-o", str(exe)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return str(exe)


@pytest.mark.parametrize("isa", fastconv.available_isas())
def test_example_program_runs_and_checks_out(example_exe, isa):
    env = dict(os.environ, FASTCONV_ISA=isa)
    res = subprocess.run([example_exe], capture_output=True, text=True, timeout=60, env=env)
    out = res.stdout
    assert res.returncode == 0, out + res.stderr
    assert out.rstrip().endswith("all checks passed")
    assert f"fastconv {fastconv.__version__}, ISA {isa}" in out
    # the program asks for 2 threads; a build without OpenMP runs on one
    assert f"threads {2 if fastconv.info(measure=False)['openmp'] else 1}" in out
    assert "sgemm C = [58 64; 139 154]" in out
    assert "FAIL" not in out
    assert "results identical to lone calls: ok" in out
    # Every numerical check printed its error: all within float32 rounding.
    errors = [float(e) for e in re.findall(r"error ([0-9.e+-]+)", out)]
    assert len(errors) == 21 and max(errors) < 1e-5
    for line in ("stride 0 -> status 3: invalid stride", "groups 2 on 3 channels -> invalid groups",
                 "NULL descriptor -> invalid argument",
                 "workspace one byte short -> workspace smaller than the size query reported",
                 "winograd on 5x5              the algorithm cannot serve"):
        assert line in out

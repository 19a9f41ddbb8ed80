"""tests/kernels/test_ukernels.c: every micro-kernel of every registered kernel table
the CPU can run, against a double-precision reference and the portable table, on edge
tiles. Compiled against the internal headers in src_c/ and linked with the built
libfastconv.so (the C program calls the registry's exported fc_kernels_table)."""
import os
import shutil
import subprocess

import pytest

import fastconv

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SOURCE = os.path.join(ROOT, "tests", "kernels", "test_ukernels.c")
SRC_C = os.path.join(ROOT, "src_c")


@pytest.fixture(scope="module")
def ukernels_exe(tmp_path_factory):
    cc = shutil.which(os.environ.get("CC", "cc"))
    if cc is None:
        pytest.skip("no C compiler")
    if not os.path.isfile(os.path.join(SRC_C, "core", "registry.h")):
        pytest.skip("needs the source tree (src_c/)")
    exe = tmp_path_factory.mktemp("ukernels") / "test_ukernels"
    lib = fastconv.get_library_dir()
    cmd = [cc, "-std=gnu11", "-O1", "-Wall", "-Werror", "-I", SRC_C,
           "-I", os.path.join(SRC_C, "include"), SOURCE, "-L", lib, "-lfastconv",
           f"-Wl,-rpath,{lib}", "-lm", "-pthread", "-o", str(exe)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return str(exe)


def test_every_table_matches_portable(ukernels_exe):
    res = subprocess.run([ukernels_exe], capture_output=True, text=True, timeout=300)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    assert "all kernel tables agree" in out
    # every table this CPU runs was exercised, and only those were skipped
    for isa in fastconv.available_isas():
        assert f"{isa:<8} ok" in res.stdout, out

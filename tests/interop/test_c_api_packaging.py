"""C users' build files: a program built through pkg-config (fastconv.pc) and through
CMake (find_package(fastconv) -> fastconv::fastconv) links the shipped library and
runs; the README's C example is that program's source; fc_conv_algorithm_name."""
import os
import re
import shutil
import subprocess

import pytest

import fastconv

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

NAMES = """
#include <stdio.h>
#include <string.h>
#include "fastconv.h"

int main(void) {
    static const char *want[] = {"auto", "direct", "im2col", "winograd_f23",
                                 "winograd_f43", "depthwise"};
    for (int a = 0; a < 6; a++)
        if (strcmp(fc_conv_algorithm_name((fc_conv_algorithm)a), want[a]) != 0) return 1;
    if (strcmp(fc_conv_algorithm_name((fc_conv_algorithm)99), "unknown") != 0) return 2;
    printf("names ok %s\\n", fc_version());
    return 0;
}
"""


def _readme_c_example():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        blocks = re.findall(r"^```c\n(.*?)^```", f.read(), re.M | re.S)
    assert len(blocks) == 1, "the README has one C example"
    return blocks[0]


def _run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)
    assert r.returncode == 0, f"{cmd}:\n{r.stdout}\n{r.stderr}"
    return r.stdout


def _tool(name):
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed")
    try:
        subprocess.run([path, "--version"], capture_output=True, timeout=60, check=True)
    except (OSError, subprocess.SubprocessError):
        pytest.skip(f"{name} does not run here")
    return path


def test_package_files_are_installed_beside_the_library():
    pc = os.path.join(fastconv.get_pkgconfig_dir(), "fastconv.pc")
    cfg = os.path.join(fastconv.get_cmake_dir(), "fastconvConfig.cmake")
    assert os.path.isfile(pc) and os.path.isfile(cfg)
    assert os.path.isfile(os.path.join(fastconv.get_cmake_dir(), "fastconvConfigVersion.cmake"))
    with open(pc) as f:
        assert f"Version: {fastconv.__version__}" in f.read()


@pytest.mark.parametrize("source", ["names", "readme"])
def test_pkg_config_build(tmp_path, source):
    pkg_config = _tool("pkg-config")
    cc = _tool("cc")
    env = dict(os.environ, PKG_CONFIG_PATH=fastconv.get_pkgconfig_dir())
    assert _run([pkg_config, "--modversion", "fastconv"], env=env).strip() == fastconv.__version__
    flags = _run([pkg_config, "--cflags", "--libs", "fastconv"], env=env).split()
    src = tmp_path / "prog.c"
    src.write_text(NAMES if source == "names" else _readme_c_example())
    exe = tmp_path / "prog"
    _run([cc, "-std=c99", "-Wall", "-Werror", str(src), *flags, "-o", str(exe)])
    out = _run([str(exe)])           # no LD_LIBRARY_PATH: the rpath from the .pc finds it
    assert ("names ok" in out) if source == "names" else ("output 2x4x8x8" in out), out


def test_cmake_find_package(tmp_path):
    cmake = _tool("cmake")
    _tool("cc")
    src = tmp_path / "src"
    src.mkdir()
    (src / "names.c").write_text(NAMES)
    (src / "readme.c").write_text(_readme_c_example())
    (src / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.10)\n"
        "project(uses_fastconv C)\n"
        f"find_package(fastconv {fastconv.__version__.rsplit('.', 1)[0]} REQUIRED)\n"
        "add_executable(names names.c)\n"
        "target_link_libraries(names PRIVATE fastconv::fastconv)\n"
        "add_executable(readme readme.c)\n"
        "target_link_libraries(readme PRIVATE fastconv::fastconv)\n")
    build = tmp_path / "build"
    # found through the prefix path, as for any installed package: <prefix>/lib/cmake/fastconv
    prefix = os.path.dirname(fastconv.get_library_dir())
    _run([cmake, "-S", str(src), "-B", str(build), f"-DCMAKE_PREFIX_PATH={prefix}"])
    _run([cmake, "--build", str(build)])
    assert "names ok" in _run([str(build / "names")])
    assert "output 2x4x8x8" in _run([str(build / "readme")])
    # a newer version than this build is refused
    r = subprocess.run([cmake, "-S", str(src), "-B", str(tmp_path / "b2"),
                        f"-Dfastconv_DIR={fastconv.get_cmake_dir()}"],
                       capture_output=True, text=True, timeout=300,
                       input=None, env=dict(os.environ))
    assert r.returncode == 0, r.stderr
    (src / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.10)\nproject(p C)\n"
        "find_package(fastconv 99.0 REQUIRED)\n")
    r = subprocess.run([cmake, "-S", str(src), "-B", str(tmp_path / "b3"),
                        f"-Dfastconv_DIR={fastconv.get_cmake_dir()}"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode != 0 and "fastconv" in r.stderr

"""Builds the Cython extension fastconv._C and the plain shared library
fastconv/lib/libfastconv.so (with the header in fastconv/include) from src_c/.

ISA-specific kernels carry their own `#pragma GCC target`, so every file compiles
with the same portable flags (no -march=native). OpenMP is used when the compiler
has it; FASTCONV_NO_OPENMP=1 forces a serial build.
"""
import glob
import os
import shutil
import subprocess
import sysconfig
import tempfile
from concurrent.futures import ThreadPoolExecutor

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

LIB_EXT = "fastconv.lib.libfastconv"
HERE = os.path.dirname(os.path.abspath(__file__))
SOURCES = sorted(glob.glob("src_c/**/*.c", recursive=True))
# Kernel bodies (.inc) and headers: a change to any rebuilds the library.
DEPENDS = sorted(glob.glob("src_c/**/*.inc", recursive=True) + glob.glob("src_c/**/*.h", recursive=True))
INCLUDE = ["src_c/include", "src_c"]
CFLAGS = ["-O3", "-std=gnu11", "-fPIC", "-ffp-contract=fast", "-fno-math-errno",
          "-fvisibility=hidden", "-Wall", "-Wno-unknown-pragmas"]


def _compiler_has(flag):
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "t.c")
        with open(src, "w") as f:
            f.write("#include <omp.h>\nint main(void){return omp_get_max_threads() < 1;}\n")
        cmd = cc.split() + [flag, src, "-o", os.path.join(tmp, "t")]
        return subprocess.call(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0


OPENMP = os.environ.get("FASTCONV_NO_OPENMP", "") != "1" and _compiler_has("-fopenmp")
OMP_FLAGS = ["-fopenmp"] if OPENMP else []


def _c_version():
    with open(os.path.join(HERE, "src_c", "include", "fastconv.h")) as f:
        for line in f:
            if line.startswith("#define FASTCONV_VERSION "):
                return line.split('"')[1]
    raise RuntimeError("setup.py: no FASTCONV_VERSION in src_c/include/fastconv.h")


# For C and C++ users: pkg-config and CMake package files beside libfastconv.so
# (lib/pkgconfig/fastconv.pc, lib/cmake/fastconv/), from the templates in packaging/.
C_PACKAGE_FILES = {"fastconv.pc.in": "pkgconfig",
                   "fastconvConfig.cmake.in": os.path.join("cmake", "fastconv"),
                   "fastconvConfigVersion.cmake.in": os.path.join("cmake", "fastconv")}


def _write_c_package_files(libdir):
    version = _c_version()
    major, minor = version.split(".")[:2]
    for template, sub in C_PACKAGE_FILES.items():
        with open(os.path.join(HERE, "packaging", template)) as f:
            text = f.read()
        text = text.replace("@VERSION@", version).replace("@MAJOR@", major)
        text = text.replace("@MINOR@", minor)
        outdir = os.path.join(libdir, sub)
        os.makedirs(outdir, exist_ok=True)
        with open(os.path.join(outdir, template[:-3]), "w") as f:
            f.write(text)


class BuildExt(build_ext):
    def get_ext_filename(self, fullname):
        # A plain C library, not a Python module: no ABI tag. distutils asks with
        # the full dotted name in some paths and the last component in others.
        if fullname == LIB_EXT:
            return os.path.join("fastconv", "lib", "libfastconv.so")
        if fullname == LIB_EXT.rsplit(".", 1)[1]:
            return "libfastconv.so"
        return super().get_ext_filename(fullname)

    def run(self):
        # Editable installs copy the library into the source package afterwards.
        os.makedirs(os.path.join(HERE, "fastconv", "lib"), exist_ok=True)
        super().run()

    def build_extensions(self):
        # Compile each extension's C files in parallel: the kernels dominate build time.
        orig = self.compiler.compile

        def compile_parallel(sources, *args, **kwargs):
            jobs = max(1, os.cpu_count() or 1)
            with ThreadPoolExecutor(jobs) as pool:
                parts = pool.map(lambda s: orig([s], *args, **kwargs), sources)
                return [obj for objs in parts for obj in objs]

        self.compiler.compile = compile_parallel
        super().build_extensions()

    def build_extension(self, ext):
        if ext.name != LIB_EXT:
            libdir = os.path.dirname(self.get_ext_fullpath(LIB_EXT))
            ext.library_dirs = [libdir]
        super().build_extension(ext)
        if ext.name == LIB_EXT:
            # The header goes beside the library, in the build and (for editable
            # installs, which copy only the built modules) in the source package.
            built = os.path.dirname(os.path.dirname(self.get_ext_fullpath(LIB_EXT)))
            for pkg in {built, os.path.join(HERE, "fastconv")}:
                incdir = os.path.join(pkg, "include")
                os.makedirs(incdir, exist_ok=True)
                shutil.copy(os.path.join(HERE, "src_c", "include", "fastconv.h"), incdir)
                _write_c_package_files(os.path.join(pkg, "lib"))


lib = Extension(
    LIB_EXT,
    sources=SOURCES,
    depends=DEPENDS,
    include_dirs=INCLUDE,
    extra_compile_args=CFLAGS + OMP_FLAGS,
    # -lm: the library records its own need of libm, so programs link with -lfastconv alone
    extra_link_args=OMP_FLAGS + ["-Wl,-soname,libfastconv.so", "-lpthread", "-lm"],
)

crossing = Extension(
    "fastconv._C",
    sources=["fastconv/_C.pyx"],
    include_dirs=INCLUDE + [numpy.get_include()],
    libraries=["fastconv"],
    extra_compile_args=["-O2", "-Wno-unused-function"],
    extra_link_args=["-Wl,-rpath,$ORIGIN/lib"],
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
)

setup(
    ext_modules=[lib] + cythonize([crossing], language_level=3,
                                  compiler_directives={"boundscheck": False,
                                                       "wraparound": False}),
    cmdclass={"build_ext": BuildExt},
)

"""Where the pkg-config and CMake package files of the C library are (installed by
setup.py beside libfastconv.so, from packaging/)."""
import os

from fastconv.runtime import get_library_dir


def get_pkgconfig_dir():
    """The directory holding fastconv.pc: PKG_CONFIG_PATH=<it> pkg-config --cflags --libs
    fastconv."""
    return os.path.join(get_library_dir(), "pkgconfig")


def get_cmake_dir():
    """The directory holding fastconvConfig.cmake: cmake -Dfastconv_DIR=<it>, then
    find_package(fastconv) and target_link_libraries(... fastconv::fastconv)."""
    return os.path.join(get_library_dir(), "cmake", "fastconv")

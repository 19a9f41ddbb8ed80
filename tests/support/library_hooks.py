"""The library's test hooks, through ctypes: exported C functions that force an AUTO
path on or off (mode 1 / 0, -1 back to AUTO's rule) and count the calls that took it."""
import contextlib
import ctypes
import os

import fastconv

LIB = ctypes.CDLL(os.path.join(fastconv.get_library_dir(), "libfastconv.so"))


def run_counter(name):
    """The counter `name` (e.g. fc_conv_blocked_nchw_runs) as a function returning int."""
    fn = getattr(LIB, name)
    fn.restype = ctypes.c_int64
    return fn


@contextlib.contextmanager
def forced(setter, mode=1):
    """The path behind `setter` (e.g. fc_conv_blocked_nchw_set_mode) forced to `mode`
    inside the block, AUTO's rule again after it."""
    getattr(LIB, setter)(ctypes.c_int(mode))
    try:
        yield
    finally:
        getattr(LIB, setter)(ctypes.c_int(-1))

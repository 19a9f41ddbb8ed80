"""The pooling C entry points check their own arguments (statuses, never a crash),
called through ctypes on the shipped library."""
import ctypes
import os

import numpy as np
import pytest

import fastconv

I64 = ctypes.c_int64


class PoolDesc(ctypes.Structure):
    _fields_ = [(n, I64) for n in ("N", "C", "H", "W", "kernel_h", "kernel_w", "stride_h",
                                    "stride_w", "pad_top", "pad_bottom", "pad_left",
                                    "pad_right", "dilation_h", "dilation_w")] + \
               [("ceil_mode", ctypes.c_int), ("count_include_pad", ctypes.c_int)]


@pytest.fixture(scope="module")
def lib():
    return ctypes.CDLL(os.path.join(fastconv.get_library_dir(), "libfastconv.so"))


def _desc(**kw):
    d = dict(N=1, C=2, H=6, W=6, kernel_h=3, kernel_w=3, stride_h=2, stride_w=2, pad_top=1,
             pad_bottom=1, pad_left=1, pad_right=1, dilation_h=1, dilation_w=1, ceil_mode=0,
             count_include_pad=1)
    d.update(kw)
    return PoolDesc(**d)



def _p(a):
    return a.ctypes.data_as(ctypes.c_void_p)


def test_output_shape_and_statuses(lib):
    oh, ow = I64(), I64()
    d = _desc()
    assert lib.fc_pool2d_output_shape(ctypes.byref(d), ctypes.byref(oh), ctypes.byref(ow)) == 0
    assert (oh.value, ow.value) == (3, 3)
    ok = lib.fc_pool2d_output_shape(ctypes.byref(_desc()), ctypes.byref(oh), ctypes.byref(ow))
    bad = [_desc(kernel_h=0), _desc(stride_w=0), _desc(pad_left=3), _desc(pad_top=-1),
           _desc(dilation_h=0), _desc(H=1, kernel_h=4, pad_top=1, pad_bottom=1),
           _desc(N=0), _desc(N=2**40, C=2**40)]
    for d in bad:
        st = lib.fc_pool2d_output_shape(ctypes.byref(d), ctypes.byref(oh), ctypes.byref(ow))
        assert st != ok, d
    assert lib.fc_pool2d_output_shape(None, ctypes.byref(oh), ctypes.byref(ow)) != 0


def test_entry_points_reject_bad_arguments(lib):
    x = np.zeros((1, 2, 6, 6), np.float32)
    y = np.zeros((1, 2, 3, 3), np.float32)
    gx = np.zeros_like(x)
    idx = np.zeros(y.shape, np.int64)
    d = _desc()
    assert lib.fc_max_pool2d_forward(ctypes.byref(d), _p(x), _p(y), None) == 0
    assert lib.fc_max_pool2d_forward(ctypes.byref(d), None, _p(y), None) != 0
    assert lib.fc_max_pool2d_backward(ctypes.byref(d), _p(y), None, None, _p(gx)) != 0
    dd = _desc(dilation_w=2)
    assert lib.fc_avg_pool2d_forward(ctypes.byref(dd), _p(x), _p(y)) != 0
    idx[0, 1, 2, 2] = 36                      # out of the plane: refused, nothing written past
    assert lib.fc_max_pool2d_backward(ctypes.byref(d), _p(y), None, _p(idx), _p(gx)) != 0
    idx[0, 1, 2, 2] = 35
    assert lib.fc_max_pool2d_backward(ctypes.byref(d), _p(y), None, _p(idx), _p(gx)) == 0
    assert lib.fc_global_max_pool2d_forward(I64(1), I64(2), I64(0), I64(6), _p(x), _p(y)) != 0
    assert lib.fc_global_avg_pool2d_backward(I64(1), I64(2), I64(6), I64(6), None, _p(gx)) != 0

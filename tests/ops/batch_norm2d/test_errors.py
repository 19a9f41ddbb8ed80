"""Bad arguments to batch_norm2d and its backward: ValueError / TypeError naming the
argument, raised before any C code runs."""
import numpy as np
import pytest

import fastconv

X = np.ones((2, 3, 4, 4), np.float32)
V = np.ones(3, np.float32)


@pytest.mark.parametrize("kwargs, err, match", [
    (dict(x=np.ones((2, 3, 4), np.float32)), ValueError, "x to be 4-D"),
    (dict(x=np.array([["a"]])), TypeError, "x must hold real numbers"),
    (dict(gamma=np.ones(4, np.float32)), ValueError, r"gamma of shape \(3,\)"),
    (dict(beta=np.ones((3, 1), np.float32)), ValueError, r"beta of shape \(3,\)"),
    (dict(running_mean=V.copy()), ValueError, "both running_mean and running_var"),
    (dict(running_mean=V.copy(), running_var=np.ones(3)), TypeError,
     "running_var is updated in place"),
    (dict(running_mean=[0.0, 0.0, 0.0], running_var=V.copy()), TypeError,
     "running_mean is updated in place"),
    (dict(running_mean=np.ones(2, np.float32), running_var=np.ones(2, np.float32)),
     ValueError, r"running_mean of shape \(3,\)"),
    (dict(training=False), ValueError, "training=False normalizes by running_mean"),
    (dict(training=1), TypeError, "training must be a bool"),
    (dict(relu="yes"), TypeError, "relu must be a bool"),
    (dict(eps=-1.0), ValueError, "eps must be finite >= 0"),
    (dict(eps=None), TypeError, "eps must be a real number"),
    (dict(momentum=float("nan")), ValueError, "momentum must be finite"),
    (dict(x=np.ones((1, 3, 1, 1), np.float32)), ValueError, "more than one value per channel"),
    (dict(out=np.empty((2, 3, 4, 4))), TypeError, "out must be a C-contiguous float32"),
    (dict(out=np.empty((2, 3, 4, 5), np.float32)), ValueError, "expected out of shape"),
])
def test_forward_errors(kwargs, err, match):
    args = dict(x=X)
    args.update(kwargs)
    with pytest.raises(err, match=match):
        fastconv.batch_norm2d(**args)


def test_read_only_running_stats():
    rm = V.copy()
    rm.setflags(write=False)
    with pytest.raises(ValueError, match="running_mean is updated in place in training but is read-only"):
        fastconv.batch_norm2d(X, running_mean=rm, running_var=V.copy())


@pytest.mark.parametrize("kwargs, err, match", [
    (dict(grad_out=np.ones((2, 3, 4, 5), np.float32)), ValueError, "grad_out of shape"),
    (dict(save_mean=None), ValueError, "save_mean is required"),
    (dict(save_invstd=np.ones(2, np.float32)), ValueError, r"save_invstd of shape \(3,\)"),
    (dict(gamma=np.ones(4, np.float32)), ValueError, r"gamma of shape \(3,\)"),
    (dict(relu=True), ValueError, "relu=True needs y"),
    (dict(relu=True, y=np.ones((2, 3, 4, 3), np.float32)), ValueError, "expected y of shape"),
    (dict(relu=1), TypeError, "relu must be a bool"),
])
def test_backward_errors(kwargs, err, match):
    args = dict(grad_out=X, x=X, gamma=V, save_mean=V, save_invstd=V)
    args.update(kwargs)
    with pytest.raises(err, match=match):
        fastconv.batch_norm2d_backward(**args)

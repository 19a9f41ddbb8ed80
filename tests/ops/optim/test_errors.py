"""Bad lists and scalars are a TypeError / ValueError naming the argument, before any
parameter changes."""
import numpy as np
import pytest

from fastconv.functional import adam_update, sgd_update


def _lists():
    p = [np.ones((3, 4), np.float32), np.ones(5, np.float32)]
    g = [np.ones((3, 4), np.float32), np.ones(5, np.float32)]
    return p, g


@pytest.mark.parametrize("mutate, err, match", [
    (lambda p, g: g.pop(), ValueError, "grads has 1"),
    (lambda p, g: g.__setitem__(1, np.ones(6, np.float32)), ValueError, r"grads\[1\]"),
    (lambda p, g: g.__setitem__(0, np.ones((3, 4))), TypeError, r"grads\[0\].*float32"),
    (lambda p, g: p.__setitem__(0, np.ones((4, 3), np.float32).T), TypeError,
     r"params\[0\].*contiguous"),
    (lambda p, g: p[1].setflags(write=False), ValueError, r"params\[1\] is read-only"),
    (lambda p, g: p.__setitem__(1, [1.0] * 5), TypeError, r"params\[1\]"),
])
def test_sgd_bad_lists(mutate, err, match):
    p, g = _lists()
    mutate(p, g)
    before = [a.copy() for a in p]
    with pytest.raises(err, match=match):
        sgd_update(p, g, lr=0.1)
    for a, b in zip(p, before):
        np.testing.assert_array_equal(a, b)


def test_sgd_read_only_grads_are_fine():
    p, g = _lists()
    for a in g:
        a.setflags(write=False)
    sgd_update(p, g, lr=0.5)
    assert p[0][0, 0] == 0.5


@pytest.mark.parametrize("kw, match", [
    (dict(lr=-1.0), "lr"), (dict(lr=float("nan")), "lr"), (dict(lr=0.1, momentum=-0.5), "momentum"),
    (dict(lr=0.1, nesterov=True), "nesterov"),
    (dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "nesterov"),
    (dict(lr=0.1, momentum=0.9), "momentum_buffers"),
    (dict(lr=0.1, weight_decay=-1.0), "weight_decay"),
])
def test_sgd_bad_scalars(kw, match):
    p, g = _lists()
    with pytest.raises(ValueError, match=match):
        sgd_update(p, g, **kw)


@pytest.mark.parametrize("kw, match", [
    (dict(step=0), "step"), (dict(step=1.0), "step"), (dict(step=1, betas=(1.0, 0.9)), "betas"),
    (dict(step=1, betas=(0.9,)), "betas"), (dict(step=1, eps=-1.0), "eps"),
    (dict(step=1, amsgrad=True), "max_exp_avg_sqs"), (dict(step=1, lr=-1e-3), "lr"),
])
def test_adam_bad_scalars(kw, match):
    p, g = _lists()
    m = [np.zeros_like(a) for a in p]
    v = [np.zeros_like(a) for a in p]
    with pytest.raises(ValueError, match=match):
        adam_update(p, g, m, v, **kw)


def test_adam_bad_state_shape():
    p, g = _lists()
    m = [np.zeros_like(a) for a in p]
    v = [np.zeros_like(p[0]), np.zeros(4, np.float32)]
    with pytest.raises(ValueError, match=r"exp_avg_sqs\[1\]"):
        adam_update(p, g, m, v, step=1)

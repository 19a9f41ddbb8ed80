"""Random parameter lists for the optimizer tests: odd sizes, size 1, scalars and one
tensor large enough for two threads to split it mid-tensor."""
import numpy as np

SHAPES = [(3, 5), (1,), (7,), (), (17, 3, 3), (64,), (2, 0), (33, 129), (40000,)]


def tensors(rng, shapes=SHAPES, positive=False):
    out = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    return [np.abs(a) for a in out] if positive else out


def grads_for(rng, params, steps):
    return [[rng.standard_normal(p.shape).astype(np.float32) for p in params]
            for _ in range(steps)]

"""Random pooling arguments for the sweeps: odd sizes, batch 1, asymmetric padding up to
the effective kernel minus one, dilation, strides 1-3, ceil mode."""
import numpy as np

from reference_pool import valid


def random_case(rng, max_op=True, wide=False):
    while True:
        N = int(rng.choice([1, 2]))
        C = int(rng.choice([1, 3, 5]))
        H = int(rng.integers(1, 14))
        W = int(rng.integers(1, 75 if wide else 20))
        kernel = (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
        stride = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        dilation = (int(rng.integers(1, 3)), int(rng.integers(1, 3))) if max_op else (1, 1)
        eff = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
        pads = tuple(int(rng.integers(0, eff[i // 2])) for i in range(4))
        ceil_mode = bool(rng.integers(0, 2))
        if valid(H, W, kernel, stride, pads, dilation, ceil_mode):
            return (N, C, H, W), kernel, stride, pads, dilation, ceil_mode


def padding_arg(pads):
    t, b, l, r = pads
    return ((t, b), (l, r))

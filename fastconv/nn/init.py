"""Parameter initialization (PyTorch's defaults) from one seedable generator."""
import math

import numpy as np

__all__ = ["manual_seed", "uniform", "kaiming_normal", "generator"]

_state = {"rng": np.random.default_rng()}


def manual_seed(seed):
    """Seeds the generator behind every layer's initialization and Dropout's masks."""
    _state["rng"] = np.random.default_rng(seed)


def generator():
    return _state["rng"]


def uniform(shape, bound):
    u = generator().random(shape, dtype=np.float32)   # float32 draws: no float64 copy
    u *= np.float32(2 * bound)
    u -= np.float32(bound)
    return u


def fan_in_bound(fan_in):
    """PyTorch's default for conv and linear layers (kaiming_uniform with a=sqrt(5)
    for weights, the same bound for biases): U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    return 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0


def kaiming_normal(shape, fan):
    """He initialization for ReLU networks: N(0, 2 / fan)."""
    w = generator().standard_normal(size=shape, dtype=np.float32)
    w *= np.float32(math.sqrt(2.0 / fan))
    return w

"""Shapes, float64 references and torch twins of the elementwise ops."""
import numpy as np

# odd sizes, batch 1, sizes off the vector width, one above the threading threshold
SHAPES = [(1,), (7,), (1, 3, 5, 5), (2, 5, 7, 3), (3, 17, 11), (1, 64, 13, 13), (300017,)]


def phi64(x):
    from math import erfc as _erfc
    return 0.5 * np.vectorize(_erfc, otypes=[np.float64])(-x / np.sqrt(2.0))


def sigmoid64(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0, e) / (1.0 + e)


def forward64(kind, x, alpha=0.01):
    x = x.astype(np.float64)
    if kind == "relu":
        return np.where(x > 0, x, 0.0)
    if kind == "leaky_relu":
        return np.where(x > 0, x, alpha * x)
    if kind == "tanh":
        return np.tanh(x)
    if kind == "sigmoid":
        return sigmoid64(x)
    if kind == "gelu":
        return x * phi64(x)
    if kind == "gelu_tanh":
        return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))
    raise AssertionError(kind)


def backward64(kind, x, g, alpha=0.01):
    x, g = x.astype(np.float64), g.astype(np.float64)
    if kind == "relu":
        return np.where(x > 0, g, 0.0)
    if kind == "leaky_relu":
        return np.where(x > 0, g, alpha * g)
    if kind == "tanh":
        return g * (1 - np.tanh(x) ** 2)
    if kind == "sigmoid":
        s = sigmoid64(x)
        return g * s * (1 - s)
    if kind == "gelu":
        return g * (phi64(x) + x * np.exp(-0.5 * x * x) / np.sqrt(2 * np.pi))
    if kind == "gelu_tanh":
        k = np.sqrt(2 / np.pi)
        t = np.tanh(k * (x + 0.044715 * x ** 3))
        return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x))
    raise AssertionError(kind)


def torch_twin(kind, xt, alpha=0.01):
    import torch.nn.functional as F
    return {"relu": lambda: F.relu(xt), "leaky_relu": lambda: F.leaky_relu(xt, alpha),
            "tanh": lambda: xt.tanh(), "sigmoid": lambda: xt.sigmoid(),
            "gelu": lambda: F.gelu(xt), "gelu_tanh": lambda: F.gelu(xt, approximate="tanh")}[kind]()

"""fastconv's forward and backward of each activation kind, by name."""
import fastconv as fc

KINDS = ["relu", "leaky_relu", "tanh", "sigmoid", "gelu", "gelu_tanh"]
USES_Y = {"relu", "tanh", "sigmoid"}   # the backward takes the forward's output


def fwd(kind, x, alpha=0.01, out=None):
    if kind == "leaky_relu":
        return fc.leaky_relu(x, alpha, out=out)
    if kind.startswith("gelu"):
        return fc.gelu(x, "tanh" if kind == "gelu_tanh" else "none", out=out)
    return getattr(fc, kind)(x, out=out)


def bwd(kind, g, x, y, alpha=0.01, out=None):
    if kind == "leaky_relu":
        return fc.leaky_relu_backward(g, x, alpha, out=out)
    if kind.startswith("gelu"):
        return fc.gelu_backward(g, x, "tanh" if kind == "gelu_tanh" else "none", out=out)
    return getattr(fc, kind + "_backward")(g, y, out=out)

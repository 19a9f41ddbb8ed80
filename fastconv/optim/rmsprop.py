"""RMSprop as torch.optim.RMSprop. NumPy, in place in float32 (there is no fused C
kernel for it yet): a few passes over each parameter per step."""
import numpy as np

from fastconv.optim import _checks
from fastconv.optim.optimizer import Optimizer

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """torch.optim.RMSprop's update:
    g = grad + weight_decay * p;  v = alpha v + (1 - alpha) g^2;
    centered: m = m + (1 - alpha) (g - m), avg = sqrt(v - m^2) + eps; else sqrt(v) + eps;
    momentum > 0: buf = momentum buf + g / avg, p -= lr buf;  else p -= lr g / avg.
    State per parameter: "step", "square_avg" (and "momentum_buffer", "grad_avg")."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0,
                 momentum=0.0, centered=False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered))

    def _check(self, g):
        self._check_lr(g)
        _checks.real("alpha", g, "RMSprop")
        _checks.real("eps", g, "RMSprop")
        _checks.real("weight_decay", g, "RMSprop")
        _checks.real("momentum", g, "RMSprop")
        g["centered"] = bool(g["centered"])

    def step(self):
        for g in self.param_groups:
            lr, alpha, eps = g["lr"], g["alpha"], g["eps"]
            wd, mom = g["weight_decay"], g["momentum"]
            for p in self._trainable(g):
                st = self.state.setdefault(p, {})
                if "square_avg" not in st:
                    st["step"] = 0
                    st["square_avg"] = np.zeros_like(p.data)
                if mom > 0 and st.get("momentum_buffer") is None:
                    st["momentum_buffer"] = np.zeros_like(p.data)
                if g["centered"] and st.get("grad_avg") is None:
                    st["grad_avg"] = np.zeros_like(p.data)
                st["step"] += 1
                grad = self._grad(p)
                if wd != 0:
                    grad = grad + np.float32(wd) * p.data
                v = st["square_avg"]
                v *= np.float32(alpha)
                v += np.float32(1 - alpha) * (grad * grad)
                if g["centered"]:
                    m = st["grad_avg"]
                    _lerp(m, grad, 1 - alpha)
                    avg = v - m * m
                    np.sqrt(avg, out=avg)
                else:
                    avg = np.sqrt(v)
                avg += np.float32(eps)
                if mom > 0:
                    buf = st["momentum_buffer"]
                    buf *= np.float32(mom)
                    buf += grad / avg
                    p.data -= np.float32(lr) * buf
                else:
                    p.data -= np.float32(lr) * (grad / avg)


def _lerp(a, b, w):
    """a += w (b - a) in place, in the two forms torch's lerp uses (exact at w = 1)."""
    if w < 0.5:
        a += np.float32(w) * (b - a)
    else:
        a[...] = b - np.float32(1 - w) * (b - a)

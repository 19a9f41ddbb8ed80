"""Optimizers on fastconv.nn Parameters: SGD and Adam, with PyTorch's update rules.

Parameters whose .grad is None (untouched since zero_grad) are skipped, as in PyTorch.
Updates are in place on Parameter.data (float32).
"""
import math

import numpy as np

__all__ = ["Optimizer", "SGD", "Adam"]


class Optimizer:
    def __init__(self, params, lr):
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if not lr >= 0.0:
            raise ValueError(f"{type(self).__name__}: lr must be >= 0, got lr={lr!r}")
        self.lr = float(lr)
        self.state = [dict() for _ in self.params]

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        raise NotImplementedError

    def _gradients(self, weight_decay):
        """(parameter, its state, its gradient plus weight_decay * parameter) for each
        parameter that has a gradient (the L2 term is a new array: .grad is not
        modified)."""
        for p, st in zip(self.params, self.state):
            if p.grad is None:
                continue
            g = p.grad
            if weight_decay:
                g = g + np.float32(weight_decay) * p.data
            yield p, st, g


class SGD(Optimizer):
    """Stochastic gradient descent as torch.optim.SGD:
    g = grad + weight_decay * p;  buf = momentum * buf + (1 - dampening) * g (buf = g at
    the first step);  g = g + momentum * buf (nesterov) or buf;  p -= lr * g."""

    def __init__(self, params, lr=0.01, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False):
        super().__init__(params, lr)
        if momentum < 0.0 or weight_decay < 0.0:
            raise ValueError(f"SGD: momentum and weight_decay must be >= 0, got "
                             f"momentum={momentum!r}, weight_decay={weight_decay!r}")
        if nesterov and (momentum <= 0.0 or dampening != 0.0):
            raise ValueError("SGD: nesterov needs momentum > 0 and dampening = 0")
        self.momentum = float(momentum)
        self.dampening = float(dampening)
        self.weight_decay = float(weight_decay)
        self.nesterov = bool(nesterov)

    def step(self):
        f = np.float32
        for p, st, g in self._gradients(self.weight_decay):
            if self.momentum:
                buf = st.get("momentum_buffer")
                if buf is None:
                    buf = st["momentum_buffer"] = np.array(g, np.float32, copy=True)
                else:
                    buf *= f(self.momentum)
                    buf += f(1.0 - self.dampening) * g
                g = g + f(self.momentum) * buf if self.nesterov else buf
            p.data -= f(self.lr) * g


class Adam(Optimizer):
    """Adam as torch.optim.Adam (L2 weight_decay added to the gradient; amsgrad):
    m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
    p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False):
        super().__init__(params, lr)
        b1, b2 = betas
        if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
            raise ValueError(f"Adam: betas must be in [0, 1), got betas={betas!r}")
        if eps < 0.0 or weight_decay < 0.0:
            raise ValueError(f"Adam: eps and weight_decay must be >= 0, got eps={eps!r}, "
                             f"weight_decay={weight_decay!r}")
        self.betas = (float(b1), float(b2))
        self.eps = float(eps)
        self.weight_decay = float(weight_decay)
        self.amsgrad = bool(amsgrad)

    def step(self):
        f = np.float32
        b1, b2 = self.betas
        for p, st, g in self._gradients(self.weight_decay):
            if not st:
                st["step"] = 0
                st["exp_avg"] = np.zeros_like(p.data)
                st["exp_avg_sq"] = np.zeros_like(p.data)
                if self.amsgrad:
                    st["max_exp_avg_sq"] = np.zeros_like(p.data)
            st["step"] += 1
            t = st["step"]
            m, v = st["exp_avg"], st["exp_avg_sq"]
            m += (g - m) * f(1.0 - b1)          # torch's lerp
            v *= f(b2)
            v += f(1.0 - b2) * g * g
            if self.amsgrad:
                np.maximum(st["max_exp_avg_sq"], v, out=st["max_exp_avg_sq"])
                v = st["max_exp_avg_sq"]
            bc1 = 1.0 - b1 ** t
            bc2_sqrt = math.sqrt(1.0 - b2 ** t)
            denom = np.sqrt(v) / f(bc2_sqrt) + f(self.eps)
            p.data -= f(self.lr / bc1) * m / denom

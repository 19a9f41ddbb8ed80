"""Optimizers on fastconv.nn Parameters: SGD and Adam, with PyTorch's update rules, each
step one fused multi-tensor C call (fastconv.functional.sgd_update / adam_update).

Parameters whose .grad is None (untouched since zero_grad) are skipped, as in PyTorch.
Updates are in place on Parameter.data (float32).
"""
import numpy as np

from fastconv.functional.optim import adam_update, sgd_update

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
        # One fused C call per group: parameters whose momentum buffer starts now, and
        # the rest (weight decay, momentum, nesterov and the update in one pass).
        groups = {}
        for p, st in zip(self.params, self.state):
            if p.grad is None:
                continue
            new = self.momentum != 0.0 and "momentum_buffer" not in st
            if new:
                st["momentum_buffer"] = np.empty_like(p.data)
            groups.setdefault(new, []).append((p, st))
        for new, items in groups.items():
            sgd_update([p.data for p, _ in items],
                       [np.ascontiguousarray(p.grad, np.float32) for p, _ in items],
                       [st["momentum_buffer"] for _, st in items] if self.momentum else None,
                       lr=self.lr, momentum=self.momentum, dampening=self.dampening,
                       weight_decay=self.weight_decay, nesterov=self.nesterov,
                       first_step=new)


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
        # One fused C call per step count (parameters that missed earlier steps count
        # their own, as in torch).
        groups = {}
        for p, st in zip(self.params, self.state):
            if p.grad is None:
                continue
            if not st:
                st["step"] = 0
                st["exp_avg"] = np.zeros_like(p.data)
                st["exp_avg_sq"] = np.zeros_like(p.data)
                if self.amsgrad:
                    st["max_exp_avg_sq"] = np.zeros_like(p.data)
            st["step"] += 1
            groups.setdefault(st["step"], []).append((p, st))
        for t, items in groups.items():
            adam_update([p.data for p, _ in items],
                        [np.ascontiguousarray(p.grad, np.float32) for p, _ in items],
                        [st["exp_avg"] for _, st in items],
                        [st["exp_avg_sq"] for _, st in items],
                        step=t, lr=self.lr, betas=self.betas, eps=self.eps,
                        weight_decay=self.weight_decay, decoupled=False, amsgrad=self.amsgrad,
                        max_exp_avg_sqs=([st["max_exp_avg_sq"] for _, st in items]
                                         if self.amsgrad else None))

"""SGD as torch.optim.SGD, each step one fused C call per group (sgd_update)."""
import numpy as np

from fastconv.functional.optim import sgd_update
from fastconv.optim import _checks
from fastconv.optim.optimizer import Optimizer

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent as torch.optim.SGD:
    g = grad + weight_decay * p;  buf = momentum * buf + (1 - dampening) * g (buf = g at
    the first step);  g = g + momentum * buf (nesterov) or buf;  p -= lr * g.
    State per parameter (with momentum): "momentum_buffer"."""

    def __init__(self, params, lr=0.01, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    def _check(self, g):
        self._check_lr(g)
        _checks.real("momentum", g, "SGD")
        _checks.real("weight_decay", g, "SGD")
        _checks.real("dampening", g, "SGD", lo=-float("inf"))
        g["nesterov"] = bool(g["nesterov"])
        if g["nesterov"] and (g["momentum"] <= 0.0 or g["dampening"] != 0.0):
            raise ValueError("SGD: nesterov needs momentum > 0 and dampening = 0")

    def step(self):
        for g in self.param_groups:
            # One fused C call for the parameters whose momentum buffer starts now and
            # one for the rest (weight decay, momentum, nesterov and the update in one
            # pass).
            parts = {}
            for p in self._trainable(g):
                new = False
                if g["momentum"] != 0.0:   # no state without momentum, as torch's
                    st = self.state.setdefault(p, {})
                    new = st.get("momentum_buffer") is None
                    if new:
                        st["momentum_buffer"] = np.empty_like(p.data)
                parts.setdefault(new, []).append(p)
            for new, ps in parts.items():
                sgd_update([p.data for p in ps], [self._grad(p) for p in ps],
                           ([self.state[p]["momentum_buffer"] for p in ps]
                            if g["momentum"] else None),
                           lr=g["lr"], momentum=g["momentum"], dampening=g["dampening"],
                           weight_decay=g["weight_decay"], nesterov=g["nesterov"],
                           first_step=new)

"""Adam and AdamW as torch.optim.Adam / AdamW, each step one fused C call per group
and step count (adam_update; AdamW is its decoupled=True form)."""
import numpy as np

from fastconv.functional.optim import adam_update
from fastconv.optim import _checks
from fastconv.optim.optimizer import Optimizer

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam as torch.optim.Adam (L2 weight_decay added to the gradient; amsgrad):
    m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
    p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
    State per parameter: "step", "exp_avg", "exp_avg_sq" (and "max_exp_avg_sq")."""

    _decoupled = False
    _torch_flags = {"decoupled_weight_decay": (False,)}

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad))

    def _check(self, g):
        name = type(self).__name__
        self._check_lr(g)
        _checks.betas(g, name)
        _checks.real("eps", g, name)
        _checks.real("weight_decay", g, name)
        g["amsgrad"] = bool(g["amsgrad"])

    def step(self):
        for g in self.param_groups:
            # One fused C call per step count (parameters that missed earlier steps
            # count their own, as in torch).
            parts = {}
            for p in self._trainable(g):
                st = self.state.setdefault(p, {})
                if "exp_avg" not in st:
                    st["step"] = 0
                    st["exp_avg"] = np.zeros_like(p.data)
                    st["exp_avg_sq"] = np.zeros_like(p.data)
                if g["amsgrad"] and st.get("max_exp_avg_sq") is None:
                    st["max_exp_avg_sq"] = np.zeros_like(p.data)
                st["step"] += 1
                parts.setdefault(st["step"], []).append(p)
            for t, ps in parts.items():
                sts = [self.state[p] for p in ps]
                adam_update([p.data for p in ps], [self._grad(p) for p in ps],
                            [s["exp_avg"] for s in sts], [s["exp_avg_sq"] for s in sts],
                            step=t, lr=g["lr"], betas=g["betas"], eps=g["eps"],
                            weight_decay=g["weight_decay"], decoupled=self._decoupled,
                            amsgrad=g["amsgrad"],
                            max_exp_avg_sqs=([s["max_exp_avg_sq"] for s in sts]
                                             if g["amsgrad"] else None))


class AdamW(Adam):
    """AdamW as torch.optim.AdamW: Adam with decoupled weight decay,
    p *= 1 - lr * weight_decay before the Adam update (default weight_decay=1e-2)."""

    _decoupled = True
    _torch_flags = {"decoupled_weight_decay": (True,)}

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad)

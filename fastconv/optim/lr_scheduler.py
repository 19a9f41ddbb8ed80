"""Learning-rate schedulers with torch.optim.lr_scheduler's sequences: StepLR,
MultiStepLR, CosineAnnealingLR, OneCycleLR, ReduceLROnPlateau.

Call scheduler.step() after optimizer.step() (once per epoch, or once per batch for
OneCycleLR); ReduceLROnPlateau.step(metric) takes the monitored value. Each scheduler
sets group["lr"] of every parameter group; get_last_lr() gives the values it set.
state_dict() / load_state_dict() save and restore its counters (plain numbers and
lists: fastconv.save writes them), so training resumes on the same schedule. As in
torch, build the scheduler before loading the optimizer's state when resuming.

The formulas are torch's (its recursive forms, evaluated in the same order in Python
floats), so the learning rates are the same numbers, not just close.
"""
import math
import numbers
from collections import Counter

from fastconv.optim.optimizer import Optimizer

__all__ = ["LRScheduler", "StepLR", "MultiStepLR", "CosineAnnealingLR", "OneCycleLR",
           "ReduceLROnPlateau"]


def _positive_int(v, name, fn):
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
        raise ValueError(f"{fn}: {name} must be an int >= 1, got {name}={v!r}")
    return int(v)


def _per_group(v, name, optimizer, fn):
    n = len(optimizer.param_groups)
    if isinstance(v, (list, tuple)):
        if len(v) != n:
            raise ValueError(f"{fn}: {name} has {len(v)} values, the optimizer {n} "
                             f"parameter groups")
        return [float(x) for x in v]
    return [float(v)] * n


class LRScheduler:
    """Base class: subclasses define get_lr() (the next learning rates, from
    last_epoch and the groups' current values)."""

    def __init__(self, optimizer, last_epoch=-1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: optimizer must be a "
                            f"fastconv.optim.Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        if last_epoch == -1:
            for g in optimizer.param_groups:
                g.setdefault("initial_lr", g["lr"])
        else:
            for i, g in enumerate(optimizer.param_groups):
                if "initial_lr" not in g:
                    raise KeyError(f"{type(self).__name__}: param_groups[{i}] has no "
                                   f"'initial_lr' (resuming with last_epoch={last_epoch} "
                                   f"needs the optimizer's saved state loaded first)")
        self.base_lrs = [g["initial_lr"] for g in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self._initial = True
        self.step()
        self._initial = False

    def get_lr(self):
        raise NotImplementedError

    def step(self):
        self._step_count += 1
        self.last_epoch += 1
        for g, lr in zip(self.optimizer.param_groups, self.get_lr()):
            g["lr"] = lr
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def get_last_lr(self):
        return list(self._last_lr)

    def state_dict(self):
        """Every attribute but the optimizer (numbers, strings and lists)."""
        return {k: (list(v) if isinstance(v, list) else v)
                for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict):
        if not isinstance(state_dict, dict):
            raise TypeError(f"{type(self).__name__}.load_state_dict: expected a dict, got "
                            f"{type(state_dict).__name__}")
        unknown = [k for k in state_dict if k not in self.__dict__ or k == "optimizer"]
        if unknown:
            raise ValueError(f"{type(self).__name__}.load_state_dict: unknown entries "
                             f"{unknown} (a state dict of another scheduler?)")
        self.__dict__.update(state_dict)


class StepLR(LRScheduler):
    """lr *= gamma every step_size epochs."""

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        self.step_size = _positive_int(step_size, "step_size", "StepLR")
        self.gamma = float(gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return [g["lr"] for g in self.optimizer.param_groups]
        return [g["lr"] * self.gamma for g in self.optimizer.param_groups]


class MultiStepLR(LRScheduler):
    """lr *= gamma at each epoch in milestones (gamma^n for a milestone listed n
    times)."""

    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1):
        ms = list(milestones)
        for m in ms:
            if isinstance(m, bool) or not isinstance(m, numbers.Integral):
                raise ValueError(f"MultiStepLR: milestones must be ints, got {milestones!r}")
        self.milestones = sorted(int(m) for m in ms)
        self.gamma = float(gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        n = Counter(self.milestones)[self.last_epoch]
        if n == 0:
            return [g["lr"] for g in self.optimizer.param_groups]
        return [g["lr"] * self.gamma ** n for g in self.optimizer.param_groups]


class CosineAnnealingLR(LRScheduler):
    """Cosine from the initial lr down to eta_min over T_max epochs (and back up over
    the next T_max, as torch's, when stepped further)."""

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        self.T_max = _positive_int(T_max, "T_max", "CosineAnnealingLR")
        self.eta_min = float(eta_min)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        groups, T, e, lo = self.optimizer.param_groups, self.T_max, self.last_epoch, self.eta_min
        if self._initial:
            return [g["lr"] for g in groups]
        if self._step_count == 1 and e > 0:     # built with last_epoch >= 0: closed form
            return [lo + (b - lo) * (1 + math.cos(e * math.pi / T)) / 2
                    for b in self.base_lrs]
        if (e - 1 - T) % (2 * T) == 0:          # the bottom of a cycle: climb back
            return [g["lr"] + (b - lo) * (1 - math.cos(math.pi / T)) / 2
                    for b, g in zip(self.base_lrs, groups)]
        return [(1 + math.cos(math.pi * e / T)) / (1 + math.cos(math.pi * (e - 1) / T))
                * (g["lr"] - lo) + lo for g in groups]


class OneCycleLR(LRScheduler):
    """The 1cycle policy (step it every batch): from max_lr / div_factor up to max_lr
    over pct_start of total_steps, then down to initial_lr / final_div_factor
    (three_phase: up, back down to the initial lr, then down to the minimum); cos or
    linear annealing. With cycle_momentum the momentum (SGD) or beta1 (Adam, AdamW)
    moves inversely between max_momentum and base_momentum."""

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None,
                 steps_per_epoch=None, pct_start=0.3, anneal_strategy="cos",
                 cycle_momentum=True, base_momentum=0.85, max_momentum=0.95,
                 div_factor=25.0, final_div_factor=1e4, three_phase=False, last_epoch=-1):
        fn = "OneCycleLR"
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{fn}: optimizer must be a fastconv.optim.Optimizer, got "
                            f"{type(optimizer).__name__}")
        if total_steps is not None:
            self.total_steps = _positive_int(total_steps, "total_steps", fn)
        elif epochs is not None and steps_per_epoch is not None:
            self.total_steps = (_positive_int(epochs, "epochs", fn)
                                * _positive_int(steps_per_epoch, "steps_per_epoch", fn))
        else:
            raise ValueError(f"{fn}: give total_steps, or epochs and steps_per_epoch")
        if isinstance(pct_start, bool) or not isinstance(pct_start, numbers.Real) \
                or not 0.0 <= pct_start <= 1.0:
            raise ValueError(f"{fn}: pct_start must be a number in [0, 1], got "
                             f"pct_start={pct_start!r}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"{fn}: anneal_strategy must be 'cos' or 'linear', got "
                             f"anneal_strategy={anneal_strategy!r}")
        self.anneal_strategy = anneal_strategy
        n = self.total_steps
        up = float(pct_start * n) - 1
        if three_phase:
            # (end step, start lr, end lr, start momentum, end momentum): group keys
            self._phases = [[up, "initial_lr", "max_lr", "max_momentum", "base_momentum"],
                            [float(2 * pct_start * n) - 2, "max_lr", "initial_lr",
                             "base_momentum", "max_momentum"],
                            [n - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"]]
        else:
            self._phases = [[up, "initial_lr", "max_lr", "max_momentum", "base_momentum"],
                            [n - 1, "max_lr", "min_lr", "base_momentum", "max_momentum"]]
        max_lrs = _per_group(max_lr, "max_lr", optimizer, fn)
        if last_epoch == -1:
            for m, g in zip(max_lrs, optimizer.param_groups):
                g["initial_lr"] = m / div_factor
                g["max_lr"] = m
                g["min_lr"] = g["initial_lr"] / final_div_factor
        self.cycle_momentum = bool(cycle_momentum)
        if self.cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError(f"{fn}: cycle_momentum needs an optimizer with momentum "
                                 f"or betas, {type(optimizer).__name__} has neither")
            self.use_beta1 = "betas" in optimizer.defaults
            maxm = _per_group(max_momentum, "max_momentum", optimizer, fn)
            basem = _per_group(base_momentum, "base_momentum", optimizer, fn)
            if last_epoch == -1:
                for hi, lo, g in zip(maxm, basem, optimizer.param_groups):
                    self._set_momentum(g, hi)
                    g["max_momentum"] = hi
                    g["base_momentum"] = lo
        super().__init__(optimizer, last_epoch)

    def _set_momentum(self, g, m):
        if self.use_beta1:
            g["betas"] = (m, *g["betas"][1:])
        else:
            g["momentum"] = m

    def _anneal(self, start, end, pct):
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self):
        t = self.last_epoch
        if t > self.total_steps:
            raise ValueError(f"OneCycleLR: stepped {t} times, more than total_steps="
                             f"{self.total_steps}")
        lrs = []
        for g in self.optimizer.param_groups:
            start = 0.0
            for i, (end, lr0, lr1, m0, m1) in enumerate(self._phases):
                if t <= end or i == len(self._phases) - 1:
                    pct = (t - start) / (end - start)
                    lr = self._anneal(g[lr0], g[lr1], pct)
                    if self.cycle_momentum:
                        self._set_momentum(g, self._anneal(g[m0], g[m1], pct))
                    break
                start = end
            lrs.append(lr)
        return lrs


class ReduceLROnPlateau(LRScheduler):
    """lr = max(lr * factor, min_lr) when the metric given to step(metric) has not
    improved (by threshold, relative or absolute) for more than `patience` epochs;
    then waits `cooldown` epochs. mode 'min' (a loss) or 'max' (an accuracy)."""

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4,
                 threshold_mode="rel", cooldown=0, min_lr=0, eps=1e-8):
        fn = "ReduceLROnPlateau"
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{fn}: optimizer must be a fastconv.optim.Optimizer, got "
                            f"{type(optimizer).__name__}")
        if not factor < 1.0:
            raise ValueError(f"{fn}: factor must be < 1, got factor={factor!r}")
        if mode not in ("min", "max"):
            raise ValueError(f"{fn}: mode must be 'min' or 'max', got mode={mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"{fn}: threshold_mode must be 'rel' or 'abs', got "
                             f"threshold_mode={threshold_mode!r}")
        self.optimizer = optimizer
        self.factor = float(factor)
        self.min_lrs = _per_group(min_lr, "min_lr", optimizer, fn)
        self.patience = int(patience)
        self.cooldown = int(cooldown)
        self.eps = float(eps)
        self.mode, self.threshold, self.threshold_mode = mode, float(threshold), threshold_mode
        self.last_epoch = 0
        self._last_lr = [g["lr"] for g in optimizer.param_groups]
        self.best = math.inf if mode == "min" else -math.inf
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def _is_better(self, a, best):
        if self.mode == "min":
            return a < (best * (1.0 - self.threshold) if self.threshold_mode == "rel"
                        else best - self.threshold)
        return a > (best * (self.threshold + 1.0) if self.threshold_mode == "rel"
                    else best + self.threshold)

    def step(self, metrics):
        current = float(metrics)
        self.last_epoch += 1
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0           # bad epochs in cooldown do not count
        if self.num_bad_epochs > self.patience:
            for g, lo in zip(self.optimizer.param_groups, self.min_lrs):
                old = float(g["lr"])
                new = max(old * self.factor, lo)
                if old - new > self.eps:
                    g["lr"] = new
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

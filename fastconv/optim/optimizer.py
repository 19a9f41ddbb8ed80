"""Optimizer: parameter groups, per-parameter state and torch-structured state dicts.

As in torch.optim: `param_groups` is a list of dicts, each with "params" (a list of
Parameters) and the group's options; `state` maps each Parameter to a dict of its
state (arrays and a step count). state_dict() gives
{"state": {index: {...}}, "param_groups": [{options..., "params": [indices]}]}, the
indices counting the parameters in group order, so a checkpoint is independent of
object identity and loads into a freshly built optimizer over the same model.
"""
import copy
import numbers

import numpy as np

__all__ = ["Optimizer"]

# Options torch writes into its param groups that fastconv does not implement: a
# torch state dict loads when they have their default (inactive) values.
_TORCH_FLAGS = {"foreach": (None, False), "maximize": (False,), "capturable": (False,),
                "differentiable": (False,), "fused": (None, False)}


def _parameter_type():
    from fastconv.nn.module import Parameter   # late: nn imports nothing from optim
    return Parameter


class Optimizer:
    """Base class. Subclasses pass their defaults (every option, with its default
    value) and define _check(group) (validates a group's options, raising ValueError)
    and step()."""

    _torch_flags = {}   # a subclass's own entries for _TORCH_FLAGS

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.state = {}
        self.param_groups = []
        if isinstance(params, (dict, _parameter_type())):
            raise TypeError(f"{type(self).__name__}: params must be an iterable of "
                            f"Parameters or of dicts, got {type(params).__name__}")
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if not isinstance(params[0], dict):
            params = [{"params": params}]
        for group in params:
            self.add_param_group(group)

    # -- groups -------------------------------------------------------------------
    def add_param_group(self, param_group):
        """Adds a group: a dict with "params" and any options (the others take the
        optimizer's defaults)."""
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}: a parameter group must be a dict, got "
                            f"{type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError(f"{name}: a parameter group needs a 'params' entry")
        P = _parameter_type()
        params = param_group["params"]
        params = [params] if isinstance(params, P) else list(params)
        for i, p in enumerate(params):
            if not isinstance(p, P):
                raise TypeError(f"{name}: params[{i}] must be a fastconv.nn.Parameter, got "
                                f"{type(p).__name__}")
        if not params:
            raise ValueError(f"{name}: a parameter group has an empty parameter list")
        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"{name}: a parameter appears twice in one group")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError(f"{name}: some parameters appear in more than one group")
        unknown = [k for k in param_group if k != "params" and k not in self.defaults]
        if unknown:
            raise ValueError(f"{name}: unknown option(s) {unknown} in a parameter group; "
                             f"options are {sorted(self.defaults)}")
        group = dict(self.defaults)
        group.update((k, v) for k, v in param_group.items() if k != "params")
        self._check(group)
        group["params"] = params
        self.param_groups.append(group)

    def _check(self, group):
        raise NotImplementedError

    def _check_lr(self, group):
        lr = group["lr"]
        if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not lr >= 0.0:
            raise ValueError(f"{type(self).__name__}: lr must be a number >= 0, got "
                             f"lr={lr!r}")

    # -- stepping -----------------------------------------------------------------
    def zero_grad(self):
        """Sets every parameter's .grad to None (torch's default set_to_none=True)."""
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None

    def step(self):
        raise NotImplementedError

    @staticmethod
    def _trainable(group):
        """The group's parameters to update: those with a gradient and not frozen."""
        return [p for p in group["params"] if p.grad is not None and p.requires_grad]

    @staticmethod
    def _grad(p):
        return np.ascontiguousarray(p.grad, np.float32).reshape(p.data.shape)

    # -- state --------------------------------------------------------------------
    def state_dict(self):
        """{"state": {i: {name: value}}, "param_groups": [{options, "params": [i]}]},
        as torch.optim.Optimizer.state_dict(); the arrays are copies."""
        index, groups = {}, []
        for g in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in g.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in g["params"]]
            groups.append(packed)
        state = {}
        for g in self.param_groups:
            for p in g["params"]:
                if p in self.state:
                    state[index[id(p)]] = {k: (v.copy() if isinstance(v, np.ndarray) else v)
                                           for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Loads what state_dict() gave (from fastconv, or torch's for the same
        optimizer: tensors are converted). The groups must hold as many parameters
        as this optimizer's, and each state array the shape of its parameter.
        Everything is checked before anything changes."""
        name = type(self).__name__
        if not isinstance(state_dict, dict) or set(state_dict) != {"state", "param_groups"}:
            raise ValueError(f"{name}.load_state_dict: expected a dict with 'state' and "
                             f"'param_groups', got "
                             f"{sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict).__name__}")
        saved = list(state_dict["param_groups"])
        if len(saved) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: the state has {len(saved)} parameter "
                             f"groups, this optimizer {len(self.param_groups)}")
        flags = dict(_TORCH_FLAGS, **self._torch_flags)
        index, new_groups = {}, []
        for gi, (mine, theirs) in enumerate(zip(self.param_groups, saved)):
            ids = list(theirs.get("params", ()))
            if len(ids) != len(mine["params"]):
                raise ValueError(f"{name}.load_state_dict: parameter group {gi} has "
                                 f"{len(ids)} parameters in the state, "
                                 f"{len(mine['params'])} in this optimizer")
            for i, p in zip(ids, mine["params"]):
                index[int(i)] = p
            group = dict(mine)
            for k, v in theirs.items():
                if k == "params":
                    continue
                if k in flags:
                    if v not in flags[k]:
                        raise ValueError(f"{name}.load_state_dict: group {gi} sets {k}={v!r}, "
                                         f"which fastconv does not implement")
                    continue
                group[k] = tuple(_number(x) for x in v) if isinstance(v, (list, tuple)) \
                    else _number(v)
            self._check(group)
            new_groups.append(group)
        new_state = {}
        for i, st in dict(state_dict["state"]).items():
            try:
                p = index[int(i)]
            except KeyError:
                raise ValueError(f"{name}.load_state_dict: state for parameter {i!r}, which "
                                 f"no group holds") from None
            new_state[p] = {k: self._state_value(k, v, p, i) for k, v in st.items()}
        self.param_groups[:] = new_groups
        self.state = new_state

    def _state_value(self, key, value, p, i):
        where = f"{type(self).__name__}.load_state_dict: state[{i}][{key!r}]"
        if value is None:
            return None
        if hasattr(value, "detach"):          # a torch tensor
            value = value.detach().cpu().numpy()
        if key == "step":
            v = np.asarray(value)
            if v.size != 1 or not np.isfinite(v).all() or v.item() != int(v.item()) \
                    or v.item() < 0:
                raise ValueError(f"{where} must be a count >= 0, got {value!r}")
            return int(v.item())
        a = np.asarray(value)
        if a.dtype.kind not in "biuf":
            raise ValueError(f"{where} must be an array of numbers, got dtype {a.dtype}")
        if a.shape != p.data.shape:
            raise ValueError(f"{where} has shape {a.shape}, its parameter {p.data.shape}")
        return np.array(a, dtype=np.float32, order="C", copy=True)

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(g):
                if k != "params":
                    lines.append(f"    {k}: {g[k]}")
        return "\n".join(lines) + "\n)"


def _number(v):
    """A group option from a state dict as a plain Python value (tensor/NumPy scalars
    become floats, ints or bools)."""
    if hasattr(v, "item") and np.ndim(v) == 0:
        v = v.item()
    return v

"""Option checks shared by the optimizers (a ValueError naming the option)."""
import numbers


def real(name, group, opt, lo=0.0, hi=None):
    v = group[name]
    ok = not isinstance(v, bool) and isinstance(v, numbers.Real) and v >= lo
    if ok and hi is not None:
        ok = v < hi
    if not ok:
        rng = f">= {lo}" + (f" and < {hi}" if hi is not None else "")
        raise ValueError(f"{opt}: {name} must be a number {rng}, got {name}={v!r}")
    return float(v)


def betas(group, opt):
    b = group["betas"]
    if not isinstance(b, (tuple, list)) or len(b) != 2 or not all(
            not isinstance(x, bool) and isinstance(x, numbers.Real) and 0.0 <= x < 1.0
            for x in b):
        raise ValueError(f"{opt}: betas must be a pair of numbers in [0, 1), got "
                         f"betas={b!r}")
    group["betas"] = (float(b[0]), float(b[1]))

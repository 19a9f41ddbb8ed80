"""Alternating medians: contenders take turns run by run, so a burst of load from other
processes hits all of them alike instead of whichever happened to run then."""
import statistics
import time


def time_alternating(fns, budget=1.0, min_reps=3, max_reps=50, warmup=1, clock=time.perf_counter):
    """Times each callable of `fns` (name -> callable) `reps` times, in turns, with the
    order rotated each round. The callables have each been called once already (the
    probe); `warmup` more calls each settle caches and workspaces. reps is chosen from
    the warm-up times to fit about `budget` seconds, within [min_reps, max_reps].
    Returns name -> list of seconds."""
    names = list(fns)
    est = {}
    for n in names:
        t = 0.0
        for _ in range(max(1, warmup)):
            t0 = clock()
            fns[n]()
            t = clock() - t0
        est[n] = max(t, 1e-9)
    per_round = sum(est.values())
    reps = int(min(max_reps, max(min_reps, budget / per_round)))
    times = {n: [] for n in names}
    for r in range(reps):
        k = r % len(names)
        for n in names[k:] + names[:k]:
            t0 = clock()
            fns[n]()
            times[n].append(clock() - t0)
    return times


def summarize(ts):
    """Median and interquartile spread (relative) of a list of seconds."""
    med = statistics.median(ts)
    if len(ts) >= 4:
        q = statistics.quantiles(ts, n=4)
        spread = (q[2] - q[0]) / med if med > 0 else 0.0
    else:
        spread = (max(ts) - min(ts)) / med if med > 0 else 0.0
    return {"median_s": med, "min_s": min(ts), "reps": len(ts), "spread": spread}

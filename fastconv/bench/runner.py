"""Runs registry cases: builds each, times its contenders alternately, and turns the
times into the figures the table, the JSON file and the comparison use."""
import contextlib
import sys
import time
import traceback

from fastconv.bench.ops import Absent, NotServed, torch_or_none
from fastconv.bench.timing import summarize, time_alternating

CONTENDERS = ("fastconv", "torch", "numpy", "onnxruntime", "fastconv.onnx")
# Peers fastconv's time is divided by: vs_<peer> = peer time / fastconv time.
PEERS = ("torch", "numpy", "onnxruntime")


@contextlib.contextmanager
def fixed_threads(n):
    """fastconv, PyTorch and NumPy's BLAS all on n threads for the duration."""
    import fastconv

    old_fc = fastconv.get_num_threads()
    fastconv.set_num_threads(n)
    torch = torch_or_none()
    old_t = torch.get_num_threads() if torch else None
    if torch:
        torch.set_num_threads(n)
    try:
        from threadpoolctl import threadpool_limits
        limits = threadpool_limits(limits=n, user_api="blas")
    except ImportError:
        limits = contextlib.nullcontext()
    try:
        with limits:
            yield
    finally:
        fastconv.set_num_threads(old_fc)
        if torch:
            torch.set_num_threads(old_t)


def rate(unit, work, seconds):
    """GFLOP/s, GB/s or images/s."""
    if seconds <= 0:
        return float("nan")
    return work / seconds / (1e9 if unit in ("flop", "byte") else 1.0)


def run_case(case, budget, machine):
    """One case -> a result dict (status ok, skipped or error)."""
    res = {"name": case.name, "op": case.op, "shape": case.shape, "pass": case.pass_,
           "algorithm": case.algorithm, "unit": case.unit, "work": case.work,
           "status": "ok", "reason": "", "results": {}}
    try:
        fns = case.build()
    except NotServed as e:
        res.update(status="skipped", reason=str(e))
        return res
    except Exception as e:  # a failing case is reported, and the run goes on
        res.update(status="error", reason=f"{type(e).__name__}: {e}",
                   traceback=traceback.format_exc())
        return res
    absent = {k: v.reason for k, v in fns.items() if isinstance(v, Absent)}
    if absent:
        res["absent"] = absent
    fns = {k: v for k, v in fns.items() if v is not None and not isinstance(v, Absent)}
    try:
        # The probe called fastconv once; call the others once too before timing.
        for k, f in fns.items():
            if k != "fastconv":
                f()
        times = time_alternating(fns, budget=budget)
    except Exception as e:
        res.update(status="error", reason=f"{type(e).__name__}: {e}",
                   traceback=traceback.format_exc())
        return res
    for k, ts in times.items():
        r = summarize(ts)
        r["rate"] = rate(case.unit, case.work, r["median_s"])
        res["results"][k] = r
    fc = res["results"]["fastconv"]
    for k in PEERS:
        if k in res["results"]:
            # > 1: fastconv is faster.
            res[f"vs_{k}"] = res["results"][k]["median_s"] / fc["median_s"]
    if "fastconv.onnx" in res["results"] and "onnxruntime" in res["results"]:
        res["onnx_vs_onnxruntime"] = (res["results"]["onnxruntime"]["median_s"]
                                      / res["results"]["fastconv.onnx"]["median_s"])
    peak = {"flop": machine.get("peak_gflops"), "byte": machine.get("copy_gbps")}.get(case.unit)
    if peak:
        res["pct_peak"] = 100.0 * fc["rate"] / peak
        llc = machine.get("llc_bytes")
        if case.unit == "byte" and llc and case.work <= llc:
            # Every byte fits in the last-level cache: the rate is a cache rate, and
            # its % of the DRAM copy bandwidth can pass 100.
            res["cache_resident"] = True
    return res


def run_cases(cases, budget=1.0, machine=None, max_time=None, progress=None):
    """Runs every case in turn; after max_time seconds the rest are skipped."""
    machine = machine or {}
    out = []
    start = time.perf_counter()
    for i, case in enumerate(cases):
        if progress:
            progress(i, len(cases), case.name)
        if max_time is not None and time.perf_counter() - start > max_time:
            out.append({"name": case.name, "op": case.op, "shape": case.shape,
                        "pass": case.pass_, "algorithm": case.algorithm, "unit": case.unit,
                        "work": case.work, "status": "skipped", "results": {},
                        "reason": f"time limit of {max_time:g} s reached"})
            continue
        out.append(run_case(case, budget, machine))
    if progress:
        progress(len(cases), len(cases), "")
    return out


class Progress:
    """A one-line text progress bar on stderr."""

    def __init__(self, stream=None, width=30):
        self.stream = stream or sys.stderr
        self.width = width
        self.t0 = time.perf_counter()
        isatty = getattr(self.stream, "isatty", None)
        self.tty = bool(isatty and isatty())
        self.shown = -1

    def __call__(self, i, n, name):
        done = int(self.width * i / max(n, 1))
        if not self.tty and done == self.shown and i != n:
            return  # in a log, one line per step of the bar, not per case
        self.shown = done
        bar = "#" * done + "." * (self.width - done)
        line = f"[{bar}] {i}/{n} {time.perf_counter() - self.t0:4.0f}s {name}"
        if self.tty:
            self.stream.write("\r" + line[:110].ljust(110) + ("\n" if i == n else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

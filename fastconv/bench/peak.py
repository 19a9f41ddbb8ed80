"""The machine: CPU model, cores, measured FMA peak and copy bandwidth (cached per process)."""
import functools
import os
import platform
import time

import numpy as np

from fastconv import _C


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def llc_bytes():
    """Size of the last-level data cache of CPU 0 (Linux sysfs), or None if unknown."""
    base = "/sys/devices/system/cpu/cpu0/cache"
    best = (0, None)
    try:
        entries = os.listdir(base)
    except OSError:
        return None
    for e in entries:
        if not e.startswith("index"):
            continue
        try:
            with open(os.path.join(base, e, "type")) as f:
                if f.read().strip() == "Instruction":
                    continue
            with open(os.path.join(base, e, "level")) as f:
                level = int(f.read())
            with open(os.path.join(base, e, "size")) as f:
                size = f.read().strip()
        except (OSError, ValueError):
            continue
        mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(size[-1:].upper(), 1)
        try:
            nbytes = int(size.rstrip("KMGkmg")) * mult
        except ValueError:
            continue
        if level >= best[0]:
            best = (level, nbytes)
    return best[1]


@functools.lru_cache(maxsize=None)
def fma_gflops(threads, seconds=0.2):
    """GFLOP/s of the library's FMA loop on `threads` threads, ISA path in use (the C
    loop keeps the best round of about `seconds`)."""
    return _C.measure_fma_gflops(int(threads), float(seconds))


@functools.lru_cache(maxsize=None)
def copy_gbps(mib=128, reps=5):
    """Memory bandwidth of a copy of `mib` MiB (well beyond a last-level cache;
    numpy.copyto, one thread) in GB/s, counting bytes read plus bytes written, as the
    memory-bound benchmarks count input plus output. Best of `reps`: slower copies are
    interference from other processes."""
    n = mib * (1 << 20) // 4
    src = np.ones(n, np.float32)
    dst = np.empty_like(src)
    np.copyto(dst, src)  # first touch of the destination pages
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t0)
    return 2.0 * src.nbytes / best / 1e9


def machine(threads):
    """Facts for the report head: measured once per process and thread count."""
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "isa": _C.get_isa(),
        "threads": threads,
        "peak_gflops_1t": fma_gflops(1),
        "peak_gflops": fma_gflops(threads),
        "copy_gbps": copy_gbps(),
        "llc_bytes": llc_bytes(),
    }

"""Linear layers at small batch (AlexNet's classifier): fastconv.matmul as
fastconv.nn.Linear calls it (y = x W^T, gx = g W, gW = g^T x) against torch on the
same threads, and the unpacked small-product path (gemm/gemv.c) against the packed
SGEMM it replaces. Medians of alternating runs; GB/s counts W (or C for gW) once,
next to the read bandwidth of a large torch.sum on the same threads.

    PYTHONPATH=. python benchmarks/linear_small_batch.py [reps]
"""
import ctypes
import os
import statistics
import sys
import time

import fastconv  # first: OMP_WAIT_POLICY=PASSIVE before torch loads its OpenMP
import numpy as np
import torch

torch.set_num_threads(fastconv.get_num_threads())
LIB = ctypes.CDLL(os.path.join(fastconv.get_library_dir(), "libfastconv.so"))
REPS = int(sys.argv[1]) if len(sys.argv) > 1 else 11
SHAPES = [(9216, 4096), (4096, 4096), (4096, 1000)]
BATCHES = [1, 4, 16]
rng = np.random.default_rng(0)


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def packed(fn):
    """fn on the packed SGEMM only."""
    def run():
        LIB.fc_gemv_set_max_rows(ctypes.c_int64(0))
        try:
            fn()
        finally:
            LIB.fc_gemv_set_max_rows(ctypes.c_int64(-1))
    return run


def medians(variants):
    times = {k: [] for k in variants}
    for fn in variants.values():
        fn()  # warm up
    for _ in range(REPS):
        for k, fn in variants.items():
            times[k].append(timed(fn))
    return {k: statistics.median(v) for k, v in times.items()}


big = torch.ones(64 << 20)  # 256 MiB
bw = big.numel() * 4 / medians({"sum": lambda: big.sum()})["sum"] / 1e9
print(f"threads {fastconv.get_num_threads()}, read bandwidth (torch.sum of 256 MiB): "
      f"{bw:.1f} GB/s")
print(f"{'op':4} {'in->out':>11} {'batch':>5} {'fastconv ms':>11} {'packed ms':>9} "
      f"{'torch ms':>8} {'torch/fc':>8} {'packed/fc':>9} {'fc GB/s':>7}")
for n_in, n_out in SHAPES:
    w = rng.standard_normal((n_out, n_in)).astype(np.float32)
    tw = torch.from_numpy(w)
    for b in BATCHES:
        x = rng.standard_normal((b, n_in)).astype(np.float32)
        g = rng.standard_normal((b, n_out)).astype(np.float32)
        tx, tg = torch.from_numpy(x), torch.from_numpy(g)
        ops = {
            "fwd": (lambda: fastconv.matmul(x, w.T),
                    lambda: torch.nn.functional.linear(tx, tw)),
            "gx": (lambda: fastconv.matmul(g, w), lambda: tg @ tw),
            "gW": (lambda: fastconv.matmul(g.T, x), lambda: tg.t() @ tx),
        }
        for op, (fc, tt) in ops.items():
            m = medians({"fc": fc, "packed": packed(fc), "torch": tt})
            gbs = w.nbytes / m["fc"] / 1e9
            print(f"{op:4} {n_in:>5}->{n_out:<5} {b:>5} {m['fc'] * 1e3:>11.2f} "
                  f"{m['packed'] * 1e3:>9.2f} {m['torch'] * 1e3:>8.2f} "
                  f"{m['torch'] / m['fc']:>8.2f} {m['packed'] / m['fc']:>9.2f} {gbs:>7.1f}",
                  flush=True)

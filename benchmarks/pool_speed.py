"""Pooling speed vs PyTorch on the bench_shapes.json pooling layers (2 threads,
medians of alternating runs), plus GB/s (median; bytes the op must read and write) against a measured NumPy copy.
Medians and minima both: on a shared machine the minimum is the uncontended time.

    PYTHONPATH=. python benchmarks/pool_speed.py
"""
import json
import os
import time

import numpy as np

import fastconv

REPS = int(os.environ.get("REPS", "21"))


def median_time(f, reps=REPS):
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def alternate(fa, fb, reps=REPS):
    """(median a, median b, min a, min b) of runs alternating a and b."""
    fa(), fb()
    ta, tb = [], []
    for _ in range(reps):
        ta.append(median_time(fa, 1))
        tb.append(median_time(fb, 1))
    return float(np.median(ta)), float(np.median(tb)), min(ta), min(tb)


def main():
    import torch
    import torch.nn.functional as F
    threads = int(os.environ.get("THREADS", "2"))
    torch.set_num_threads(threads)
    fastconv.set_num_threads(threads)
    here = os.path.dirname(os.path.abspath(__file__))
    shapes = json.load(open(os.path.join(here, "bench_shapes.json")))["shapes"]
    big = np.ones(64 * 2**20 // 4, np.float32)
    dst = np.empty_like(big)
    tc = median_time(lambda: np.copyto(dst, big), 9)
    copy_bw = 2 * big.nbytes / tc / 1e9
    print(f"threads={threads}; numpy copy: {copy_bw:.1f} GB/s (bytes read + written)")
    rng = np.random.default_rng(0)
    print(f"{'layer':22s} {'pass':8s} {'fc ms':>8s} {'torch ms':>8s} {'ratio':>6s} "
          f"{'fc min':>8s} {'t min':>8s} {'ratio':>6s} {'GB/s':>6s}")
    for s in shapes:
        if "pool" not in s["op"]:
            continue
        x = rng.standard_normal((s["N"], s["C"], s["H"], s["W"])).astype(np.float32)
        xt = torch.from_numpy(x)
        op = s["op"]
        if op == "max_pool2d":
            k, st, p = s["kernel_size"], s["stride"], s["padding"]
            y, idx = fastconv.max_pool2d(x, k, st, p, return_indices=True)
            yt, it = F.max_pool2d(xt, k, st, p, return_indices=True)
            gy = rng.standard_normal(y.shape).astype(np.float32)
            gyt = torch.from_numpy(gy)
            runs = [
                ("fwd", lambda: fastconv.max_pool2d(x, k, st, p),
                 lambda: F.max_pool2d(xt, k, st, p), x.nbytes + y.nbytes),
                ("fwd+idx", lambda: fastconv.max_pool2d(x, k, st, p, return_indices=True),
                 lambda: F.max_pool2d(xt, k, st, p, return_indices=True),
                 x.nbytes + y.nbytes + idx.nbytes),
                ("bwd", lambda: fastconv.max_pool2d_backward(gy, x, k, st, p),
                 lambda: torch.ops.aten.max_pool2d_with_indices_backward(
                     gyt, xt, [k, k], [st, st], [p, p], [1, 1], False, it),
                 2 * x.nbytes + gy.nbytes),
                ("bwd+idx", lambda: fastconv.max_pool2d_backward(gy, x, k, st, p, indices=idx),
                 lambda: torch.ops.aten.max_pool2d_with_indices_backward(
                     gyt, xt, [k, k], [st, st], [p, p], [1, 1], False, it),
                 x.nbytes + gy.nbytes + idx.nbytes),
            ]
        elif op == "avg_pool2d":
            k, st, p = s["kernel_size"], s["stride"], s["padding"]
            y = fastconv.avg_pool2d(x, k, st, p)
            gy = rng.standard_normal(y.shape).astype(np.float32)
            gyt = torch.from_numpy(gy)
            runs = [
                ("fwd", lambda: fastconv.avg_pool2d(x, k, st, p),
                 lambda: F.avg_pool2d(xt, k, st, p), x.nbytes + y.nbytes),
                ("bwd", lambda: fastconv.avg_pool2d_backward(gy, x, k, st, p),
                 lambda: torch.ops.aten.avg_pool2d_backward(gyt, xt, [k, k], [st, st], [p, p],
                                                            False, True, None),
                 x.nbytes + gy.nbytes),
            ]
        else:
            y = fastconv.global_avg_pool2d(x)
            gy = rng.standard_normal(y.shape).astype(np.float32)
            gyt = torch.from_numpy(gy)
            hw = s["H"] * s["W"]
            runs = [
                ("fwd", lambda: fastconv.global_avg_pool2d(x),
                 lambda: F.adaptive_avg_pool2d(xt, 1), x.nbytes),
                ("bwd", lambda: fastconv.global_avg_pool2d_backward(gy, x),
                 lambda: gyt.expand(xt.shape).div(hw).contiguous(), x.nbytes),
            ]
        for name, fa, fb, nbytes in runs:
            ta, tb, ma, mb = alternate(fa, fb)
            print(f"{s['name']:22s} {name:8s} {ta * 1e3:8.3f} {tb * 1e3:8.3f} {ta / tb:6.2f} "
                  f"{ma * 1e3:8.3f} {mb * 1e3:8.3f} {ma / mb:6.2f} {nbytes / ta / 1e9:6.1f}")


if __name__ == "__main__":
    main()

"""The blocked-layout (NCHW8c) direct convolution against im2col and PyTorch on the
ResNet-18 batch-1 3x3 layers, alternating runs; medians and minima (on a shared
machine the minimum is the uncontended time). "blocked" excludes the reorders (a plan
keeps the layout between layers); "blocked+reorder" includes to_nchw8c and
from_nchw8c. Weights are arranged once, outside the timing.

    THREADS=1 REPS=21 PYTHONPATH=. python benchmarks/blocked_conv_speed.py
"""
import os
import time

import numpy as np

import fastconv
from fastconv.functional.blocked import (conv2d_nchw8c, from_nchw8c, pack_nchw8c_weights,
                                         to_nchw8c)

REPS = int(os.environ.get("REPS", "21"))
# (C, K, H, stride) of ResNet-18's 3x3 convolutions at 224x224, batch 1
LAYERS = [(64, 64, 56, 1), (128, 128, 28, 1), (256, 256, 14, 1), (512, 512, 7, 1),
          (64, 128, 56, 2), (128, 256, 28, 2), (256, 512, 14, 2)]


def main():
    import torch
    import torch.nn.functional as F
    threads = int(os.environ.get("THREADS", "2"))
    fastconv.set_num_threads(threads)
    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    print(f"threads={threads} reps={REPS} isa={fastconv.get_isa()}; GFLOP/s from the median")
    for C, K, H, s in LAYERS:
        x = rng.standard_normal((1, C, H, H)).astype(np.float32)
        w = (rng.standard_normal((K, C, 3, 3)) * 0.05).astype(np.float32)
        b = rng.standard_normal(K).astype(np.float32)
        xb, pw = to_nchw8c(x), pack_nchw8c_weights(w)
        xt, wt, bt = (torch.from_numpy(a) for a in (x, w, b))
        OH = (H - 1) // s + 1
        flops = 2 * C * K * 9 * OH * OH
        runs = {
            "blocked": lambda: conv2d_nchw8c(xb, pw, b, stride=s, padding=1),
            "blocked+reorder": lambda: from_nchw8c(
                conv2d_nchw8c(to_nchw8c(x), pw, b, stride=s, padding=1), K),
            "im2col": lambda: fastconv.conv2d(x, w, b, s, 1, algorithm="im2col"),
            "torch": lambda: F.conv2d(xt, wt, bt, stride=s, padding=1),
        }
        times = {k: [] for k in runs}
        with torch.no_grad():
            for f in runs.values():
                f()
            for _ in range(REPS):
                for k, f in runs.items():
                    t0 = time.perf_counter()
                    f()
                    times[k].append(time.perf_counter() - t0)
        med = {k: float(np.median(v)) for k, v in times.items()}
        low = {k: min(v) for k, v in times.items()}
        print(f"{C}->{K} {H}x{H} s{s}: " + "  ".join(
            f"{k} {med[k] * 1e3:.3f} ms ({flops / med[k] / 1e9:.0f} GF/s, min {low[k] * 1e3:.3f})"
            for k in runs))
        print(f"    blocked / torch {med['blocked'] / med['torch']:.2f} (min {low['blocked'] / low['torch']:.2f}),"
              f" blocked / im2col {med['blocked'] / med['im2col']:.2f} (min {low['blocked'] / low['im2col']:.2f})")


if __name__ == "__main__":
    main()

"""Every convolution layer of a model, forward, backward-data and backward-weights,
fastconv (algorithm "auto") against PyTorch, alternating calls in one process (issue 16:
"every conv layer ... no slower than PyTorch"). Layers of the same shape are timed once
and counted; each row gives the fastest call of each contender (on a shared host the
fastest is the uncontended time), the ratio fastconv / torch and fastconv's share of
this machine's measured FMA peak (the bench's FMA loop on as many threads; Winograd's
"effective" share counts the direct algorithm's multiply-adds, so it may pass 100%).

    THREADS=2 REPS=15 PYTHONPATH=. python benchmarks/model_conv_layers.py resnet18 16

A last line per pass sums the layers (weighted by count): the model's conv time.
"""
import collections
import os
import sys
import time

import numpy as np

import fastconv
from fastconv import models, nn
from fastconv.bench.ops import _fc_conv_pass, _torch_conv_pass, torch_or_none
from fastconv.bench.peak import fma_gflops

PASSES = ("fwd", "bwd_data", "bwd_weights")


def conv_layers(name, batch):
    """(N, C, H, W, K, R, stride, pad, groups) -> count, from one forward pass."""
    model = getattr(models, name)()
    model.eval()
    seen = collections.Counter()
    orig = nn.Conv2d.forward

    def spy(self, x):
        (R, S), (st, _), pad = self.kernel_size, self.stride, self.padding
        pad = pad[0] if isinstance(pad, tuple) else pad
        seen[(x.shape[0],) + tuple(x.shape[1:]) + (self.out_channels, R, S, st, pad,
                                                   self.groups)] += 1
        return orig(self, x)

    nn.Conv2d.forward = spy
    try:
        hw = 227 if name == "alexnet" else 224
        model(np.zeros((batch, 3, hw, hw), np.float32))
    finally:
        nn.Conv2d.forward = orig
    return seen


def fastest(fns, reps):
    best = [float("inf")] * len(fns)
    for f in fns:
        f()
    for _ in range(reps):
        for i, f in enumerate(fns):
            t = time.perf_counter()
            f()
            best[i] = min(best[i], time.perf_counter() - t)
    return best


def main():
    name, batch = sys.argv[1], int(sys.argv[2])
    threads = int(os.environ.get("THREADS", "2"))
    reps = int(os.environ.get("REPS", "15"))
    torch = torch_or_none()
    fastconv.set_num_threads(threads)
    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    totals = {p: [0.0, 0.0] for p in PASSES}
    peak = max(fma_gflops(threads) for _ in range(3))
    print(f"{name} batch {batch}, {threads} threads, fastest of {reps}; ms fastconv / torch,"
          f" ratio, % of the {peak:.0f} GFLOP/s peak")
    for (N, C, H, W, K, R, S, st, pad, g), count in conv_layers(name, batch).items():
        OH, OW = (H + 2 * pad - R) // st + 1, (W + 2 * pad - S) // st + 1
        x = rng.standard_normal((N, C, H, W), np.float32)
        w = rng.standard_normal((K, C // g, R, S), np.float32) * 0.05
        gy = rng.standard_normal((N, K, OH, OW), np.float32)
        flop = 2.0 * N * K * OH * OW * (C // g) * R * S
        row = f"{C:4d}->{K:4d} {R}x{S}/{st} @{H:3d} x{count:2d}"
        for p in PASSES:
            fc = _fc_conv_pass(x, w, gy, st, pad, g, "auto", p)
            th = _torch_conv_pass(x, w, gy, st, pad, g, p)
            a, b = fastest([fc, th], reps)
            totals[p][0] += a * count
            totals[p][1] += b * count
            row += f" | {p} {a * 1e3:7.2f} {b * 1e3:7.2f} {a / b:5.2f} {flop / a / 1e7 / peak:4.0f}%"
        print(row, flush=True)
    for p, (a, b) in totals.items():
        print(f"total {p}: {a * 1e3:.1f} / {b * 1e3:.1f} ms = {a / b:.3f}")


if __name__ == "__main__":
    main()

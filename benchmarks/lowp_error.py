"""Error of each fastconv op on bfloat16 and float16 arrays against float64 (torch's
float64 ops on the same 16-bit input values, a float64 reference for each op):

    python benchmarks/lowp_error.py

Printed per op and dtype: the largest error in units of the 16-bit spacing at the exact
value (ulp, over outputs with |exact| >= 1e-3 max|exact|: below that cancellation makes a
relative measure meaningless), and norm-wise max|y - exact| / max|exact|. A 16-bit op
rounds a float32 result once, so about 0.5 ulp is expected plus the float32 kernel's
own error (for Winograd, its norm-wise bound f * eps32 * sqrt(9C) * max conv(|x|,|w|)).
"""
import ml_dtypes
import numpy as np
import torch
import torch.nn.functional as F

import fastconv as fc

DTYPES = {"bfloat16": np.dtype(ml_dtypes.bfloat16), "float16": np.dtype(np.float16)}


def t64(a):
    return torch.tensor(np.asarray(a, np.float64))


def ulp(v, dtype):
    h = np.abs(v).astype(np.float32).astype(dtype)
    up = (h.view(np.uint16) + 1).view(dtype).astype(np.float64)
    return np.abs(up - h.astype(np.float64))


def cases(rng):
    x = rng.standard_normal((4, 64, 28, 28))
    w = rng.standard_normal((64, 64, 3, 3)) * np.sqrt(2 / 576)
    dw = rng.standard_normal((64, 1, 3, 3)) * 0.3
    tw = rng.standard_normal((64, 32, 3, 3)) * np.sqrt(2 / 576)
    a, b = rng.standard_normal((256, 512)), rng.standard_normal((512, 128)) / 20
    g, bt = rng.uniform(0.5, 1.5, 64), rng.standard_normal(64) * 0.1
    out = []
    for algo in ("direct", "im2col", "winograd_f23", "winograd_f43"):
        out.append((f"conv2d 3x3 ({algo})", [x, w],
                    lambda x, w, algo=algo: fc.conv2d(x, w, padding=1, algorithm=algo),
                    lambda x, w: F.conv2d(x, w, padding=1)))
    out += [
        ("depthwise_conv2d 3x3", [x, dw], lambda x, w: fc.depthwise_conv2d(x, w, padding=1),
         lambda x, w: F.conv2d(x, w, padding=1, groups=64)),
        ("conv_transpose2d 3x3 s2", [x, tw], lambda x, w: fc.conv_transpose2d(x, w, stride=2),
         lambda x, w: F.conv_transpose2d(x, w, stride=2)),
        ("matmul 256x512x128", [a, b], fc.matmul, lambda a, b: a @ b),
        ("max_pool2d 3x3 s2", [x], lambda x: fc.max_pool2d(x, 3, 2, 1),
         lambda x: F.max_pool2d(x, 3, 2, 1)),
        ("avg_pool2d 3x3 s2", [x], lambda x: fc.avg_pool2d(x, 3, 2, 1),
         lambda x: F.avg_pool2d(x, 3, 2, 1)),
        ("global_avg_pool2d", [x], fc.global_avg_pool2d,
         lambda x: x.mean(dim=(2, 3), keepdim=True)),
        ("batch_norm2d (training)", [x, g, bt], lambda x, g, b: fc.batch_norm2d(x, g, b).y,
         lambda x, g, b: F.batch_norm(x, None, None, g, b, training=True)),
        ("relu", [x], fc.relu, torch.relu),
        ("sigmoid", [x], fc.sigmoid, torch.sigmoid),
        ("tanh", [x], fc.tanh, torch.tanh),
        ("gelu", [x], fc.gelu, F.gelu),
        ("add", [x, x[::-1].copy()], fc.add, lambda a, b: a + b),
    ]
    return out


def main(seed=0):
    rng = np.random.default_rng(seed)
    print("| op | bfloat16: max ulp | bfloat16: norm-wise | float16: max ulp | "
          "float16: norm-wise |")
    print("|---|---|---|---|---|")
    for name, arrays, ours, ref in cases(rng):
        cells = []
        for dtype in DTYPES.values():
            a16 = [np.asarray(a, np.float32).astype(dtype) for a in arrays]
            y = ours(*a16)
            exact = ref(*[t64(a.astype(np.float64)) for a in a16]).numpy()
            assert y.dtype == dtype and y.shape == exact.shape, name
            err = np.abs(y.astype(np.float64) - exact)
            big = np.abs(exact) >= 1e-3 * np.abs(exact).max()
            cells += [f"{np.max(err[big] / ulp(exact[big], dtype)):.2f}",
                      f"{err.max() / np.abs(exact).max():.1e}"]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

"""Max error of float32 3x3 convolutions against a float64 reference, on ResNet-like
layers: torch float32, fastconv direct / im2col / Winograd F(2x2) / F(4x4).

    python benchmarks/winograd_error.py

Inputs: post-ReLU-like (max(0, N(0,1))) and signed (N(0,1)) activations, He-normal
weights (std sqrt(2 / 9C)), padding 1, batch 2. The reference is torch's conv2d in
float64. Printed: max|y - ref| / max|ref| (the error relative to the layer's largest
output), as a multiple of float32's eps (1.19e-7)."""
import numpy as np
import torch

import fastconv

LAYERS = [(64, 56), (128, 28), (256, 14), (512, 7)]   # (channels, spatial size)
ALGOS = ["direct", "im2col", "winograd_f23", "winograd_f43"]
EPS = np.finfo(np.float32).eps


def main(seed=0):
    rng = np.random.default_rng(seed)
    torch.set_num_threads(1)
    rows = []
    for kind in ("relu", "signed"):
        for C, S in LAYERS:
            x = rng.standard_normal((2, C, S, S))
            if kind == "relu":
                x = np.maximum(x, 0.0)
            x = x.astype(np.float32)
            w = (rng.standard_normal((C, C, 3, 3)) * np.sqrt(2.0 / (9 * C))).astype(np.float32)
            ref = torch.nn.functional.conv2d(torch.from_numpy(x).double(),
                                             torch.from_numpy(w).double(), padding=1).numpy()
            scale = np.abs(ref).max()
            errs = {}
            yt = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w),
                                            padding=1).numpy()
            errs["torch"] = np.abs(yt - ref).max() / scale / EPS
            for a in ALGOS:
                y = fastconv.conv2d(x, w, padding=1, algorithm=a)
                errs[a] = np.abs(y - ref).max() / scale / EPS
            rows.append((kind, f"{C}x{S}x{S}", errs))
    head = ["input", "layer (C=K, HxW)", "torch"] + ALGOS
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for kind, layer, e in rows:
        print(f"| {kind} | {layer} | " + " | ".join(f"{e[k]:.2f}" for k in ["torch"] + ALGOS) + " |")


if __name__ == "__main__":
    main()

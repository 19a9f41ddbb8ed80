"""Semantic segmentation on synthetic shapes with fcn_resnet18: noisy images holding
rectangles and discs of random colours; the network labels every pixel background (0),
rectangle (1) or disc (2), so it must learn shape, not colour.

    python -m fastconv.models.segmentation_demo [--steps 300] [--size 64] [--batch 8]

trains from scratch with SGD (momentum 0.9) on fresh batches and prints the mean
intersection-over-union of the three classes on held-out images."""
import argparse
import time

import numpy as np

from fastconv import nn, optim
from fastconv.models.fcn import fcn_resnet18

__all__ = ["CLASSES", "synthetic_shapes", "mean_iou", "train"]

CLASSES = ("background", "rectangle", "disc")


def synthetic_shapes(rng, n, size=64, max_shapes=2):
    """n images (n, 3, size, size) float32 and label maps (n, size, size) int64: N(0,
    0.5) noise with 1..max_shapes rectangles or discs (sides / diameters 1/4 to 1/2 of
    the image) painted on top of each other in random colours (each channel +-0.8..1.5)."""
    x = (0.5 * rng.standard_normal((n, 3, size, size))).astype(np.float32)
    y = np.zeros((n, size, size), np.int64)
    rows, cols = np.mgrid[:size, :size]
    lo, hi = max(2, size // 4), max(3, size // 2)
    for i in range(n):
        for _ in range(rng.integers(1, max_shapes + 1)):
            cls = int(rng.integers(1, 3))
            h, w = rng.integers(lo, hi + 1, 2)
            r0, c0 = rng.integers(0, size - h + 1), rng.integers(0, size - w + 1)
            if cls == 1:
                inside = ((rows >= r0) & (rows < r0 + h) & (cols >= c0) & (cols < c0 + w))
            else:
                d = min(h, w)
                cr, cc = r0 + (d - 1) / 2, c0 + (d - 1) / 2
                inside = (rows - cr) ** 2 + (cols - cc) ** 2 <= (d / 2) ** 2
            color = rng.choice([-1.0, 1.0], 3) * rng.uniform(0.8, 1.5, 3)
            x[i][:, inside] = color[:, None].astype(np.float32)
            y[i][inside] = cls
    return x, y


def mean_iou(pred, target, num_classes):
    """Mean over classes of |pred == c and target == c| / |pred == c or target == c|,
    counted over all pixels of all images (classes absent from both are skipped)."""
    pred, target = np.asarray(pred), np.asarray(target)
    ious = []
    for c in range(num_classes):
        p, t = pred == c, target == c
        union = np.count_nonzero(p | t)
        if union:
            ious.append(np.count_nonzero(p & t) / union)
    return float(np.mean(ious))


def train(steps=300, size=64, batch=8, lr=0.02, seed=0, eval_images=64, log=None):
    """Trains fcn_resnet18(3) on fresh synthetic batches; returns (model, losses, mIoU
    on eval_images held-out images)."""
    rng = np.random.default_rng(seed)
    nn.init.manual_seed(seed)
    model = fcn_resnet18(num_classes=len(CLASSES))
    opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-4)
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    model.train()
    for step in range(steps):
        x, y = synthetic_shapes(rng, batch, size)
        losses.append(loss_fn(model(x), y))
        model.zero_grad()
        model.backward(loss_fn.backward())
        opt.step()
        if log and (step + 1) % max(1, steps // 10) == 0:
            log(f"step {step + 1}/{steps}: loss {np.mean(losses[-10:]):.3f}")
    model.eval()
    xt, yt = synthetic_shapes(np.random.default_rng(seed + 1), eval_images, size)
    pred = np.concatenate([model(xt[i:i + 16]).argmax(1) for i in range(0, eval_images, 16)])
    return model, losses, mean_iou(pred, yt, len(CLASSES))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=0.02)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    _, losses, miou = train(a.steps, a.size, a.batch, a.lr, a.seed, log=print)
    print(f"mIoU {miou:.3f} on held-out images ({a.steps} steps, "
          f"{time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()

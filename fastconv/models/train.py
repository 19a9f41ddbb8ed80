"""Train LeNet-5 on the scikit-learn digits:

    python -m fastconv.models.train lenet5 [--epochs 15] [--batch-size 32] [--out lenet5.npz]

A progress bar (tqdm, when installed) shows loss and throughput; test accuracy is
printed after each epoch and the weights are saved as an .npz state dict at the end.
With --torch, the same network is trained in PyTorch too for the time per epoch.
"""
import argparse
import sys
import time

import numpy as np

from fastconv import data, nn, optim
from fastconv.models.lenet import lenet5
from fastconv.runtime import set_num_threads


def _progress(iterable, total, desc):
    try:
        from tqdm import tqdm
    except ImportError:
        return None, iterable
    bar = tqdm(iterable, total=total, desc=desc, unit="batch", leave=False)
    return bar, bar


def evaluate(model, x, y, batch_size=256):
    model.eval()
    correct = 0
    for i in range(0, len(x), batch_size):
        correct += int((model(x[i:i + batch_size]).argmax(1) == y[i:i + batch_size]).sum())
    return correct / len(x)


def train_lenet5(epochs=15, batch_size=32, lr=0.05, momentum=0.9, weight_decay=1e-4,
                 augment=True, seed=0, out="lenet5.npz", verbose=True):
    """Returns (model, per-epoch list of dicts with loss, test accuracy, seconds)."""
    nn.init.manual_seed(seed)
    (xtr, ytr), (xte, yte) = data.load_digits(size=32, seed=seed)
    model = lenet5(num_classes=10)
    loss_fn = nn.CrossEntropyLoss()
    opt = optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    # Small shifts, rotations and zoom; no flips (a mirrored digit is another glyph).
    aug = data.RandomAffine(degrees=10, zoom=(0.9, 1.1), shift=2) if augment else None
    rng = np.random.default_rng(seed)
    history = []
    steps = -(-len(xtr) // batch_size)
    for epoch in range(1, epochs + 1):
        model.train()
        t0 = time.perf_counter()
        seen, total = 0, 0.0
        bar, it = _progress(data.batches(xtr, ytr, batch_size, rng=rng, transform=aug),
                            steps, f"epoch {epoch}")
        for xb, yb in it:
            loss = loss_fn(model(xb), yb)
            model.zero_grad()
            model.backward(loss_fn.backward())
            opt.step()
            seen += len(xb)
            total += loss * len(xb)
            if bar is not None:
                bar.set_postfix(loss=f"{loss:.3f}",
                                img_s=f"{seen / (time.perf_counter() - t0):.0f}")
        if bar is not None:
            bar.close()
        secs = time.perf_counter() - t0
        acc = evaluate(model, xte, yte)
        history.append(dict(epoch=epoch, loss=total / seen, test_accuracy=acc, seconds=secs))
        if verbose:
            print(f"epoch {epoch:2d}  loss {total / seen:.4f}  test accuracy {acc:.4f}  "
                  f"{secs:.2f} s ({seen / secs:.0f} images/s)")
    if out:
        nn.save(model, out)
        if verbose:
            print(f"saved {out}")
    return model, history


def torch_epoch_seconds(batch_size=32, epochs=2, seed=0, augment=True):
    """Seconds per epoch of the same LeNet-5, data, augmentation and SGD in PyTorch."""
    import torch

    (xtr, ytr), _ = data.load_digits(size=32, seed=seed)
    tn = torch.nn
    net = tn.Sequential(tn.Conv2d(1, 6, 5), tn.Tanh(), tn.AvgPool2d(2), tn.Conv2d(6, 16, 5),
                        tn.Tanh(), tn.AvgPool2d(2), tn.Conv2d(16, 120, 5), tn.Tanh(),
                        tn.Flatten(), tn.Linear(120, 84), tn.Tanh(), tn.Linear(84, 10))
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    aug = data.RandomAffine(degrees=10, zoom=(0.9, 1.1), shift=2) if augment else None
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        for xb, yb in data.batches(xtr, ytr, batch_size, rng=seed, transform=aug):
            loss = tn.functional.cross_entropy(net(torch.from_numpy(xb)), torch.from_numpy(yb))
            opt.zero_grad()
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m fastconv train")
    p.add_argument("model", choices=["lenet5"])
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--no-augment", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="lenet5.npz")
    p.add_argument("--threads", type=int, default=None,
                   help="fastconv (and PyTorch) threads; default: fastconv's")
    p.add_argument("--torch", action="store_true", help="also time an epoch in PyTorch")
    a = p.parse_args(argv)
    if a.threads is not None:
        set_num_threads(a.threads)
        if a.torch:
            import torch
            torch.set_num_threads(a.threads)
    _, hist = train_lenet5(epochs=a.epochs, batch_size=a.batch_size, lr=a.lr,
                           augment=not a.no_augment, seed=a.seed, out=a.out)
    if a.torch:
        ours = min(h["seconds"] for h in hist)
        theirs = torch_epoch_seconds(a.batch_size, seed=a.seed, augment=not a.no_augment)
        print(f"time per epoch (best): fastconv {ours:.2f} s, PyTorch {theirs:.2f} s "
              f"(same network, data and augmentation)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

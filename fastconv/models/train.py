"""`python -m fastconv train MODEL`: trains any network of fastconv.models with
fastconv.train.fit, on the scikit-learn digits (LeNet-5's default), on your own images
(`--data DIR`, one subfolder per class) or on synthetic data (`--synthetic`):

    python -m fastconv train lenet5 --epochs 15
    python -m fastconv train resnet18 --data photos/ --image-size 128 --epochs 5 \\
        --checkpoint run.npz --resume
    python -m fastconv train alexnet --synthetic --image-size 96 --epochs 1

A progress bar (tqdm, when installed) shows the loss; loss and accuracy on the training
and validation data are printed after each epoch; the weights are saved as an .npz
state dict at the end (`--out`). With --torch (LeNet-5 on the digits), the same network
is trained in PyTorch too for the time per epoch.
"""
import argparse
import importlib.util
import os
import sys
import time

import numpy as np

from fastconv import data, models, nn, optim
from fastconv.runtime import set_num_threads
from fastconv.train import fit

MODELS = {"lenet5": models.lenet5, "alexnet": models.alexnet, "resnet18": models.resnet18,
          "resnet34": models.resnet34, "resnet50": models.resnet50}
# Input size each network was defined for (LeNet-5's is fixed by its layers).
NATIVE_SIZE = {"lenet5": 32, "alexnet": 227, "resnet18": 224, "resnet34": 224,
               "resnet50": 224}
OPTIMIZERS = [name for name in ("sgd", "adam", "adamw", "rmsprop")
              if hasattr(optim, {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW",
                                 "rmsprop": "RMSprop"}[name])]


class UsageError(Exception):
    """A bad combination of options or a missing optional package: exit status 2."""


def _available(module):
    return importlib.util.find_spec(module) is not None


def _require(module, what, package):
    if not _available(module):
        raise UsageError(f"{what} needs {package}, which is not installed: "
                         f"pip install {package}")


def evaluate(model, x, y, batch_size=256):
    """Top-1 accuracy of `model` on (x, y), in eval mode."""
    model.eval()
    correct = 0
    for i in range(0, len(x), batch_size):
        correct += int((model(x[i:i + batch_size]).argmax(1) == y[i:i + batch_size]).sum())
    return correct / len(x)


class Augment:
    """A collate_fn: stacks the samples, then applies a batch transform t(x, rng) with
    a generator seeded from NumPy's global one (which each DataLoader worker seeds)."""

    def __init__(self, transform):
        self.transform = transform

    def __call__(self, samples):
        x, y = data.default_collate(samples)
        return self.transform(x, np.random.default_rng(np.random.randint(2**31 - 1))), y


class Subset:
    def __init__(self, dataset, indices):
        self.dataset, self.indices = dataset, list(indices)

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, i):
        return self.dataset[self.indices[i]]


def _digits(a):
    _require("sklearn", "training LeNet-5 on the digits (the default data)",
             "scikit-learn")
    (xtr, ytr), (xte, yte) = data.load_digits(size=32, seed=a.seed)
    # Small shifts, rotations and zoom; no flips (a mirrored digit is another glyph).
    aug = (Augment(data.RandomAffine(degrees=10, zoom=(0.9, 1.1), shift=2))
           if not a.no_augment else None)
    return data.ArrayDataset(xtr, ytr), data.ArrayDataset(xte, yte), 10, aug


def _synthetic(a, channels, size):
    """Learnable random data: each class a fixed random image, each sample its class's
    image plus noise."""
    rng = np.random.default_rng(a.seed)
    templates = rng.standard_normal((a.num_classes, channels, size, size), dtype=np.float32)

    def make(n):
        y = rng.integers(0, a.num_classes, n)
        x = templates[y] + rng.standard_normal((n, channels, size, size), dtype=np.float32)
        return data.ArrayDataset(x, y.astype(np.int64))

    n_val = max(1, int(round(a.samples * a.val_fraction)))
    return make(a.samples), make(n_val), a.num_classes, None


def _image_folder(a, channels, size):
    _require("PIL", f"reading the images of {a.data}", "Pillow")

    def transform(img):          # to the network's size, then about zero mean, unit spread
        return (data.to_array(img.resize((size, size))) - 0.5) / 0.25

    mode = "L" if channels == 1 else "RGB"
    ds = data.ImageFolder(a.data, transform=transform, mode=mode)
    if a.val_data:
        val = data.ImageFolder(a.val_data, transform=transform, mode=mode)
        if val.classes != ds.classes:
            raise UsageError(f"--val-data has classes {val.classes}, --data {ds.classes}")
        return ds, val, len(ds.classes), None
    order = np.random.default_rng(a.seed).permutation(len(ds))
    n_val = int(round(len(ds) * a.val_fraction))
    if n_val == 0:
        return ds, None, len(ds.classes), None
    return Subset(ds, order[n_val:]), Subset(ds, order[:n_val]), len(ds.classes), None


def _datasets(a):
    channels = 1 if a.model == "lenet5" else 3
    size = NATIVE_SIZE[a.model] if a.image_size is None else a.image_size
    if a.model == "lenet5" and size != 32:
        raise UsageError("lenet5 takes 32x32 images (--image-size 32)")
    if a.data and a.synthetic:
        raise UsageError("--data and --synthetic exclude each other")
    if a.data:
        return _image_folder(a, channels, size)
    if a.synthetic:
        return _synthetic(a, channels, size)
    if a.model != "lenet5":
        raise UsageError(f"{a.model} needs data: --data DIR (an image folder, one subfolder "
                         f"per class) or --synthetic (the digits are for lenet5)")
    return _digits(a)


def _optimizer(a, params):
    if a.optimizer == "sgd":
        return optim.SGD(params, lr=a.lr, momentum=a.momentum, weight_decay=a.weight_decay)
    cls = {"adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop"}[a.optimizer]
    return getattr(optim, cls)(params, lr=a.lr, weight_decay=a.weight_decay)


def _checkpoint_path(a):
    if a.resume and not a.checkpoint:
        raise UsageError("--resume needs --checkpoint PATH (the checkpoint to resume from)")
    if a.checkpoint and os.path.exists(a.checkpoint) and not a.resume:
        raise UsageError(f"{a.checkpoint} exists: pass --resume to continue from it, or "
                         f"remove it to start afresh")
    if a.resume and not os.path.exists(a.checkpoint):
        print(f"no checkpoint at {a.checkpoint} yet: starting from epoch 1")
    return a.checkpoint


def train(a):
    """Runs the command for parsed arguments `a`; returns (model, history)."""
    if a.torch:
        _require("torch", "--torch", "torch")
        if a.model != "lenet5" or a.data or a.synthetic:
            raise UsageError("--torch times LeNet-5 on the digits only")
    checkpoint = _checkpoint_path(a)
    train_set, val_set, num_classes, collate = _datasets(a)
    if a.threads is not None:
        set_num_threads(a.threads)
    nn.init.manual_seed(a.seed)
    np.random.seed(a.seed)                      # the augmentation's draws in this process
    model = MODELS[a.model](num_classes=num_classes)
    opt = _optimizer(a, model.parameters())
    run, sampler, main = model, None, True
    if a.distributed:
        _require("torch", "--distributed", "torch")
        from fastconv import distributed
        distributed.init_process_group(backend="gloo")     # torchrun's environment
        run = distributed.DistributedDataParallel(model)   # rank 0's weights everywhere
        sampler = distributed.DistributedSampler(train_set, shuffle=True, seed=a.seed)
        main = distributed.get_rank() == 0                  # prints and writes files
    loader = data.DataLoader(train_set, batch_size=a.batch_size, shuffle=sampler is None,
                             seed=a.seed, sampler=sampler, collate_fn=collate,
                             num_workers=a.workers)
    val = (data.DataLoader(val_set, batch_size=max(a.batch_size, 64), num_workers=a.workers)
           if val_set is not None else None)
    try:
        history = fit(run, nn.CrossEntropyLoss(), opt, loader, val, epochs=a.epochs,
                      checkpoint=checkpoint, progress=main and not a.quiet)
    finally:
        if a.distributed:
            distributed.destroy_process_group()
    if a.out and main:
        nn.save(model, a.out)
        if not a.quiet:
            print(f"saved {a.out}")
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


def build_parser():
    p = argparse.ArgumentParser(
        prog="python -m fastconv train",
        description="Train a network of fastconv.models with fastconv.train.fit.",
        epilog="Data: the scikit-learn digits for lenet5 by default (pip install "
               "scikit-learn), --data DIR for your images (pip install Pillow), or "
               "--synthetic.")
    p.add_argument("model", choices=sorted(MODELS), help="the network to train")
    d = p.add_argument_group("data")
    d.add_argument("--data", metavar="DIR",
                   help="an image folder: one subfolder of images per class (needs Pillow)")
    d.add_argument("--val-data", metavar="DIR",
                   help="a second image folder to validate on (default: --val-fraction of "
                        "--data)")
    d.add_argument("--synthetic", action="store_true",
                   help="random learnable data (each class a fixed image plus noise)")
    d.add_argument("--samples", type=int, default=512,
                   help="--synthetic: training samples (default: %(default)s)")
    d.add_argument("--num-classes", type=int, default=10,
                   help="--synthetic: classes (default: %(default)s)")
    d.add_argument("--val-fraction", type=float, default=0.1,
                   help="share of the data held out for validation with --data or "
                        "--synthetic (default: %(default)s)")
    d.add_argument("--image-size", type=int, default=None,
                   help="side of the square inputs (default: the network's own: 32 for "
                        "lenet5, 227 for alexnet, 224 for the resnets)")
    d.add_argument("--no-augment", action="store_true",
                   help="digits: no random shifts, rotations and zoom")
    d.add_argument("--workers", type=int, default=0,
                   help="DataLoader worker processes (default: %(default)s, load in this "
                        "process)")
    t = p.add_argument_group("training")
    t.add_argument("--epochs", type=int, default=15, help="epochs (default: %(default)s)")
    t.add_argument("--batch-size", type=int, default=32,
                   help="samples per step (default: %(default)s)")
    t.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd",
                   help="the optimizer (default: %(default)s)")
    t.add_argument("--lr", type=float, default=0.05, help="learning rate (default: %(default)s)")
    t.add_argument("--momentum", type=float, default=0.9,
                   help="SGD momentum (default: %(default)s)")
    t.add_argument("--weight-decay", type=float, default=1e-4,
                   help="weight decay (default: %(default)s)")
    t.add_argument("--seed", type=int, default=0,
                   help="seeds the weights, the data order, the augmentation and the "
                        "synthetic data (default: %(default)s)")
    t.add_argument("--threads", type=int, default=None,
                   help="fastconv (and PyTorch) threads; default: fastconv's")
    t.add_argument("--distributed", action="store_true",
                   help="data-parallel over the processes torchrun starts (torchrun "
                        "--nproc_per_node 2 -m fastconv train lenet5 --distributed): gloo, "
                        "each rank a shard of every epoch, gradients averaged, rank 0 "
                        "prints and writes the checkpoint (needs torch)")
    o = p.add_argument_group("output")
    o.add_argument("--out", default=None,
                   help="where to save the final weights, an .npz state dict (default: "
                        "MODEL.npz; '' to skip)")
    o.add_argument("--checkpoint", metavar="PATH", default=None,
                   help="write a checkpoint (weights, optimizer, epoch, history) after "
                        "every epoch")
    o.add_argument("--resume", action="store_true",
                   help="continue from --checkpoint if it exists (without --resume, an "
                        "existing checkpoint is an error rather than overwritten)")
    o.add_argument("--quiet", action="store_true", help="no progress bar or epoch lines")
    o.add_argument("--torch", action="store_true",
                   help="also time an epoch of the same LeNet-5 in PyTorch (needs torch)")
    return p


def main(argv=None):
    p = build_parser()
    a = p.parse_args(argv)
    if a.out is None:
        a.out = f"{a.model}.npz"
    for name in ("epochs", "samples", "num_classes", "workers"):
        if getattr(a, name) < 0:
            p.error(f"--{name.replace('_', '-')} must be >= 0")
    if a.batch_size < 1 or (a.image_size is not None and a.image_size < 1):
        p.error("--batch-size and --image-size must be >= 1")
    if not 0.0 <= a.val_fraction < 1.0:
        p.error("--val-fraction must be in [0, 1)")
    try:
        _, hist = train(a)
    except UsageError as e:
        p.error(str(e))
    if a.torch:
        import torch

        if a.threads is not None:
            torch.set_num_threads(a.threads)
        ours = min(h["seconds"] for h in hist)
        theirs = torch_epoch_seconds(a.batch_size, seed=a.seed, augment=not a.no_augment)
        print(f"time per epoch (best): fastconv {ours:.2f} s, PyTorch {theirs:.2f} s "
              f"(same network, data and augmentation)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

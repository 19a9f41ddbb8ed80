"""fastconv.amp.autocast("bfloat16") against float32, and against torch's own CPU bf16
autocast in the same run:

    python benchmarks/amp_measure.py [--size 224] [--skip-lenet]

1. ResNet-18 (1000 classes), batch 16, 224x224: the training step's memory above the
   model (tracemalloc peak during forward + loss + backward minus what was traced before:
   parameters and the gradients of a first step, which the measured step accumulates
   into), float32 vs autocast. Step seconds of fastconv and torch, float32 and autocast,
   at --speed-size (torch's bf16 without AVX512_BF16 is slow).
2. ResNet-18 inference (eval, random weights with randomized BatchNorm statistics, the
   same weights in both libraries): top-1 agreement of bf16 autocast with float32 on a
   batch of smooth random images (low-frequency noise), fastconv and torch. Random
   weights leave many logits nearly tied, so also a ResNet-18 trained 3 epochs on the
   digits (32x32, 10 classes): agreement on the test digits and on smooth images.
3. LeNet-5 on the scikit-learn digits, trained under autocast (fastconv.models.train's
   recipe, 15 epochs): test accuracy.
"""
import argparse
import gc
import os
import statistics
import sys
import time
import tracemalloc

import numpy as np

import fastconv as fc
from fastconv import amp, nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "models"))


def smooth_images(n, size, rng):
    """Low-frequency noise: 7x7 Gaussian grids upsampled bilinearly, plus a colour cast."""
    from fastconv.data import resize
    coarse = rng.standard_normal((n, 3, 7, 7)).astype(np.float32)
    x = resize(coarse, size)
    return (x + rng.standard_normal((n, 3, 1, 1)).astype(np.float32) * 0.5).astype(np.float32)


def _step(model, loss_fn, x, y, dtype, zero=True):
    model.train()
    if dtype is None:
        out = model(x)
    else:
        with amp.autocast(dtype):
            out = model(x)
    loss_fn(out, y)
    if zero:
        model.zero_grad()
    model.backward(loss_fn.backward())


def step_memory(model, x, y, dtype):
    loss_fn = nn.CrossEntropyLoss()
    _step(model, loss_fn, x, y, dtype)           # gradients exist from here on
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    _step(model, loss_fn, x, y, dtype, zero=False)   # accumulates into them
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak


def step_seconds(fn, reps=3):
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def torch_twin(seed=0):
    import torch
    import torch_twins
    torch.manual_seed(seed)
    tm = torch_twins.resnet(18, num_classes=1000)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in tm.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5, generator=g)
                m.bias.normal_(0, 0.1, generator=g)
                m.running_mean.normal_(0, 0.1, generator=g)
                m.running_var.uniform_(0.5, 1.5, generator=g)
    return tm


def torch_twins_resnet10(model):
    """torch's twin of a fastconv ResNet-18 with 10 classes, holding its weights."""
    import torch
    import torch_twins
    tm = torch_twins.resnet(18, num_classes=10)
    sd = tm.state_dict()
    tm.load_state_dict({k: torch.tensor(np.asarray(v)).to(sd[k].dtype)
                        for k, v in model.state_dict().items() if k in sd}, strict=False)
    return tm.eval()


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--infer-batch", type=int, default=64)
    ap.add_argument("--infer-size", type=int, default=96)
    ap.add_argument("--speed-size", type=int, default=96)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--skip-lenet", action="store_true")
    args = ap.parse_args(argv)
    import torch
    torch.set_num_threads(fc.get_num_threads())
    rng = np.random.default_rng(0)
    print(f"isa={fc.get_isa()} threads={fc.get_num_threads()} torch={torch.__version__}")

    # 1. training-step memory and time
    tm = torch_twin()
    model = fc.models.resnet18(num_classes=1000)
    model.load_state_dict(tm.state_dict())
    x = smooth_images(args.batch, args.size, rng)
    y = rng.integers(0, 1000, args.batch)
    m32 = step_memory(model, x, y, None)
    m16 = step_memory(model, x, y, "bfloat16")
    print(f"ResNet-18 batch {args.batch} {args.size}x{args.size} training step, peak memory "
          f"above the model (parameters and their gradients): float32 {m32 / 2**20:.1f} MiB, "
          f"bf16 autocast {m16 / 2**20:.1f} MiB, ratio {m16 / m32:.3f}")
    # speed at a smaller size: torch's bf16 on a CPU without AVX512_BF16 is slow
    x = smooth_images(args.batch, args.speed_size, rng)
    loss_fn = nn.CrossEntropyLoss()
    f32 = step_seconds(lambda: _step(model, loss_fn, x, y, None), args.reps)
    f16 = step_seconds(lambda: _step(model, loss_fn, x, y, "bfloat16"), args.reps)
    tx, ty = torch.tensor(x), torch.tensor(y)
    tm.train()

    def torch_step(autocast):
        tm.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            loss = torch.nn.functional.cross_entropy(tm(tx), ty)
        loss.backward()
    t32 = step_seconds(lambda: torch_step(False), args.reps)
    t16 = step_seconds(lambda: torch_step(True), args.reps)
    print(f"  {args.speed_size}x{args.speed_size} step seconds (median of {args.reps}): fastconv float32 {f32:.2f}, autocast {f16:.2f}; "
          f"torch float32 {t32:.2f}, autocast {t16:.2f}")

    # 2. inference agreement. A random network gives every image nearly the same logits
    # (the pooled features share a large positive mean): the classifier's bias is
    # centred on a separate calibration batch, so that top-1 depends on the image.
    tm.eval()
    with torch.no_grad():
        calib = tm(torch.tensor(smooth_images(args.infer_batch, args.infer_size, rng)))
        tm.fc.bias -= calib.mean(0)
    model.load_state_dict(tm.state_dict())
    model.eval()
    xi = smooth_images(args.infer_batch, args.infer_size, rng)
    ref = model(xi)
    with amp.autocast("bfloat16"):
        low = model(xi)
    with torch.no_grad():
        tref = tm(torch.tensor(xi)).numpy()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            tlow = tm(torch.tensor(xi)).float().numpy()
    top = ref.argmax(1)
    print(f"ResNet-18 inference, {args.infer_batch} smooth random images {args.infer_size}x{args.infer_size}: top-1 agreement "
          f"with float32: fastconv bf16 {np.mean(low.argmax(1) == top):.3f}, torch bf16 "
          f"{np.mean(tlow.argmax(1) == tref.argmax(1)):.3f}; fastconv vs torch float32 "
          f"{np.mean(tref.argmax(1) == top):.3f}, bf16 {np.mean(tlow.argmax(1) == low.argmax(1)):.3f}; "
          f"{len(np.unique(top))} distinct classes; max |logit error| / max|logit|: fastconv "
          f"{np.abs(low - ref).max() / np.abs(ref).max():.2e}, torch "
          f"{np.abs(tlow - tref).max() / np.abs(tref).max():.2e}")
    ti = step_seconds(lambda: model(xi), 1)
    with amp.autocast("bfloat16"):
        ti16 = step_seconds(lambda: model(xi), 1)
    with torch.no_grad():
        tt = step_seconds(lambda: tm(torch.tensor(xi)), 1)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            tt16 = step_seconds(lambda: tm(torch.tensor(xi)), 1)
    print(f"  inference seconds: fastconv float32 {ti:.2f}, autocast {ti16:.2f}; torch float32 "
          f"{tt:.2f}, autocast {tt16:.2f}")

    # 2b. a trained ResNet-18 (random weights have near-tied logits): 3 epochs on the
    # digits at 32x32 (3 channels), then agreement on the test digits and on smooth images
    from fastconv import data, optim
    (xtr, ytr), (xte, yte) = data.load_digits(size=32, seed=0)
    xtr, xte = np.repeat(xtr, 3, axis=1), np.repeat(xte, 3, axis=1)
    net = fc.models.resnet18(num_classes=10)
    opt = optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    lf = nn.CrossEntropyLoss()
    for _ in range(3):
        for xb, yb in data.batches(xtr, ytr, 32, rng=rng):
            _step(net, lf, xb, yb, None)
            opt.step()
    net.eval()
    t10 = torch_twins_resnet10(net)
    xs = smooth_images(64, 32, rng)
    for what, xe in (("test digits", xte), ("smooth images", xs)):
        r32 = net(xe).argmax(1)
        with amp.autocast("bfloat16"):
            r16 = net(xe).argmax(1)
        with torch.no_grad():
            q32 = t10(torch.tensor(xe)).argmax(1).numpy()
            with torch.autocast("cpu", dtype=torch.bfloat16):
                q16 = t10(torch.tensor(xe)).argmax(1).numpy()
        extra = f", accuracy {np.mean(r32 == yte):.3f}" if what == "test digits" else ""
        print(f"ResNet-18 trained on the digits, {len(xe)} {what}: top-1 agreement of bf16 "
              f"with float32: fastconv {np.mean(r16 == r32):.3f}, torch {np.mean(q16 == q32):.3f}"
              f"{extra}")

    # 3. LeNet-5 under autocast
    if not args.skip_lenet:
        from fastconv.models.train import train_lenet5
        with amp.autocast("bfloat16"):
            _, hist = train_lenet5(out=None, verbose=False)
        print(f"LeNet-5 on the digits under bf16 autocast: test accuracy "
              f"{hist[-1]['test_accuracy']:.4f} after {len(hist)} epochs")


if __name__ == "__main__":
    main()

"""A training loop for fastconv.nn models: `fit` trains, validates, reports and
checkpoints epoch by epoch, and resumes from its own checkpoint.

    from fastconv.train import fit
    history = fit(model, fc.nn.CrossEntropyLoss(), opt, train_loader, val_loader,
                  epochs=10, scheduler=sched, checkpoint="run.npz")
"""
import inspect
import math
import os
import sys
import time
import warnings

import numpy as np


__all__ = ["fit", "evaluate", "save_checkpoint", "load_checkpoint"]

# Schedulers torch steps once per batch rather than once per epoch.
_PER_BATCH = ("OneCycleLR", "CyclicLR")


def _progress(total, desc, enabled):
    """A tqdm bar updated by hand (wrapping the loader would let tqdm call iter() on it
    more than once: tqdm.auto does, which would start a DataLoader's epoch twice)."""
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=desc, unit="batch", leave=False)


def _split(batch):
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return batch[0], batch[1]
    raise TypeError(f"fit: each batch must be an (inputs, targets) pair, got "
                    f"{type(batch).__name__}" + (f" of {len(batch)}" if hasattr(batch, "__len__")
                                                  else ""))


def _correct(out, target):
    """Correct top-1 predictions, or None where accuracy has no meaning (not (N, K)
    scores against N integer labels)."""
    t = np.asarray(target)
    if out.ndim != 2 or t.shape != (out.shape[0],) or t.dtype.kind not in "iu":
        return None
    return int((out.argmax(1) == t).sum())


def _lr(optimizer):
    groups = getattr(optimizer, "param_groups", None)
    if groups:
        return float(groups[0]["lr"])
    return float(getattr(optimizer, "lr", float("nan")))


class _Meter:
    def __init__(self):
        self.seen = 0
        self.loss = 0.0
        self.correct = 0
        self.scored = True

    def add(self, loss, out, target):
        n = len(out)
        self.seen += n
        self.loss += float(loss) * n
        c = _correct(out, target)
        if c is None:
            self.scored = False
        elif self.scored:
            self.correct += c

    def result(self, prefix=""):
        if self.seen == 0:
            return {}
        d = {prefix + "loss": self.loss / self.seen}
        if self.scored:
            d[prefix + "accuracy"] = self.correct / self.seen
        return d


def evaluate(model, loss, loader):
    """{"loss": mean loss per sample, "accuracy": top-1 (when outputs are (N, K) scores
    and targets integer labels)} over `loader`, in eval mode (no activations kept)."""
    model.eval()
    meter = _Meter()
    for batch in loader:
        x, y = _split(batch)
        out = np.asarray(model(x))
        meter.add(loss(out, y), out, y)
    return meter.result()


def save_checkpoint(obj, path):
    """Writes a nested checkpoint ({"model": state dict, "optimizer": ..., "epoch": 3})
    with fastconv.save: .npz plus a JSON index, never pickled."""
    from fastconv import nn      # fastconv.save is fastconv.nn.save

    nn.save(obj, path)


def load_checkpoint(path):
    """Reads what save_checkpoint wrote, as a nested dict."""
    from fastconv import nn

    obj = nn.load(path)
    if not isinstance(obj, dict) or not isinstance(obj.get("model"), dict):
        raise ValueError(f"load_checkpoint: {path} is a model's weights, not a training "
                         f"checkpoint (no 'model' entry)")
    return obj


def _state(obj):
    return obj.state_dict() if obj is not None and hasattr(obj, "state_dict") else None


def _resume(path, model, optimizer, scheduler, log):
    ck = load_checkpoint(path)
    model.load_state_dict(ck["model"])
    for name, obj in (("optimizer", optimizer), ("scheduler", scheduler)):
        state = ck.get(name)
        if obj is None or state is None:
            continue
        if hasattr(obj, "load_state_dict"):
            obj.load_state_dict(state)
        else:
            warnings.warn(f"fit: the checkpoint holds a {name} state but "
                          f"{type(obj).__name__} has no load_state_dict: it starts afresh",
                          RuntimeWarning, stacklevel=3)
    epoch = int(ck.get("epoch", 0))
    log(f"resumed from {path} after epoch {epoch}")
    return epoch, list(ck.get("history") or [])


def _format(h, epochs):
    parts = [f"epoch {h['epoch']}/{epochs}"]
    for k in ("loss", "accuracy", "val_loss", "val_accuracy"):
        if k in h:
            parts.append(f"{k} {h[k]:.4f}")
    parts.append(f"lr {h['lr']:.3g}")
    parts.append(f"{h['seconds']:.1f} s")
    return "  ".join(parts)


def _input_free_backward(model):
    """model.backward without the input gradient where the model's backward offers
    that (fastconv.nn modules, DistributedDataParallel), else the plain call."""
    try:
        params = inspect.signature(model.backward).parameters
    except (TypeError, ValueError):
        params = {}
    if "input_grad" in params:
        return lambda g: model.backward(g, input_grad=False)
    return model.backward


def fit(model, loss, optimizer, train_loader, val_loader=None, epochs=1, scheduler=None,
        checkpoint=None, progress=True, scheduler_step=None):
    """Trains `model` for `epochs` epochs and returns the history: one dict per epoch
    with "epoch" (1-based), "loss" (mean training loss per sample), "accuracy" (top-1,
    where outputs are (N, K) scores and targets integer labels), "val_loss" and
    "val_accuracy" (with val_loader), "lr" (the first parameter group's, during the
    epoch) and "seconds". Each line is also printed when `progress` is true, with a
    tqdm progress bar over the batches when tqdm is installed.

    One step: `out = model(x)`, `l = loss(out, y)`, `model.zero_grad()`,
    `model.backward(loss.backward(), input_grad=False)` (the inputs need no gradient;
    a model whose backward has no input_grad argument gets the plain call),
    `optimizer.step()`. Loaders yield (x, y) pairs
    and are iterated once per epoch (a fastconv.data.DataLoader, or any re-iterable
    such as a list of batches); a loader with set_epoch(e) is told the epoch first, so
    a shuffled DataLoader gives each epoch its own order, the same on a resumed run.

    `scheduler` is stepped once per epoch after training (ReduceLROnPlateau-like
    schedulers, whose step takes a metric, with the validation loss, else the training
    loss), or once per batch for OneCycleLR and CyclicLR; `scheduler_step="epoch"` or
    `"batch"` overrides that.

    `checkpoint=path`: after every epoch {"model": model.state_dict(), "optimizer":
    optimizer.state_dict(), "scheduler": scheduler.state_dict(), "epoch": epochs done,
    "history": [...]} is written there (see save_checkpoint; optimizer and scheduler
    only where they have state_dict); if the file exists when fit starts, training
    resumes from it (weights, optimizer and scheduler state where they have
    load_state_dict, and the epoch count: epochs=10 after a checkpoint of epoch 4
    trains epochs 5..10). Not restored: random generators outside the loader (dropout,
    your augmentations) - seed them per epoch for exact reproducibility.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"fit: epochs must be an int >= 0, got epochs={epochs!r}")
    if scheduler_step not in (None, "epoch", "batch"):
        raise ValueError(f"fit: scheduler_step must be None, 'epoch' or 'batch', got "
                         f"{scheduler_step!r}")
    for name, fn in (("model", model), ("loss", loss)):
        if not callable(fn) or not hasattr(fn, "backward"):
            raise TypeError(f"fit: {name} must be callable with a backward() method, got "
                            f"{type(fn).__name__}")
    if not hasattr(optimizer, "step"):
        raise TypeError(f"fit: optimizer must have step(), got {type(optimizer).__name__}")
    log = print if progress else (lambda *a: None)
    per_batch = (scheduler_step == "batch" if scheduler_step else
                 type(scheduler).__name__ in _PER_BATCH)
    backward = _input_free_backward(model)
    start, history = 0, []
    if checkpoint is not None and os.path.exists(checkpoint):
        start, history = _resume(checkpoint, model, optimizer, scheduler, log)
    try:
        total = len(train_loader)
    except TypeError:
        total = None
    for epoch in range(start, epochs):
        if hasattr(train_loader, "set_epoch"):
            train_loader.set_epoch(epoch)
        model.train()
        meter = _Meter()
        lr = _lr(optimizer)
        t0 = time.perf_counter()
        bar = _progress(total, f"epoch {epoch + 1}/{epochs}", progress)
        try:
            for batch in train_loader:
                x, y = _split(batch)
                out = np.asarray(model(x))
                value = loss(out, y)
                model.zero_grad()
                backward(loss.backward())
                optimizer.step()
                if scheduler is not None and per_batch:
                    scheduler.step()
                meter.add(value, out, y)
                if bar is not None:
                    bar.set_postfix(loss=f"{meter.loss / meter.seen:.4f}", refresh=False)
                    bar.update()
        finally:
            if bar is not None:
                bar.close()
        h = {"epoch": epoch + 1, **meter.result()}
        if val_loader is not None:
            h.update({"val_" + k: v for k, v in evaluate(model, loss, val_loader).items()})
        h["lr"] = lr
        h["seconds"] = time.perf_counter() - t0
        if scheduler is not None and not per_batch:
            _step_epoch(scheduler, h)
        history.append(h)
        log(_format(h, epochs))
        if checkpoint is not None and _main_process():
            save_checkpoint({"model": model.state_dict(), "optimizer": _state(optimizer),
                             "scheduler": _state(scheduler), "epoch": epoch + 1,
                             "history": history}, checkpoint)
    if progress:
        sys.stdout.flush()
    return history


def _main_process():
    """Rank 0 of a fastconv.distributed process group (or no group): the one process
    that writes checkpoints."""
    from fastconv import distributed    # does not import torch
    return distributed.get_rank() == 0


def _step_epoch(scheduler, h):
    # ReduceLROnPlateau (torch's and fastconv's) steps on a metric.
    if type(scheduler).__name__ == "ReduceLROnPlateau":
        metric = h.get("val_loss", h.get("loss", math.nan))
        scheduler.step(metric)
    else:
        scheduler.step()

"""Optimizers on fastconv.nn Parameters with PyTorch's update rules, parameter groups
and state dicts: SGD, Adam, AdamW (fused multi-tensor C updates), RMSprop (NumPy);
learning-rate schedulers in fastconv.optim.lr_scheduler.

Parameters whose .grad is None (untouched since zero_grad) or whose requires_grad is
False are skipped, as in PyTorch. Updates are in place on Parameter.data (float32).
"""
from fastconv.optim.optimizer import Optimizer
from fastconv.optim.sgd import SGD
from fastconv.optim.adam import Adam, AdamW
from fastconv.optim.rmsprop import RMSprop
from fastconv.optim import lr_scheduler

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "lr_scheduler"]

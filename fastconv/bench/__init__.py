"""Benchmarks of fastconv against PyTorch and NumPy: `python -m fastconv bench`.

One registry (fastconv.bench.ops.cases) drives both the command and the
pytest-benchmark suite under benchmarks/. Each case times its contenders
alternately, run by run, on the same inputs and thread count, and reports medians,
GFLOP/s (GB/s for memory-bound ops), percent of the machine's measured peak and the
ratios to PyTorch and NumPy.
"""
from fastconv.bench.ops import Case, NotServed, cases
from fastconv.bench.shapes import load_shapes

__all__ = ["Case", "NotServed", "cases", "load_shapes"]

"""Where an inference call's time goes, layer shape by layer shape: fastconv's plan
(`plan.profile`) against onnxruntime's own per-node profile of the torch twin's ONNX
export, the same input, in one process. Convolutions are grouped by shape (channels,
kernel, stride, input map: "64->256 1x1/1 @56"), each group the sum over the network's
layers of that shape; other steps by operator. Needs torch, onnx and onnxruntime.

    THREADS=2 REPS=20 PYTHONPATH=. python benchmarks/inference_layers.py resnet50 1

STAT=min takes each step's and node's fastest call instead of the median: on a shared
host whose neighbours steal cycles (same-code medians 30% apart), the fastest of 20-50
calls varied by a few percent.
"""
import collections
import json
import os
import sys
import tempfile
import time
import warnings

import numpy as np

import fastconv
from fastconv import nn
from fastconv.bench import ops
from fastconv.nn.inference import PROFILE_STATS


STAT = os.environ.get("STAT", "median")
_STAT = PROFILE_STATS[STAT]                    # the same statistic for onnxruntime's nodes


def fastconv_groups(name, x, reps):
    factory = ops.MODELS[name][0]
    plan = nn.inference(ops._fc_model(factory))
    groups = collections.Counter()
    for step, sec in plan.profile(x, repeat=reps, stat=STAT):
        parts = step.split()                   # conv 64->256 1x1/1 @56x56 nchw8c
        key = (f"{parts[1]} {parts[2]} {parts[3].split('x')[0]}" if parts[0] == "conv"
               else parts[0])
        groups[key] += sec * 1e3
    return groups


def ort_groups(name, x, reps, threads):
    import onnxruntime as ort
    import torch
    tm = ops._torch_model(name).eval()
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "model.onnx")
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(tm, (torch.from_numpy(x),), path, dynamo=False,
                              input_names=["input"], output_names=["logits"])
        so = ort.SessionOptions()
        so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
        so.enable_profiling = True
        so.profile_file_prefix = os.path.join(d, "ort")
        sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        for _ in range(3):
            sess.run(None, {"input": x})
        wall = []
        for _ in range(reps):
            t0 = time.perf_counter()
            sess.run(None, {"input": x})
            wall.append(time.perf_counter() - t0)
        with open(sess.end_profiling()) as f:
            events = json.load(f)
    per_node, args = collections.defaultdict(list), {}
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            per_node[e["name"]].append(e["dur"] / 1e3)
            args[e["name"]] = e["args"]
    groups = collections.Counter()
    for node, ms in per_node.items():
        a = args[node]
        if a.get("op_name") in ("Conv", "FusedConv"):
            xs = next(iter(a["input_type_shape"][0].values()))
            ws = next(iter(a["input_type_shape"][1].values()))
            ys = next(iter(a["output_type_shape"][0].values()))
            st = round(xs[2] / ys[2])
            key = f"{ws[1]}->{ws[0]} {ws[2]}x{ws[3]}/{st} @{xs[2]}"
        else:
            key = a.get("op_name", node)
        groups[key] += _STAT(ms[-reps:])
    return groups, _STAT(wall) * 1e3


def main():
    name = sys.argv[1] if len(sys.argv) > 1 else "resnet50"
    batch = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    threads = int(os.environ.get("THREADS", "2"))
    reps = int(os.environ.get("REPS", "20"))
    fastconv.set_num_threads(threads)
    import torch
    torch.set_num_threads(threads)
    x = np.random.default_rng(0).standard_normal((batch,) + ops.MODELS[name][1])
    x = x.astype(np.float32)
    fc = fastconv_groups(name, x, reps)
    ort, ort_wall = ort_groups(name, x, reps, threads)
    print(f"{name} batch {batch}, {threads} threads, {STAT} of {reps} calls; "
          f"onnxruntime call {ort_wall:.2f} ms")
    print(f"{'layer shape / step':30s} {'fastconv ms':>11s} {'ort ms':>8s} {'fc/ort':>7s}")
    for key in sorted(set(fc) | set(ort), key=lambda k: -max(fc[k], ort[k])):
        ratio = f"{fc[key] / ort[key]:7.2f}" if fc[key] and ort[key] else "      -"
        print(f"{key:30s} {fc[key]:11.3f} {ort[key]:8.3f} {ratio}")
    print(f"{'sum':30s} {sum(fc.values()):11.3f} {sum(ort.values()):8.3f}")


if __name__ == "__main__":
    main()

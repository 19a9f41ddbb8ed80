"""Data-parallel scaling on this machine: training images/s of one process on all the
cores' threads against one process per core under fastconv.distributed (each with its
share of the global batch), and the time an all-reduce of the model's gradients takes.

    PYTHONPATH=. python benchmarks/distributed_scaling.py [--model lenet5|resnet18]
        [--batch 64] [--steps 20] [--repeats 3] [--procs 2]

Each configuration runs in fresh processes (one after the other, alternating, --repeats
times; the median is reported): "1 x T" is one process with T = cores threads training
on the global batch, "P x T/P" is P processes on loopback, each with T/P threads and
global_batch / P images, gradients averaged by DistributedDataParallel. allreduce_ms
is one blocking all-reduce of all the gradients (float32) between the P processes;
wait_ms is what the backward still waited for it, after the overlap.
"""
import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time

import numpy as np

MODELS = {  # name -> (builder, input shape of one image, classes)
    "lenet5": ("lenet5", (1, 32, 32), 10),
    "resnet18": ("resnet18", (3, 32, 32), 10),
}


def worker(args):
    import fastconv as fc
    import fastconv.distributed as fd
    from fastconv import nn
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        fd.init_process_group("gloo")         # threads: cores / LOCAL_WORLD_SIZE
    else:
        fc.set_num_threads(args.threads)
    rank = fd.get_rank()
    build, shape, classes = MODELS[args.model]
    nn.init.manual_seed(0)
    model = getattr(fc.models, build)(num_classes=classes)
    run = fd.DistributedDataParallel(model) if world > 1 else model
    opt = fc.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    local = args.batch // world
    rng = np.random.default_rng(rank)
    x = rng.standard_normal((local,) + shape).astype(np.float32)
    y = rng.integers(0, classes, local)
    waits = []

    def step():
        loss_fn(run(x), y)
        run.zero_grad()
        run.backward(loss_fn.backward())
        opt.step()
        if world > 1:
            waits.append(run.last_stats["wait_s"])

    for _ in range(args.warmup):
        step()
    waits.clear()
    if world > 1:
        import torch.distributed as dist
        dist.barrier()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        step()
    if world > 1:
        dist.barrier()
    elapsed = time.perf_counter() - t0
    out = {"images_per_s": args.batch * args.steps / elapsed, "threads": fc.get_num_threads()}
    if world > 1:
        import torch
        flat = torch.zeros(model.num_parameters())
        times = []
        for _ in range(10):
            dist.barrier()
            t = time.perf_counter()
            dist.all_reduce(flat)
            times.append(time.perf_counter() - t)
        out["allreduce_ms"] = 1e3 * statistics.median(times)
        out["wait_ms"] = 1e3 * statistics.median(waits)
        fd.destroy_process_group()
    if rank == 0:
        print("RESULT " + json.dumps(out), flush=True)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(args, procs):
    port = _free_port()
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--model", args.model,
           "--batch", str(args.batch), "--steps", str(args.steps), "--warmup",
           str(args.warmup), "--threads", str(args.threads)]
    ps = []
    for rank in range(procs):
        env = dict(os.environ, RANK=str(rank), WORLD_SIZE=str(procs), LOCAL_RANK=str(rank),
                   LOCAL_WORLD_SIZE=str(procs), MASTER_ADDR="127.0.0.1",
                   MASTER_PORT=str(port))
        ps.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True))
    outs = [p.communicate()[0] for p in ps]
    if any(p.returncode for p in ps):
        raise SystemExit(f"a worker failed: {[p.returncode for p in ps]}")
    line = next(ln for ln in outs[0].splitlines() if ln.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", choices=sorted(MODELS), default="lenet5")
    ap.add_argument("--batch", type=int, default=64, help="global batch")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                    help="threads of the single process (default: the cores)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    if args.batch % args.procs:
        raise SystemExit(f"--batch {args.batch} must be a multiple of --procs {args.procs}")
    runs = {1: [], args.procs: []}
    for _ in range(args.repeats):              # alternate: the machine's load drifts
        for procs in runs:
            runs[procs].append(launch(args, procs))
    print(f"{args.model}, global batch {args.batch}, {args.steps} steps, median of "
          f"{args.repeats} (load average {os.getloadavg()[0]:.1f})")
    for procs, rs in runs.items():
        med = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
        label = f"{procs} process{'es' if procs > 1 else ''} x {int(med['threads'])} thread(s)"
        extra = (f"   allreduce {med['allreduce_ms']:.2f} ms/step, backward waited "
                 f"{med['wait_ms']:.2f} ms/step" if procs > 1 else "")
        print(f"  {label:28s} {med['images_per_s']:9.1f} images/s{extra}")


if __name__ == "__main__":
    main()

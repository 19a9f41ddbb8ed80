"""Memory one inference call needs above the model and its input, fastconv's plan
against PyTorch. Each contender runs in a fresh process with glibc's mmap threshold
fixed at 128 KiB (MALLOC_MMAP_THRESHOLD_), so every large block is mapped when
allocated and returned when freed. After one warm-up call at batch B (libraries, thread
pools, packed weights), the kernel's resident-set high-water mark is reset
(/proc/PID/clear_refs) and a second call at batch B measured:
- PyTorch: how far the call raised the high-water mark above the resident set before it
  (its activations and workspace come and go within the call);
- fastconv: the plan's arena, which it keeps between calls (plan.peak_bytes minus the
  input), plus how far the call raised the high-water mark (what it allocates outside
  the arena: the returned output).
It also prints the two-consecutive-layer bound (plan.memory_bound_bytes).

Linux only (/proc). Usage:

    PYTHONPATH=. python benchmarks/inference_memory.py [MODEL [BATCH]]    # resnet18 16
"""
import os
import subprocess
import sys

CHILD = r"""
import os, sys
import numpy as np
from fastconv.bench import ops
who, name, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
factory, chw, classes = ops.MODELS[name]
x = np.random.default_rng(0).standard_normal((batch,) + chw).astype(np.float32)

def status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) * 1024

if who == "fastconv":
    import fastconv as fc
    fc.set_num_threads(2)
    plan = fc.nn.inference(ops._fc_model(factory))
    call = lambda a: plan(a)
else:
    import torch
    torch.set_num_threads(2)
    tm = ops._torch_model(name).eval()
    def call(a):
        with torch.inference_mode():
            return tm(torch.from_numpy(a))
call(x)                       # warm-up: weights packed, arena and thread pools made
before = status("VmRSS")
with open(f"/proc/{os.getpid()}/clear_refs", "w") as f:
    f.write("5")              # the high-water mark restarts from the current RSS
y = call(x)
grew = (status("VmHWM") - before) / 2**20
if who == "fastconv":
    arena = (plan.peak_bytes(x.shape) - x.nbytes) / 2**20
    print(f"fastconv  {name} batch {batch}: {arena + grew:.1f} MiB (arena {arena:.1f} + "
          f"call {grew:.1f}); two-layer bound {plan.memory_bound_bytes(x.shape) / 2**20:.1f} "
          f"MiB with the input")
else:
    print(f"torch     {name} batch {batch}: {grew:.1f} MiB")
"""


def main():
    name = sys.argv[1] if len(sys.argv) > 1 else "resnet18"
    batch = sys.argv[2] if len(sys.argv) > 2 else "16"
    for who in ("fastconv", "torch"):
        subprocess.run([sys.executable, "-c", CHILD, who, name, batch], check=True,
                       env=dict(os.environ, MALLOC_MMAP_THRESHOLD_="131072"))


if __name__ == "__main__":
    main()

"""One rank of the 2-process tests: python run_worker.py OUTDIR (RANK, WORLD_SIZE and
FC_TEST_INIT_METHOD in the environment). Trains every scenario of scenarios.py
under data parallelism and writes OUTDIR/<scenario>_rank<r>.npz."""
import os
import sys

import numpy as np

import fastconv as fc
import fastconv.distributed as fd
import scenarios as sc


def main(outdir):
    import torch
    torch.set_num_threads(1)
    fd.init_process_group("gloo", init_method=os.environ["FC_TEST_INIT_METHOD"],
                          world_size=int(os.environ["WORLD_SIZE"]),
                          rank=int(os.environ["RANK"]), timeout=60)
    rank, world = fd.get_rank(), fd.get_world_size()
    info = {"threads": fc.get_num_threads()}
    for name, (build, shape, classes) in sc.NATIVE.items():
        model = build(sc.INIT_SEED + rank)
        # tiny buckets: several all-reduces in flight during the backward
        ddp = fd.DistributedDataParallel(model, bucket_cap_mb=0.02)
        sc.train_native(model, sc.batches(shape, classes), rank, world, ddp)
        state = dict(model.state_dict())
        state["__overlapped"] = np.array(ddp.last_stats["overlapped"])
        state["__buckets"] = np.array(ddp.last_stats["buckets"])
        np.savez(os.path.join(outdir, f"{name}_rank{rank}.npz"), **state)

    model = sc.torch_net(sc.INIT_SEED + rank)
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    sc.train_torch(model, sc.batches((1, 28, 28), 10), rank, world, run=ddp)
    np.savez(os.path.join(outdir, f"torch_rank{rank}.npz"),
             **{k: v.detach().numpy() for k, v in model.state_dict().items()})
    np.savez(os.path.join(outdir, f"info_rank{rank}.npz"), **info)
    fd.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
    # Leave without interpreter finalization, as multiprocessing's children do. A gloo
    # worker thread frees the last all-reduce of torch's DDP after the wait returned, and
    # that needs the GIL; when the interpreter is already finalizing then, the thread is
    # unwound inside a noexcept destructor and the process aborts ("terminate called
    # without an active exception", about 1 run in 20 here; pytorch/pytorch#179291).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)

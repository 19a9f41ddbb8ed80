"""Starts the ranks of run_worker.py as local processes on loopback (what torchrun does
on one host), waits for them and fails with their output when one fails.

The ranks meet through a file store in the output folder, not a TCP port chosen in
advance: a port found free here and bound later by rank 0 can be taken in between (by
rank 1's own connecting socket, among others, which then connects to itself), and the
tests failed now and then. torchrun's env:// rendezvous is covered by
test_train_command.py, where torchrun binds its own port."""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def file_init_method(folder):
    """A file:// rendezvous in folder; the file must not exist before the group forms."""
    path = os.path.join(os.path.abspath(folder), "rendezvous")
    if os.path.exists(path):
        os.remove(path)
    return "file://" + path


def launch(outdir, world=2, timeout=120, extra_env=None):
    init = file_init_method(outdir)
    procs = []
    for rank in range(world):
        env = dict(os.environ, RANK=str(rank), WORLD_SIZE=str(world),
                   FC_TEST_INIT_METHOD=init, **(extra_env or {}))
        env.pop("LOCAL_WORLD_SIZE", None)   # counted from host names instead
        procs.append(subprocess.Popen(
            [sys.executable, os.path.join(HERE, "run_worker.py"), str(outdir)], env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outs = []
    try:
        for p in procs:
            outs.append(p.communicate(timeout=timeout)[0])
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    failed = [(r, p.returncode, o) for r, (p, o) in enumerate(zip(procs, outs))
              if p.returncode]
    if failed:
        raise AssertionError("\n".join(f"rank {r} exited {rc}:\n{o}" for r, rc, o in failed))

"""Starts the ranks of run_worker.py as local processes on loopback (what torchrun does
on one host), waits for them and fails with their output when one fails."""
import os
import socket
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(outdir, world=2, timeout=120, extra_env=None):
    port = free_port()
    procs = []
    for rank in range(world):
        env = dict(os.environ, RANK=str(rank), WORLD_SIZE=str(world),
                   MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), **(extra_env or {}))
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

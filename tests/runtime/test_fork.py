"""A child forked after fastconv ran multi-threaded works, on one thread: OpenMP's pool
does not survive fork (issue 13, item 2). Each scenario runs in a fresh interpreter with
a deadline, so a hang fails the test instead of stalling the suite."""
import subprocess
import sys
import textwrap

import pytest

import fastconv

PRELUDE = """
import os, sys
import numpy as np
import fastconv as fc
fc.set_num_threads(2)
rng = np.random.default_rng(0)
x = rng.standard_normal((4, 16, 24, 24)).astype(np.float32)
w = rng.standard_normal((16, 16, 3, 3)).astype(np.float32)
want = fc.conv2d(x, w, padding=1)          # the OpenMP pool now exists
"""


def _run(body, timeout=60):
    code = textwrap.dedent(PRELUDE) + textwrap.dedent(body)
    try:
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail("hung: a fastconv call in a forked child never returned")
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


needs_fork = pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="no fork")


@needs_fork
def test_os_fork_child_runs_ops():
    out = _run("""
        pid = os.fork()
        if pid == 0:
            try:
                y = fc.conv2d(x, w, padding=1)
                ok = np.allclose(y, want, rtol=1e-5, atol=1e-4)
                g = fc.conv2d_backward(np.ones_like(y), x, w, padding=1)
                p = fc.max_pool2d(y, 2)
                ok = ok and fc.get_num_threads() == 1
                ok = ok and fc._C.measure_fma_gflops(2, 0.05) > 0   # asks for 2 threads
                os._exit(0 if ok else 3)
            except BaseException:
                os._exit(4)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status))
        # the parent keeps its threads
        print(fc.get_num_threads())
        assert np.allclose(fc.conv2d(x, w, padding=1), want, rtol=1e-5, atol=1e-4)
    """)
    assert out.split() == ["0", "2"]


@needs_fork
def test_multiprocessing_fork_pool():
    out = _run("""
        import multiprocessing as mp
        def work(i):
            return float(np.abs(fc.conv2d(x, w, padding=1) - want).max()), fc.get_num_threads()
        with mp.get_context("fork").Pool(2) as pool:
            res = pool.map(work, range(4))
        print(max(e for e, _ in res) < 1e-3, {t for _, t in res})
    """)
    assert out.strip() == "True {1}"


@needs_fork
def test_set_num_threads_in_child_stays_safe():
    # asking for more threads in such a child cannot bring the pool back: it stays one
    out = _run("""
        pid = os.fork()
        if pid == 0:
            fc.set_num_threads(2)
            y = fc.conv2d(x, w, padding=1)
            os._exit(0 if np.allclose(y, want, rtol=1e-5, atol=1e-4) else 3)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status))
    """)
    assert out.strip() == "0"


@needs_fork
def test_torch_dataloader_workers():
    pytest.importorskip("torch")
    out = _run("""
        import torch
        class DS(torch.utils.data.Dataset):
            def __len__(self): return 4
            def __getitem__(self, i):
                return torch.from_numpy(fc.conv2d(x[i:i+1], w, padding=1)[0])
        dl = torch.utils.data.DataLoader(DS(), batch_size=2, num_workers=2,
                                         multiprocessing_context="fork", timeout=30)
        got = torch.cat(list(dl)).numpy()
        print(np.allclose(got, want, rtol=1e-5, atol=1e-4))
    """, timeout=120)
    assert out.strip() == "True"


@needs_fork
def test_child_without_pool_keeps_threads():
    # a fork before any multi-threaded call loses nothing: the child may use its threads
    code = """
import os, numpy as np, fastconv as fc
fc.set_num_threads(2)
pid = os.fork()
if pid == 0:
    y = fc.conv2d(np.ones((2, 8, 16, 16), np.float32), np.ones((8, 8, 3, 3), np.float32))
    os._exit(0 if fc.get_num_threads() == (2 if fc.info(measure=False)["openmp"] else 1) else 3)
_, st = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(st))
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "0", r.stdout + r.stderr

"""set_isa and set_num_threads from one thread while others are inside ops: every call
plans, sizes and runs with one snapshot, so answers stay right and no internal
workspace error reaches the user (issue 13, item 3)."""
import threading

import numpy as np

import fastconv


def _race(rng, change, rounds=150):
    jobs = []
    for i in range(2):
        x = rng.standard_normal((2, 8 + 8 * i, 14, 14)).astype(np.float32)
        w = rng.standard_normal((16, 8 + 8 * i, 3, 3)).astype(np.float32)
        jobs.append((x, w))
    algos = ["auto", "im2col", "direct", "winograd_f43"]
    want = [[fastconv.conv2d(x, w, padding=1, algorithm=a) for a in algos] for x, w in jobs]
    stop = threading.Event()
    errors = []

    def work(i):
        x, w = jobs[i]
        try:
            for r in range(rounds):
                a = r % len(algos)
                y = fastconv.conv2d(x, w, padding=1, algorithm=algos[a])
                np.testing.assert_allclose(y, want[i][a], rtol=1e-4, atol=1e-3)
                fastconv.conv2d_backward(y, x, w, padding=1)
        except Exception as e:  # reported below
            errors.append(e)

    def flip():
        k = 0
        while not stop.is_set():
            change(k)
            k += 1

    workers = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    flipper = threading.Thread(target=flip)
    flipper.start()
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    stop.set()
    flipper.join()
    assert not errors, errors[:3]


def test_set_isa_during_calls(rng):
    isas = fastconv.available_isas()
    before = fastconv.get_isa()
    try:
        _race(rng, lambda k: fastconv.set_isa(isas[k % len(isas)]))
    finally:
        fastconv.set_isa(before)


def test_set_num_threads_during_calls(rng):
    before = fastconv.get_num_threads()
    try:
        _race(rng, lambda k: fastconv.set_num_threads(1 + k % 3))
    finally:
        fastconv.set_num_threads(before)

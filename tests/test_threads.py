"""The GIL is released during kernels: concurrent calls from Python threads on
different arrays give the same answers as serial calls; set_num_threads applies at once."""
import threading

import numpy as np

import fastconv


def test_concurrent_calls_match_serial(rng):
    jobs = []
    for i in range(6):
        x = rng.standard_normal((2, 3 + i, 17, 19)).astype(np.float32)
        w = rng.standard_normal((5, 3 + i, 3, 3)).astype(np.float32)
        jobs.append((x, w, 1 + i % 2))
    want = [fastconv.conv2d(x, w, stride=s, padding=1) for x, w, s in jobs]
    want_b = [fastconv.conv2d_backward(np.ones_like(y), x, w, stride=s, padding=1)
              for (x, w, s), y in zip(jobs, want)]
    errors = []

    def work(i):
        x, w, s = jobs[i]
        try:
            for _ in range(5):
                y = fastconv.conv2d(x, w, stride=s, padding=1)
                g = fastconv.conv2d_backward(np.ones_like(y), x, w, stride=s, padding=1)
                np.testing.assert_array_equal(y, want[i])
                for a, b in zip(g, want_b[i]):
                    np.testing.assert_array_equal(a, b)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_set_num_threads_takes_effect(rng):
    before = fastconv.get_num_threads()
    x = rng.standard_normal((4, 8, 20, 20)).astype(np.float32)
    w = rng.standard_normal((8, 8, 3, 3)).astype(np.float32)
    try:
        fastconv.set_num_threads(1)
        assert fastconv.get_num_threads() == 1
        y1 = fastconv.conv2d(x, w)
        fastconv.set_num_threads(3)
        assert fastconv.get_num_threads() == 3
        y3 = fastconv.conv2d(x, w)
    finally:
        fastconv.set_num_threads(before)
    np.testing.assert_allclose(y1, y3, rtol=1e-6, atol=1e-5)

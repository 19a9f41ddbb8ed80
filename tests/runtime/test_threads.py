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
        assert fastconv.get_num_threads() == (3 if fastconv.info(measure=False)["openmp"] else 1)
        y3 = fastconv.conv2d(x, w)
    finally:
        fastconv.set_num_threads(before)
    np.testing.assert_allclose(y1, y3, rtol=1e-6, atol=1e-5)


def _op_jobs(rng):
    """(name, callable) pairs, each on its own arrays, covering every op family."""
    f32 = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    x, w = f32(2, 6, 15, 13), f32(6, 3, 3, 3)
    xd, wd = f32(2, 5, 16, 21), f32(10, 1, 3, 3)
    xt, wt = f32(2, 4, 7, 9), f32(4, 3, 3, 3)
    xp, a, b = f32(2, 3, 17, 19), f32(33, 47), f32(47, 29)
    yp = fastconv.max_pool2d(xp, 3, 2, 1)
    return [
        ("conv_im2col", lambda: fastconv.conv2d(x, w, stride=2, padding=1, groups=2,
                                                algorithm="im2col")),
        ("conv_winograd", lambda: fastconv.conv2d(x, f32(4, 6, 3, 3) * 0 + w[:4, :1].repeat(6, 1),
                                                  padding=1, algorithm="winograd")),
        ("conv_backward", lambda: fastconv.conv2d_backward(
            np.ones((2, 6, 8, 7), np.float32), x, w, stride=2, padding=1, groups=2)),
        ("depthwise", lambda: fastconv.depthwise_conv2d(xd, wd, stride=(1, 2), padding=1)),
        ("depthwise_backward", lambda: fastconv.depthwise_conv2d_backward(
            np.ones((2, 10, 16, 11), np.float32), xd, wd, stride=(1, 2), padding=1)),
        ("tconv", lambda: fastconv.conv_transpose2d(xt, wt, stride=2, padding=1,
                                                    output_padding=1)),
        ("tconv_backward", lambda: fastconv.conv_transpose2d_backward(
            np.ones((2, 3, 14, 18), np.float32), xt, wt, stride=2, padding=1, output_padding=1)),
        ("max_pool", lambda: fastconv.max_pool2d(xp, 3, 2, 1)),
        ("max_pool_backward", lambda: fastconv.max_pool2d_backward(yp, xp, 3, 2, 1)),
        ("avg_pool", lambda: fastconv.avg_pool2d(xp, 2, 2, 1, ceil_mode=True)),
        ("global", lambda: (fastconv.global_avg_pool2d(xp), fastconv.global_max_pool2d(xp))),
        ("matmul", lambda: fastconv.matmul(a, b)),
    ]


def _same(a, b):
    if isinstance(a, tuple):
        for u, v in zip(a, b):
            _same(u, v)
    else:
        np.testing.assert_array_equal(a, b)


def test_every_op_concurrently_matches_serial(rng):
    # many threads, each running a different op on its own arrays, several rounds,
    # with the thread count changed by the main thread between rounds
    jobs = _op_jobs(rng)
    want = {name: fn() for name, fn in jobs}
    before = fastconv.get_num_threads()
    errors = []

    def work(name, fn):
        try:
            for _ in range(3):
                _same(fn(), want[name])
        except Exception as e:  # pragma: no cover - reported below
            errors.append((name, e))

    try:
        for n in (1, 2, before):
            fastconv.set_num_threads(n)
            threads = [threading.Thread(target=work, args=job) for job in jobs * 2]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
    finally:
        fastconv.set_num_threads(before)
    assert not errors, errors

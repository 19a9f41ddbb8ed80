"""Command line: `python -m fastconv info`, `demo`, `bench` and `train`."""
import argparse
import sys
import time


def _info(args):
    import fastconv

    d = fastconv.info()
    d["pkgconfig_dir"] = fastconv.get_pkgconfig_dir()   # fastconv.pc
    d["cmake_dir"] = fastconv.get_cmake_dir()           # fastconvConfig.cmake
    width = max(map(len, d))
    for k, v in d.items():
        print(f"{k:>{width}}: {v}")
    return 0


def _demo(args):
    import numpy as np

    import fastconv

    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 64, 56, 56), dtype=np.float32)
    w = rng.standard_normal((64, 64, 3, 3), dtype=np.float32)
    flops = 2.0 * 16 * 64 * 56 * 56 * 64 * 9
    fastconv.conv2d(x, w, padding=1)
    times = []
    for _ in range(5):
        t = time.perf_counter()
        y = fastconv.conv2d(x, w, padding=1)
        times.append(time.perf_counter() - t)
    med = sorted(times)[len(times) // 2]
    print(f"conv2d x{x.shape} w{w.shape} padding=1 -> y{y.shape}: "
          f"{med * 1e3:.2f} ms median, {flops / med / 1e9:.1f} GFLOP/s "
          f"({fastconv.get_isa()}, {fastconv.get_num_threads()} threads)")
    return 0


def _bench_arguments(p):
    from fastconv.bench.cli import add_arguments
    add_arguments(p)


def _bench(args):
    from fastconv.bench.cli import run
    return run(args)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["train"]:  # its own parser: python -m fastconv train lenet5 --epochs 3
        from fastconv.models.train import main as train_main
        return train_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m fastconv")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("info", help="build, ISA path and threads").set_defaults(func=_info)
    sub.add_parser("demo", help="time one ResNet convolution").set_defaults(func=_demo)
    bench = sub.add_parser("bench", help="benchmark suite: fastconv against PyTorch and NumPy")
    _bench_arguments(bench)
    bench.set_defaults(func=_bench)
    sub.add_parser("train", help="train a network of fastconv.models (lenet5 on the digits, "
                   "any on an image folder or synthetic data): python -m fastconv train "
                   "--help")
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

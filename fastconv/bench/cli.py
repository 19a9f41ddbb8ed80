"""`python -m fastconv bench`: the benchmark suite as a command."""
import argparse
import sys
import time


EPILOG = """\
case names: <group>/<shape>/<pass>[/<algorithm>], e.g. conv2d/resnet_56_n1/bwd_data/im2col;
_nB in a shape name is its batch. Whole-model rows: model/<net>/<infer|train>/n<batch>
(LeNet-5 b64; ResNet-18 inference b1 and b16, training b16; ResNet-50 inference b1, b8
and b16, training b8; AlexNet inference b1 and b16, training b16; GoogLeNet inference b1, training b16; Xception and FCN-ResNet-18 inference b1).
--quick keeps of them the LeNet-5 rows and ResNet-18 b1 inference;
`--ops model/` runs just the model rows (several minutes on two cores). Inference rows also
time onnxruntime and fastconv.onnx on the torch twin's ONNX export where installed.
--breakdown splits a training step into conv forward, conv backward and the rest."""


def add_arguments(p):
    # Set here, not at the parser's creation, so `python -m fastconv bench -h` has it too.
    p.epilog = EPILOG
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("--quick", action="store_true",
                   help="a small subset (a few minutes on two cores; of the whole-model "
                        "rows the LeNet-5 ones and ResNet-18 batch-1 inference)")
    p.add_argument("--ops", action="append", default=[], metavar="FILTER",
                   help="run only cases whose name contains FILTER (e.g. conv2d, pool, "
                        "resnet_56, bwd_data, winograd, model/); repeatable or "
                        "comma-separated")
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="threads for fastconv, torch and NumPy's BLAS (default: fastconv's)")
    p.add_argument("--json", metavar="FILE", help="write every figure and the machine to FILE")
    p.add_argument("--plot", metavar="FILE.png", help="bar chart of the ratios (matplotlib)")
    p.add_argument("--compare", metavar="OLD.json", help="what got faster or slower since OLD")
    p.add_argument("--threshold", type=float, default=0.10,
                   help="relative change --compare reports (default 0.10)")
    p.add_argument("--time-per-case", type=float, default=None, metavar="S",
                   help="seconds of timing per case (default 1.0, 0.25 with --quick)")
    p.add_argument("--max-time", type=float, default=None, metavar="S",
                   help="skip the remaining cases after S seconds")
    p.add_argument("--shapes", metavar="FILE", action="append",
                   help="another shape set (bench_shapes.json format) instead of the default "
                        "bench_shapes.json + bench_shapes_categories.json; repeatable")
    p.add_argument("--list", action="store_true", help="list the selected cases and exit")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument("--breakdown", metavar="MODEL",
                   help="instead of the cases: time MODEL's training step (resnet18: batch "
                        "16) and split it into conv forward, conv backward and the rest, "
                        "fastconv and the torch twin")
    p.add_argument("--steps", type=int, default=5, metavar="N",
                   help="training steps --breakdown times (median; default 5)")


def run_breakdown(args, threads, out, err):
    from fastconv.bench import breakdown, ops
    from fastconv.bench.runner import fixed_threads

    if args.breakdown not in ops.MODELS:
        print(f"bench: --breakdown: unknown model {args.breakdown!r}; expected one of "
              f"{sorted(ops.MODELS)}", file=err)
        return 2
    if args.steps < 1:
        print(f"bench: --steps must be >= 1, got {args.steps}", file=err)
        return 2
    with fixed_threads(threads):
        try:
            res = breakdown.breakdown(args.breakdown, steps=args.steps)
        except ops.NotServed as e:
            print(f"bench: --breakdown: {e}", file=err)
            return 1
    print(f"threads: {threads}", file=out)
    print(breakdown.format_breakdown(res), file=out)
    return 0


def run(args, out=None):
    import fastconv
    from fastconv.bench import peak, report, table
    from fastconv.bench.ops import cases, torch_or_none
    from fastconv.bench.runner import Progress, fixed_threads, run_cases
    from fastconv.bench.shapes import load_shapes

    out = out or sys.stdout
    err = sys.stderr
    filters = [f for arg in args.ops for f in arg.split(",") if f]
    threads = args.threads if args.threads is not None else fastconv.get_num_threads()
    if threads < 1:
        print(f"bench: --threads must be >= 1, got {threads}", file=err)
        return 2
    if args.breakdown:
        return run_breakdown(args, threads, out, err)
    old = None
    if args.compare:
        try:
            old = report.load(args.compare)
        except (OSError, ValueError) as e:
            print(f"bench: --compare: {e}", file=err)
            return 2
    selected = [c for c in cases(load_shapes(args.shapes) if args.shapes else None)
                if (c.quick or not args.quick) and c.matches(filters)]
    if args.list:
        for c in selected:
            print(c.name, file=out)
        return 0
    if not selected:
        print(f"bench: no case matches --ops {filters}" + (" in --quick" if args.quick else ""),
              file=err)
        return 2
    budget = args.time_per_case or (0.25 if args.quick else 1.0)
    t0 = time.perf_counter()
    with fixed_threads(threads):
        print("bench: measuring the machine's peak ...", file=err)
        machine = peak.machine(threads)
        progress = None if args.no_progress else Progress(err)
        results = run_cases(selected, budget=budget, machine=machine, max_time=args.max_time,
                            progress=progress)
    elapsed = time.perf_counter() - t0
    torch_present = torch_or_none() is not None
    print(table.format_results(results, machine, report.versions(), threads, torch_present),
          file=out)
    print(f"\n{len(results)} cases in {elapsed:.0f} s", file=out)
    options = {"quick": args.quick, "ops": filters, "time_per_case": budget,
               "elapsed_s": elapsed}
    record = report.make_record(results, machine, threads, options)
    if args.json:
        report.save(record, args.json)
        print(f"wrote {args.json}", file=out)
    if old is not None:
        cmp = report.compare(old, record, args.threshold)
        print("\n" + report.format_compare(cmp, args.compare, args.threshold), file=out)
    if args.plot:
        from fastconv.bench.plot import PlotUnavailable, plot
        try:
            plot(results, args.plot)
            print(f"wrote {args.plot}", file=out)
        except PlotUnavailable as e:
            print(f"bench: {e}", file=err)
            return 1
    return 1 if any(r["status"] == "error" for r in results) else 0


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m fastconv bench")
    add_arguments(p)
    return run(p.parse_args(argv))

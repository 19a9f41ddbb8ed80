"""pytest-benchmark suite over the same registry as `python -m fastconv bench`.

    pytest benchmarks/ --benchmark-only                 # everything
    pytest benchmarks/ --benchmark-only -m quick        # the --quick subset
    pytest benchmarks/ --benchmark-only -k resnet_56    # one shape
    pytest benchmarks/ --benchmark-only --bench-threads 1

Each case is one benchmark group holding its fastconv, torch and numpy contenders,
timed on the same inputs and thread count. The project's pytest configuration
(testpaths = ["tests"]) keeps plain `pytest` from collecting this folder.
"""
import pytest

from fastconv.bench import ops
from fastconv.bench.runner import CONTENDERS, fixed_threads

CASES = ops.cases()


def pytest_addoption(parser):
    parser.addoption("--bench-threads", type=int, default=None,
                     help="threads for fastconv, torch and NumPy's BLAS (default: fastconv's)")


def pytest_configure(config):
    config.addinivalue_line("markers", "quick: the `python -m fastconv bench --quick` subset")


@pytest.fixture(scope="session", autouse=True)
def _fixed_threads(request):
    import fastconv
    n = request.config.getoption("--bench-threads") or fastconv.get_num_threads()
    with fixed_threads(n):
        yield n


def params(*op_names):
    """pytest params (case, contender) for the given table groups, contenders of one case
    next to each other so that its inputs are built once for all of them."""
    out = []
    for c in CASES:
        if c.op in op_names:
            for who in CONTENDERS:
                out.append(pytest.param(c, who, id=f"{c.name}-{who}",
                                        marks=[pytest.mark.quick] if c.quick else []))
    return out


_built = {}


def _build(case):
    """The case's callables; only the latest case stays built (inputs can be large)."""
    if case.name not in _built:
        _built.clear()
        try:
            _built[case.name] = case.build()
        except ops.NotServed as e:
            _built[case.name] = e
    got = _built[case.name]
    if isinstance(got, ops.NotServed):
        pytest.skip(str(got))
    return got


def run_benchmark(benchmark, case, contender):
    fn = _build(case).get(contender)
    if fn is None:
        pytest.skip(f"no {contender} contender for {case.name}")
    if isinstance(fn, ops.Absent):
        pytest.skip(f"{contender}: {fn.reason}")
    benchmark.group = case.name
    benchmark.extra_info.update(unit=case.unit, work=case.work, contender=contender)
    benchmark(fn)
    if benchmark.stats is not None and case.unit in ("flop", "byte"):
        med = benchmark.stats.stats.median
        benchmark.extra_info["rate_G_per_s"] = case.work / med / 1e9 if med > 0 else None

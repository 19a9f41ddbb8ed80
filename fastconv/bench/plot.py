"""Bar chart of the ratios to the peers measured (matplotlib, optional)."""


class PlotUnavailable(RuntimeError):
    pass


# ratio key in a result -> bar label; a series appears only when some case has it.
SERIES = (("vs_torch", "x PyTorch"), ("vs_numpy", "x NumPy"), ("vs_onnxruntime", "x onnxruntime"))


def series_of(results):
    """The (ratio key, label) pairs some ok result has, in SERIES order."""
    return [(key, label) for key, label in SERIES
            if any(r["status"] == "ok" and r.get(key) is not None for r in results)]


def plot(results, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise PlotUnavailable("--plot needs matplotlib: pip install 'fastconv[bench]' "
                              "(or pip install matplotlib)") from None
    ok = [r for r in results if r["status"] == "ok" and
          any(r.get(key) is not None for key, _ in SERIES)]
    if not ok:
        raise PlotUnavailable("nothing to plot: no case has a ratio to a peer")
    series = series_of(ok)
    names = [r["name"] for r in ok]
    fig, ax = plt.subplots(figsize=(9, 0.28 * len(ok) + 1.5))
    ys = range(len(ok))
    h = 0.8 / len(series)
    for i, (key, label) in enumerate(series):
        off = (i - (len(series) - 1) / 2) * h
        vals = [r.get(key) or 0.0 for r in ok]
        ax.barh([y + off for y in ys], vals, height=h, label=label)
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_xscale("log")
    from matplotlib.ticker import FormatStrFormatter, NullFormatter
    ax.xaxis.set_major_formatter(FormatStrFormatter("%gx"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_yticks(list(ys))
    ax.set_yticklabels(names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("peer time / fastconv time (> 1: fastconv faster)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

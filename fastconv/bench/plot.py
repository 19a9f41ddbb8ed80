"""Bar chart of the ratios to PyTorch and NumPy (matplotlib, optional)."""


class PlotUnavailable(RuntimeError):
    pass


def plot(results, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise PlotUnavailable("--plot needs matplotlib: pip install 'fastconv[bench]' "
                              "(or pip install matplotlib)") from None
    ok = [r for r in results if r["status"] == "ok" and
          (r.get("vs_torch") is not None or r.get("vs_numpy") is not None)]
    if not ok:
        raise PlotUnavailable("nothing to plot: no case has a PyTorch or NumPy ratio")
    names = [r["name"] for r in ok]
    fig, ax = plt.subplots(figsize=(9, 0.28 * len(ok) + 1.5))
    ys = range(len(ok))
    h = 0.4
    for off, key, label in ((-h / 2, "vs_torch", "x PyTorch"), (h / 2, "vs_numpy", "x NumPy")):
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
    ax.set_xlabel("other time / fastconv time (> 1: fastconv faster)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

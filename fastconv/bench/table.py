"""Plain-text tables of benchmark results, one per op."""

_UNIT = {"flop": "GFLOP/s", "byte": "GB/s", "img": "img/s"}
_OPS = ("conv2d", "depthwise", "conv_transpose2d", "pool", "gemm", "model")
COLUMNS = ("case", "fastconv ms", "+-", "rate", "% peak", "torch ms", "x torch", "numpy ms",
           "x numpy")


def _ms(r, k):
    v = r["results"].get(k)
    return f"{v['median_s'] * 1e3:.3f}" if v else "-"


def _x(r, k):
    v = r.get(f"vs_{k}")
    return f"{v:.2f}x" if v is not None else "-"


def _row(r):
    label = r["name"].split("/", 1)[1]
    fc = r["results"]["fastconv"]
    pct = r.get("pct_peak")
    spread = fc.get("spread")
    return (label, _ms(r, "fastconv"), f"{50 * spread:.0f}%" if spread is not None else "-",
            f"{fc['rate']:.1f} {_UNIT[r['unit']]}",
            f"{pct:.0f}%" if pct is not None else "-",
            _ms(r, "torch"), _x(r, "torch"), _ms(r, "numpy"), _x(r, "numpy"))


def _grid(rows):
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for j, row in enumerate(rows):
        cells = [str(c).ljust(w) if i == 0 else str(c).rjust(w)
                 for i, (c, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells).rstrip())
        if j == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


def head(machine, versions, threads, torch_present):
    m = machine
    lines = [
        f"machine: {m.get('cpu')}, {m.get('cores')} cores, ISA {m.get('isa')}",
        f"peak (measured FMA loop): {m.get('peak_gflops_1t', 0):.0f} GFLOP/s on 1 thread"
        + (f", {m.get('peak_gflops', 0):.0f} GFLOP/s on {threads} threads" if threads != 1
           else "") + "; "
        f"copy bandwidth {m.get('copy_gbps', 0):.1f} GB/s (read + write)",
        "versions: " + ", ".join(f"{k} {v}" for k, v in versions.items() if v),
        f"threads: {threads} for fastconv, torch and NumPy's BLAS; times: medians of "
        "alternating runs, +- half their interquartile range (fastconv, relative)",
        "x torch = torch time / fastconv time (> 1: fastconv faster); "
        "% peak = rate / measured FMA peak (GFLOP/s) or copy bandwidth (GB/s)",
    ]
    if not torch_present:
        lines.append("PyTorch is not installed: the torch columns are absent (-).")
    return lines


def format_results(results, machine=None, versions=None, threads=None, torch_present=True):
    """The whole report as one string: the head, a table per op, then skips and errors."""
    lines = head(machine or {}, versions or {}, threads, torch_present) if machine else []
    ok = [r for r in results if r["status"] == "ok"]
    ops = list(_OPS) + sorted({r["op"] for r in ok} - set(_OPS))
    for op in ops:
        rows = [_row(r) for r in ok if r["op"] == op]
        if rows:
            lines += ["", f"== {op}"] + _grid([COLUMNS] + rows)
    skipped = [r for r in results if r["status"] == "skipped"]
    if skipped:
        by_reason = {}
        for r in skipped:
            # Collapse "algorithm X does not serve" over every shape and pass.
            key = r["reason"].split(":", 1)[0] if ":" in r["reason"] else r["reason"]
            if key.endswith(" does not exist in this build"):
                key = "ops not in this build"
            by_reason.setdefault(key, []).append(r)
        lines += ["", f"skipped {len(skipped)} cases:"]
        for key, rs in by_reason.items():
            if key.startswith("ops "):
                missing = sorted({r["reason"].split()[0] for r in rs})
                lines.append(f"  {len(rs):4d} x {key}: {', '.join(missing)}")
                continue
            example = rs[0]["reason"].splitlines()[0]
            lines.append(f"  {len(rs):4d} x {key}" + ("" if example == key else f"  (e.g. {example})"))
    errors = [r for r in results if r["status"] == "error"]
    if errors:
        lines += ["", f"ERRORS in {len(errors)} cases:"]
        lines += [f"  {r['name']}: {r['reason']}" for r in errors]
    return "\n".join(lines)

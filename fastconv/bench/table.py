"""Plain-text tables of benchmark results, one per op, with a head that says what the
names and columns mean. Peers that were not measured get no column and no wording in
the head; the notes at the end say why they are missing."""

_UNIT = {"flop": "GFLOP/s", "byte": "GB/s", "img": "img/s"}
_OPS = ("conv2d", "depthwise", "conv_transpose2d", "pool", "gemm", "model")
COLUMNS = ("case", "fastconv ms", "+-", "rate", "% peak", "torch ms", "x torch", "numpy ms",
           "x numpy")
MODEL_COLUMNS = ("case", "fastconv ms", "+-", "rate", "torch ms", "x torch", "ort ms",
                 "x ort", "fc.onnx ms", "fc.onnx x ort")
# Columns that belong to one peer: left out when no row of the table has that peer.
_PEER_OF = {"torch ms": "torch", "x torch": "torch", "numpy ms": "numpy", "x numpy": "numpy",
            "ort ms": "onnxruntime", "x ort": "onnxruntime", "fc.onnx ms": "fastconv.onnx",
            "fc.onnx x ort": "fastconv.onnx"}
CACHE_MARK = "*"

LEGEND = [
    "rows: <shape>/<pass>[/<algorithm>]. shape: a layer named after its network or category "
    "and input size, _nB = batch B (bench_shapes*.json; --list prints every case)",
    "  pass: fwd, bwd_data (input gradient), bwd_weights (weight and bias gradients), bwd "
    "(all gradients); algorithm: auto (fastconv's choice), direct, im2col, winograd",
    "  model/<net>/<infer|train>/nB: a whole network at batch B; train = forward, "
    "cross-entropy, backward and an SGD step with momentum 0.9",
]


def _ms(r, k):
    v = r["results"].get(k)
    return f"{v['median_s'] * 1e3:.3f}" if v else "-"


def _x(v):
    return f"{v:.2f}x" if v is not None else "-"


def _pct(r):
    pct = r.get("pct_peak")
    if pct is None:
        return "-"
    return f"{pct:.0f}%" + (CACHE_MARK if r.get("cache_resident") else "")


def _cell(r, col):
    fc = r["results"]["fastconv"]
    if col == "case":
        return r["name"].split("/", 1)[1]
    if col == "fastconv ms":
        return _ms(r, "fastconv")
    if col == "+-":
        spread = fc.get("spread")
        return f"{50 * spread:.0f}%" if spread is not None else "-"
    if col == "rate":
        return f"{fc['rate']:.1f} {_UNIT[r['unit']]}"
    if col == "% peak":
        return _pct(r)
    if col == "fc.onnx x ort":
        return _x(r.get("onnx_vs_onnxruntime"))
    peer = _PEER_OF[col]
    return _ms(r, peer) if col.endswith(" ms") else _x(r.get(f"vs_{peer}"))


def _columns(op, rows):
    cols = MODEL_COLUMNS if op == "model" else COLUMNS
    present = {k for r in rows for k in r["results"]}
    return [c for c in cols if c not in _PEER_OF or _PEER_OF[c] in present]


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


def peers_measured(results):
    """The peers with a time in at least one result, in column order."""
    seen = {k for r in results for k in r.get("results", {})}
    return [p for p in ("torch", "numpy", "onnxruntime", "fastconv.onnx") if p in seen]


def head(machine, versions, threads, torch_present, peers=None, cache_marked=False,
         peak_shown=True):
    """The lines above the tables. peers: the peers measured (default: torch when
    torch_present, and NumPy); no line names a peer that is not among them."""
    if peers is None:
        peers = (["torch"] if torch_present else []) + ["numpy"]
    m = machine
    llc = m.get("llc_bytes")
    pools = ["fastconv"] + [p for p in ("torch", "onnxruntime") if p in peers]
    ratios = [f"x {p} = {p} time / fastconv time" for p in ("torch", "numpy") if p in peers]
    if "onnxruntime" in peers:
        ratios.append("x ort = onnxruntime time / fastconv time")

    lines = [
        f"machine: {m.get('cpu')}, {m.get('cores')} cores, ISA {m.get('isa')}"
        + (f", last-level cache {llc / (1 << 20):.0f} MiB" if llc else ""),
        f"peak (measured FMA loop): {m.get('peak_gflops_1t', 0):.0f} GFLOP/s on 1 thread"
        + (f", {m.get('peak_gflops', 0):.0f} GFLOP/s on {threads} threads" if threads != 1
           else "") + "; "
        f"copy bandwidth {m.get('copy_gbps', 0):.1f} GB/s (read + write)",
        "versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()
                                 if v and (k not in ("torch",) or k in peers)),
        f"threads: {threads} for " + ", ".join(pools) + " and NumPy's BLAS; times: medians "
        "of alternating runs, +- half their interquartile range (fastconv, relative)",
    ]
    if ratios:
        lines.append("; ".join(ratios) + " (> 1: fastconv faster)")
    if "fastconv.onnx" in peers:
        lines.append("fc.onnx = fastconv.onnx.InferenceSession on the same ONNX file as ort; "
                     "fc.onnx x ort = ort time / fc.onnx time")
    if peak_shown:
        lines.append("% peak = rate / measured FMA peak (GFLOP/s) or copy bandwidth (GB/s)")
    if cache_marked:
        lines.append(f"% peak{CACHE_MARK}: the case's bytes fit in the last-level cache, so "
                     "its rate is a cache rate and can pass 100% of the DRAM copy bandwidth")
    return lines + LEGEND


def _absent_notes(results, torch_present):
    """'peer: reason (n cases)' for every peer column a case could not fill."""
    by = {}
    for r in results:
        for peer, why in r.get("absent", {}).items():
            by.setdefault((peer, why), 0)
            by[(peer, why)] += 1
    lines = [f"  {peer}: {why} ({n} case{'s' if n != 1 else ''})"
             for (peer, why), n in by.items()]
    if not torch_present and not any(peer == "torch" for peer, _ in by):
        lines.insert(0, "  torch: not installed (pip install torch to compare with it)")
    return ["", "not measured:"] + lines if lines else []


def format_results(results, machine=None, versions=None, threads=None, torch_present=True):
    """The whole report as one string: the head, a table per op, then the peers not
    measured, skips and errors."""
    ok = [r for r in results if r["status"] == "ok"]
    peers = peers_measured(ok)
    if torch_present is False:
        peers = [p for p in peers if p != "torch"]
    marked = any(r.get("cache_resident") and r.get("pct_peak") is not None for r in ok)
    shown = any(r.get("pct_peak") is not None for r in ok)
    lines = head(machine, versions or {}, threads, torch_present, peers, marked, shown) \
        if machine else []
    ops = list(_OPS) + sorted({r["op"] for r in ok} - set(_OPS))
    for op in ops:
        rs = [r for r in ok if r["op"] == op]
        if rs:
            cols = _columns(op, rs)
            lines += ["", f"== {op}"] + _grid([cols] + [[_cell(r, c) for c in cols]
                                                         for r in rs])
    lines += _absent_notes(results, torch_present)
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

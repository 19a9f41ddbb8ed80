"""The JSON record of a run, and the comparison of two runs."""
import datetime
import json
import platform

SCHEMA = 1


def versions():
    import numpy

    import fastconv
    from fastconv.bench.ops import torch_or_none

    torch = torch_or_none()
    return {"fastconv": fastconv.__version__, "numpy": numpy.__version__,
            "torch": torch.__version__ if torch else None,
            "python": platform.python_version()}


def make_record(results, machine, threads, options):
    from fastconv.bench.ops import torch_or_none

    torch = torch_or_none()
    return {
        "schema": SCHEMA,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine,
        "versions": versions(),
        "threads": {"fastconv": threads, "torch": threads if torch else None,
                    "numpy_blas": threads},
        "options": options,
        "results": results,
    }


def save(record, path):
    with open(path, "w") as f:
        json.dump(record, f, indent=1, sort_keys=True)
        f.write("\n")


def load(path):
    with open(path) as f:
        rec = json.load(f)
    if not isinstance(rec, dict) or "results" not in rec:
        raise ValueError(f"{path}: not a fastconv bench JSON file (no 'results')")
    if rec.get("schema") != SCHEMA:
        raise ValueError(f"{path}: schema {rec.get('schema')!r}, expected {SCHEMA}")
    return rec


def compare(old, new, threshold=0.10):
    """Cases timed in both runs whose fastconv median moved by more than `threshold`
    (relative). Returns {"faster": [...], "slower": [...], "same": n, "only_old": [...],
    "only_new": [...]}; each entry (name, old_s, new_s, old_s / new_s)."""
    def ok(rec):
        return {r["name"]: r["results"]["fastconv"]["median_s"]
                for r in rec["results"] if r["status"] == "ok"}
    a, b = ok(old), ok(new)
    out = {"faster": [], "slower": [], "same": 0,
           "only_old": sorted(set(a) - set(b)), "only_new": sorted(set(b) - set(a))}
    for name in a:
        if name not in b:
            continue
        ratio = a[name] / b[name]
        entry = (name, a[name], b[name], ratio)
        if ratio > 1 + threshold:
            out["faster"].append(entry)
        elif ratio < 1 / (1 + threshold):
            out["slower"].append(entry)
        else:
            out["same"] += 1
    out["faster"].sort(key=lambda e: -e[3])
    out["slower"].sort(key=lambda e: e[3])
    return out


def format_compare(cmp, old_label="old", threshold=0.10):
    lines = [f"compared with {old_label} (fastconv medians; changes beyond "
             f"{threshold * 100:.0f}%, the machine is noisy):"]
    for key in ("faster", "slower"):
        lines.append(f"  {key}: {len(cmp[key])}")
        for name, a, b, ratio in cmp[key]:
            lines.append(f"    {name:55s} {a * 1e3:9.3f} ms -> {b * 1e3:9.3f} ms  {ratio:.2f}x")
    lines.append(f"  unchanged: {cmp['same']}")
    if cmp["only_new"]:
        lines.append(f"  new cases: {len(cmp['only_new'])}")
    if cmp["only_old"]:
        lines.append(f"  no longer timed: {len(cmp['only_old'])}")
    return "\n".join(lines)

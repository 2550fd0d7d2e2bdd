"""Detection quality on steps planted in real noise: recall, precision and exact commit per method and step size.

Run: ``python -m bench.detection_quality [--seed N] [--windows N] [--workers N] [--sets dashboard,results]``
(not part of ``make test``). Prints one table per set, asserts nothing.

Two sets, the same construction as ``bench.synthetic`` (read its docstring for the scoring rules):

``dashboard``
    ``bench.synthetic`` itself: 60-point windows of the ``dashboards/django`` series (one value per commit,
    no weights, no CIs), flat for ``rbf`` and ``asv``; methods ``rbf``, ``asv``, ``evidence`` (which has no
    recorded stats here, so it judges by the segment test alone).
``results``
    60-point windows of the ``results/django`` raw results (``ubuntu-latest``, every env, schema v2 with 10
    samples and a 99% CI per commit), in commit-date order, flat for ``rbf`` and ``asv`` (asv weighted by the
    CIs, as ``asv publish`` does). A step scales the value, the CI bounds and every sample after ``p`` by
    ``1 - s``. ``asv`` gets the CI weights, ``evidence`` the CIs and samples.
``results-short``
    The same with 6-commit windows and the step at commit 2, 3 or 4 (2-4 commits on either side): a project
    measured at a handful of merge commits, the case the segment test cannot decide.

Apache Otava (``apache-otava`` 0.8.0, E-divisive means with Student-t) is added as rows with
``--otava-python PATH``: an interpreter where ``apache-otava`` is installed (it is not a project dependency: it
pins its own numpy and pulls in Google Cloud clients), run with its defaults as ``otava analyze`` runs them.
Otava has no notion of significance per change point in our sense, so a qualifying Otava change point is any one
whose segment medians improve by at least the 5% floor, scored by the same rules.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict

import numpy as np

from bench import synthetic as syn
from detection.steps import DetectionConfig, asv_weights, detect_many

METHODS = ("rbf", "asv", "evidence")
RESULTS_MACHINE = "ubuntu-latest"
# set -> (window length, first and last step position)
SETS = {
    "dashboard": (syn.WINDOW, syn.STEP_LO, syn.STEP_HI),
    "results": (syn.WINDOW, syn.STEP_LO, syn.STEP_HI),
    "results-short": (6, 2, 4),
}


def load_results_series() -> list[tuple[str, str, list[dict]]]:
    """(env/benchmark, type, points) per series of the django raw results; points carry value, CI and samples."""
    folder = syn.fixtures() / "results" / "django" / "results" / RESULTS_MACHINE
    by_series: dict[tuple[str, str], list] = defaultdict(list)
    for path in sorted(folder.glob("*.json")):
        if path.name == "machine.json":
            continue
        data = json.loads(path.read_text())
        cols = data["result_columns"]
        for bench, res in data["results"].items():
            r = dict(zip(cols, res, strict=False))
            kind = syn.benchmark_type(syn.Path(bench + ".json"))
            v = r["result"][0] if r.get("result") else None
            if kind is None or not isinstance(v, (int, float)) or not np.isfinite(v) or r.get("params"):
                continue
            a, b = r.get("stats_ci_99_a"), r.get("stats_ci_99_b")
            samples = r.get("samples")
            point = {
                "value": float(v),
                "ci_99_a": a[0] if a else None,
                "ci_99_b": b[0] if b else None,
                "samples": samples[0] if samples else None,
            }
            by_series[(data["env_name"], bench)].append((data["date"], data["commit_hash"], kind, point))
    out = []
    for (env, bench), rows in sorted(by_series.items()):
        rows.sort(key=lambda t: (t[0], t[1]))
        if len(rows) >= syn.WINDOW:
            out.append((f"{env}/{bench}", rows[0][2], [p for *_, p in rows]))
    return out


def _item(key, points, kind):
    values = [p["value"] for p in points]
    w = asv_weights(values, [p["ci_99_a"] for p in points], [p["ci_99_b"] for p in points])
    return (key, values, kind, w, "", points)


def _scale(p: dict, f: float) -> dict:
    return {
        "value": p["value"] * f,
        "ci_99_a": None if p["ci_99_a"] is None else p["ci_99_a"] * f,
        "ci_99_b": None if p["ci_99_b"] is None else p["ci_99_b"] * f,
        "samples": None if p["samples"] is None else [s * f if s is not None else None for s in p["samples"]],
    }


def results_windows(rng, limit, workers, window=syn.WINDOW):
    series = load_results_series()
    items = []
    for si, (_, kind, pts) in enumerate(series):
        for start in range(0, len(pts) - window + 1, window):
            items.append(_item((si, start), pts[start : start + window], kind))
    flat = [
        k for k, cps, why in detect_many(items, DetectionConfig(), workers=workers) if why is None and not cps
    ]
    by_series = defaultdict(list)
    for si, start in flat:
        by_series[si].append(start)
    ranked = []
    for si, starts in by_series.items():
        for rank, j in enumerate(rng.permutation(len(starts))):
            ranked.append((rank, rng.random(), si, starts[j]))
    ranked.sort()
    chosen = [(si, st) for *_, si, st in ranked[:limit]]
    windows = [series[si][2][st : st + window] for si, st in chosen]
    kinds = [series[si][1] for si, _ in chosen]
    desc = (
        f"results/django/{RESULTS_MACHINE}, {window}-commit windows: {len(series)} series; candidate windows "
        f"{len(items)}; flat for rbf and asv (weighted): {len(flat)}; used {len(windows)}"
    )
    return windows, kinds, desc


def dashboard_windows(rng, limit, workers):
    series = syn.load_series(syn.fixtures() / "dashboards" / "django" / "graphs")
    n_cand, n_flat, _, chosen = syn.flat_windows(series, DetectionConfig(), workers, rng, limit)
    windows = [
        [
            {"value": v, "ci_99_a": None, "ci_99_b": None, "samples": None}
            for v in series[si][2][st : st + syn.WINDOW]
        ]
        for si, st in chosen
    ]
    kinds = [series[si][1] for si, _ in chosen]
    desc = (
        f"dashboards/django: {len(series)} series; candidate windows {n_cand}; flat for rbf and asv: {n_flat}; "
        f"used {len(windows)}"
    )
    return windows, kinds, desc


OTAVA_SCRIPT = """
import json, sys
from otava.analysis import compute_change_points
out = []
for values in json.load(sys.stdin):
    cps, _ = compute_change_points(values)  # Otava's defaults: window_len=50, max_pvalue=0.001
    out.append(sorted({int(c.index) for c in cps}))
json.dump(out, sys.stdout)
"""


def otava_splits(python: str, series: list[list[float]]) -> list[list[int]]:
    """Apache Otava's change points (split indices) per series, computed by ``python`` (an interpreter with
    ``apache-otava`` installed), with Otava's default settings as ``otava analyze`` uses them."""
    import subprocess

    done = subprocess.run(
        [python, "-c", OTAVA_SCRIPT], input=json.dumps(series), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"otava run failed ({python}): {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout)


def score_splits(split_lists, values_lists, positions, floor=0.05):
    """(qualifying, TP, exact) for plain split lists: improvement (lower median after) of at least ``floor``."""
    rep = tp = ex = 0
    for splits, vals, p in zip(split_lists, values_lists, positions, strict=True):
        x = np.asarray(vals, dtype=float)
        b = [0, *splits, len(x)]
        qual = []
        for k in range(1, len(b) - 1):
            m0, m1 = np.median(x[b[k - 1] : b[k]]), np.median(x[b[k] : b[k + 1]])
            if m0 > 0 and (m0 - m1) / m0 >= floor:
                qual.append(b[k])
        rep += len(qual)
        tp += p is not None and any(abs(t - p) <= syn.TOLERANCE for t in qual)
        ex += p is not None and p in qual
    return [rep, tp, ex]


def run_set(name, windows, kinds, positions, workers, otava_python=None):
    items = []
    for size in (0.0, *syn.STEP_SIZES):
        for wi, (pts, kind, p) in enumerate(zip(windows, kinds, positions, strict=True)):
            stepped = pts if size == 0 else pts[:p] + [_scale(q, 1 - size) for q in pts[p:]]
            if name.startswith("results"):
                items.append(_item((wi, size), stepped, kind))
            else:
                items.append(((wi, size), [q["value"] for q in stepped], kind, None, "", None))
    by_size = defaultdict(list)
    rows = {}
    if otava_python:
        for size in (0.0, *syn.STEP_SIZES):
            sized = [it for it in items if it[0][1] == size]
            splits = otava_splits(otava_python, [it[1] for it in sized])
            pos = [None if size == 0 else positions[it[0][0]] for it in sized]
            rows[("otava", size)] = score_splits(splits, [it[1] for it in sized], pos)
    for key, cps, why in detect_many(items, DetectionConfig(methods=METHODS), workers=workers):
        by_size[key[1]].append((key, cps, why))
    for size in (0.0, *syn.STEP_SIZES):
        pos = [None if size == 0 else p for p in positions]
        for m, counts in syn.score(by_size[size], pos, len(windows), METHODS).items():
            rows[(m, size)] = counts
    return rows


def print_table(title, rows, n):
    print(title)
    header = "| method | step | reported | TP | precision | recall | exact | exact of hits | F1 |"
    print(header)
    print("|---|---|---|---|---|---|---|---|---|")

    def pct(a, b):
        return f"{a / b:.1%}" if b else "n/a"

    for m in sorted({m for m, _ in rows}, key=lambda m: METHODS.index(m) if m in METHODS else len(METHODS)):
        fp0 = rows[(m, 0.0)][0]
        print(f"| {m} | 0% | {fp0} | - | - | - | - | - | - |")
        for size in syn.STEP_SIZES:
            rep, tp, ex = rows[(m, size)]
            p = tp / rep if rep else 0.0
            r = tp / n if n else 0.0
            f1 = 2 * p * r / (p + r) if p + r else 0.0
            print(
                f"| {m} | {size:.0%} | {rep} | {tp} | {pct(tp, rep)} | {pct(tp, n)} | {pct(ex, n)} | "
                f"{pct(ex, tp)} | {f1:.2f} |"
            )
    print()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--windows", type=int, default=150)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--otava-python", default=None, help="interpreter with apache-otava installed (optional)")
    args = ap.parse_args(argv)
    sets = [s.strip() for s in args.sets.split(",") if s.strip()]
    unknown = [s for s in sets if s not in SETS]
    if unknown:
        ap.error(f"unknown set(s) {unknown}; known: {', '.join(SETS)}")
    print(
        f"seed={args.seed}  tolerance=+-{syn.TOLERANCE}  qualifying = improvement & significant & passes_floor"
    )
    if args.otava_python:
        print(f"apache-otava: run by {args.otava_python} with its defaults (window_len=50, max_pvalue=0.001)")
    else:
        print("apache-otava: not run (give --otava-python PATH: an interpreter with apache-otava installed)")
    print()
    for name in sets:
        t0 = time.perf_counter()
        rng = np.random.default_rng(args.seed)
        window, lo, hi = SETS[name]
        if name == "dashboard":
            windows, kinds, desc = dashboard_windows(rng, args.windows, args.workers)
        else:
            windows, kinds, desc = results_windows(rng, args.windows, args.workers, window)
        positions = [int(rng.integers(lo, hi + 1)) for _ in windows]
        desc += f"; step position uniform in [{lo}, {hi}]"
        rows = run_set(name, windows, kinds, positions, args.workers, args.otava_python)
        print_table(f"## {name} ({desc}; {time.perf_counter() - t0:.1f}s)", rows, len(windows))


if __name__ == "__main__":
    main()

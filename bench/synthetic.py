"""Synthetic-step benchmark of the two detection methods on real noise.

Run: ``python -m bench.synthetic [--seed N] [--windows N] [--workers N]``. Prints a table, asserts nothing.

Construction
    * Series: every ``dashboards/django/graphs/**.json`` in ``$DATASMITH_FIXTURES`` (default
      ``<repo>/../shared/fixtures``) whose benchmark has a known direction (``time_``, ``peakmem_``, ``mem_``:
      lower is better; ``track_`` is skipped) and at least ``MIN_POINTS`` non-null points. Nulls are dropped (as in
      ``tests/test_detection_core.py``).
    * Windows: non-overlapping ``WINDOW``-point stretches of those series. A window is kept only when ``detect``
      with the default ``DetectionConfig`` returns no change point at all for either method (and no skip reason),
      so its noise is real and, by both methods, stationary. Up to ``--windows`` of them are drawn with the seeded
      RNG, preferring distinct series (one window per series first, then second windows, ...).
    * Steps: per window one position ``p`` is drawn uniformly in ``[STEP_LO, STEP_HI]`` (seeded RNG); the same
      position is used for every step size. The step is an *improvement*: ``values[p:]`` are multiplied by
      ``(1 - s)`` (so s = 20% means the values after the step are 0.8x the ones before; a 20% time reduction).

Scoring (per method)
    * Qualifying change point: as ``fct_performance_improvements`` selects them: ``direction == 'improvement'``
      and ``significant`` and ``passes_floor``.
    * A window is a true positive when some qualifying change point has ``|index_after - p| <= TOLERANCE``; it is
      an exact attribution when one has ``index_after == p``.
    * recall = TP windows / windows; precision = TP windows / all qualifying change points reported (an injected
      step can be claimed by only one reported change point; any extra is counted as false);
      exact = exact windows / windows, exact|TP = exact windows / TP windows.
    * The 0% row is the unmodified windows: every qualifying change point there is a false positive. Because the
      windows were *selected* for having no change point, this row is 0 by construction (a sanity check only).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from detection.steps import METHODS, DetectionConfig, detect_many

PROJECT_ROOT = Path(__file__).resolve().parent.parent
WINDOW = 60
MIN_POINTS = 80
STEP_LO, STEP_HI = 15, 45
TOLERANCE = 2
STEP_SIZES = (0.03, 0.05, 0.10, 0.20)
PREFIX_TYPES = (("time_", "time"), ("peakmem_", "peakmemory"), ("mem_", "memory"))


def fixtures() -> Path:
    return Path(os.environ.get("DATASMITH_FIXTURES", PROJECT_ROOT.parent / "shared" / "fixtures")).resolve()


def benchmark_type(path: Path) -> str | None:
    last = path.stem.rsplit(".", 1)[-1]
    for prefix, kind in PREFIX_TYPES:
        if last.startswith(prefix):
            return kind
    return None


def load_series(graphs: Path) -> list[tuple[str, str, list[float]]]:
    out = []
    for p in sorted(graphs.rglob("*.json")):
        if p.name == "summary.json":
            continue
        kind = benchmark_type(p)
        if kind is None:
            continue
        try:
            data = json.loads(p.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(data, list):
            continue
        vals = []
        for row in data:
            if not isinstance(row, list) or len(row) < 2:
                continue
            v = row[1]
            if isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v):
                vals.append(float(v))
        if len(vals) >= MIN_POINTS:
            out.append((str(p.relative_to(graphs)), kind, vals))
    return out


def flat_windows(series, config, workers, rng, limit):
    """Candidate windows with no change point for either method, then a seeded draw preferring distinct series."""
    items = []
    for si, (_, kind, vals) in enumerate(series):
        for start in range(0, len(vals) - WINDOW + 1, WINDOW):
            items.append(((si, start), vals[start : start + WINDOW], kind, None, ""))
    flat = [key for key, cps, why in detect_many(items, config, workers=workers) if why is None and not cps]
    by_series = defaultdict(list)
    for si, start in flat:
        by_series[si].append(start)
    ranked = []
    for si, starts in by_series.items():
        order = rng.permutation(len(starts))
        for rank, j in enumerate(order):
            ranked.append((rank, rng.random(), si, starts[j]))
    ranked.sort()
    chosen = [(si, start) for _, _, si, start in ranked[:limit]]
    return len(items), len(flat), len(by_series), chosen


def score(results, positions, n_windows, methods=METHODS):
    """{method: (qualifying cps, TP windows, exact windows)}."""
    stats = {m: [0, 0, 0] for m in methods}
    for (wi, _), cps, why in results:
        if why is not None:
            continue
        p = positions[wi]
        for m in methods:
            qual = [
                c
                for c in cps
                if c.method == m and c.direction == "improvement" and c.significant and c.passes_floor
            ]
            stats[m][0] += len(qual)
            if p is not None and any(abs(c.index_after - p) <= TOLERANCE for c in qual):
                stats[m][1] += 1
            if p is not None and any(c.index_after == p for c in qual):
                stats[m][2] += 1
    return stats


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--windows", type=int, default=150)
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    config = DetectionConfig()
    graphs = fixtures() / "dashboards" / "django" / "graphs"
    series = load_series(graphs)
    n_cand, n_flat, n_flat_series, chosen = flat_windows(series, config, args.workers, rng, args.windows)
    windows = [series[si][2][start : start + WINDOW] for si, start in chosen]
    kinds = [series[si][1] for si, _ in chosen]
    positions = [int(rng.integers(STEP_LO, STEP_HI + 1)) for _ in windows]
    n = len(windows)

    items = []
    for size in (0.0, *STEP_SIZES):
        for wi, (vals, kind, p) in enumerate(zip(windows, kinds, positions, strict=True)):
            v = vals if size == 0 else vals[:p] + [x * (1 - size) for x in vals[p:]]
            items.append(((wi, size), v, kind, None, ""))
    by_size = defaultdict(list)
    for key, cps, why in detect_many(items, config, workers=args.workers):
        by_size[key[1]].append((key, cps, why))

    print(
        f"seed={args.seed}  window={WINDOW} points  step position uniform in [{STEP_LO}, {STEP_HI}]  "
        f"tolerance=+-{TOLERANCE}"
    )
    print(
        f"series used (>= {MIN_POINTS} non-null points, time/peakmem/mem): {len(series)}; "
        f"candidate windows: {n_cand}; flat for both methods: {n_flat} (in {n_flat_series} series); "
        f"windows used: {n} (from {len({si for si, _ in chosen})} series)"
    )
    print(
        "step = improvement: values[p:] *= (1 - s); qualifying = direction 'improvement' & significant & "
        "passes_floor"
    )
    print()
    header = (
        f"{'method':<6} {'step':>5} {'reported':>8} {'TP':>4} {'precision':>9} {'recall':>7} "
        f"{'exact':>6} {'exact|TP':>8}"
    )
    print(header)
    print("-" * len(header))
    for m in METHODS:
        for size in (0.0, *STEP_SIZES):
            reported, tp, exact = score(by_size[size], [None if size == 0 else p for p in positions], n)[m]
            if size == 0:
                fp_rate = (
                    sum(
                        1
                        for _, cps, _ in by_size[size]
                        if any(
                            c.method == m
                            and c.direction == "improvement"
                            and c.significant
                            and c.passes_floor
                            for c in cps
                        )
                    )
                    / n
                    if n
                    else float("nan")
                )
                print(
                    f"{m:<6} {'0%':>5} {reported:>8} {'-':>4} {'-':>9} {'-':>7} {'-':>6} {'-':>8}   "
                    f"false-positive rate (windows with a qualifying cp): {fp_rate:.1%}"
                )
                continue

            def pct(a, b):
                return f"{a / b:.1%}" if b else "n/a"

            print(
                f"{m:<6} {f'{size:.0%}':>5} {reported:>8} {tp:>4} {pct(tp, reported):>9} {pct(tp, n):>7} "
                f"{pct(exact, n):>6} {pct(exact, tp):>8}"
            )
    print()
    print(f"elapsed {time.perf_counter() - t0:.1f}s")


if __name__ == "__main__":
    main()

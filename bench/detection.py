"""Change-point detection speed and equality on every django dashboard series (printed, not asserted).

    .venv/bin/python -m bench.detection [--full-reference] [--penalty-study] [--repeat 3]

Series: every ``graphs/<config>/<benchmark>.json`` of ``$DATASMITH_FIXTURES/dashboards/django`` (the per-config
``summary.json`` and ``graphs/summary/`` skipped), nulls dropped, kept with 3+ points.

* original: the original loop, ``ruptures.Pelt(model="rbf", min_size=2, jump=5)`` with penalty ``3 ln n`` on the
  raw values, one series at a time;
* ours rbf: ``detect_many`` with the rbf method and the default configuration (jump=1, log-values,
  penalty ``ln n``), on all cores, change-point statistics included; also ours at the original's settings
  (raw values, ``3 ln n``) but jump=1;
* equality: our breakpoints against the plain ruptures call with ``jump=1`` at the same settings, on a subset
  (all series of at most 250 points and every 10th longer one; ``--full-reference`` for all: ~10+ minutes);
* asv: a plain loop of ``asv.step_detect.detect_steps`` against ``detect_many`` with the asv method, and every
  series' steps compared.

The machine is shared, so ours is the best of ``--repeat`` runs; each reference runs once.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(os.environ.get("DATASMITH_FIXTURES", ROOT.parent / "shared" / "fixtures")).resolve()


def load_django(root: Path | None = None) -> list[tuple[str, list[float]]]:
    """(graph path, non-null values in revision order) for every series with 3+ points."""
    graphs = (root or FIXTURES / "dashboards" / "django") / "graphs"
    out = []
    for path in sorted(graphs.rglob("*.json")):
        rel = path.relative_to(graphs)
        if rel.parts[0] == "summary" or path.name == "summary.json":
            continue
        values = [v for _, v in json.loads(path.read_text()) if v is not None]
        if len(values) >= 3:
            out.append((str(rel), values))
    return out


def _best(fn, repeat: int) -> tuple[float, object]:
    best, result = math.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return best, result


def _reference_task(args):
    from detection.rbf import rbf_reference

    signal, pen = args
    return rbf_reference(np.asarray(signal), jump=1, penalty=pen, min_size=2)


def _ours_task(args):
    from detection.rbf import rbf_breakpoints

    signal, pen = args
    return rbf_breakpoints(np.asarray(signal), pen, 2)


def _signal(values, log: bool) -> list[float]:
    x = np.asarray(values, dtype=float)
    return (np.log(x) if log and np.all(x > 0) else x).tolist()


def penalty_study(series) -> None:
    """False alarms on shuffled series and hits of injected steps, for several penalty multipliers."""
    from detection.rbf import rbf_breakpoints

    rng = np.random.default_rng(0)
    data = [np.log(np.asarray(v, dtype=float)) for _, v in series if len(v) >= 10 and min(v) > 0]
    shuffled = [rng.permutation(x) for x in data]
    where = [int(rng.integers(2, len(x) - 1)) for x in data]
    print(f"\npenalty study: c * ln(n) on log-values, {len(data)} series")
    for c in (0.5, 0.75, 1.0, 1.5, 2.0, 3.0):
        alarms, hits, found = 0, dict.fromkeys((0.1, 0.2, 0.5), 0), []
        for x, p, orig in zip(shuffled, where, data, strict=True):
            pen = c * math.log(len(x))
            alarms += len(rbf_breakpoints(x, pen, 2)) > 1
            for step in hits:
                y = x.copy()
                y[p:] += math.log1p(step)
                hits[step] += p in rbf_breakpoints(y, pen, 2)
            found.append(len(rbf_breakpoints(orig, pen, 2)) - 1)
        n = len(data)
        print(
            f"  c={c:<4}: shuffled series with a change point {alarms:3d}/{n}; injected step found at its index: "
            + ", ".join(f"{int(s * 100)}% {hits[s] / n:.2f}" for s in hits)
            + f"; change points per real series {np.mean(found):.2f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--full-reference", action="store_true", help="ruptures jump=1 reference on every series"
    )
    parser.add_argument("--penalty-study", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args(argv)

    from asv.step_detect import detect_steps

    from detection import DetectionConfig, asv_detect_steps_many, detect_many
    from detection.rbf import rbf_reference
    from detection.steps import default_workers

    series = load_django()
    workers = args.workers or default_workers()
    npoints = sum(len(v) for _, v in series)
    print(f"django dashboard: {len(series)} series, {npoints} points; {workers} worker processes")
    items = [(key, values, "time", None, key) for key, values in series]

    def run(config):
        return list(detect_many(items, config, workers=workers))

    # --- rbf ---------------------------------------------------------------------------------------------
    t = time.perf_counter()
    original = [
        rbf_reference(np.asarray(v, dtype=float), jump=5, penalty=3 * math.log(len(v))) for _, v in series
    ]
    t_original = time.perf_counter() - t
    default = DetectionConfig(methods=("rbf",))
    t_ours, res_default = _best(lambda: run(default), args.repeat)
    # the original's settings: raw values and 3 ln n (a per-series penalty, so through rbf_breakpoints directly)
    raw_tasks = [(list(map(float, v)), 3 * math.log(len(v))) for _, v in series]
    with ProcessPoolExecutor(workers) as pool:
        t_ours_orig, _ = _best(lambda: list(pool.map(_ours_task, raw_tasks, chunksize=16)), args.repeat)
    n_cp = sum(len(c) for _, c, _ in res_default)
    print("\nrbf (PELT, RBF kernel)")
    n_orig = sum(len(b) - 1 for b in original)
    print(
        f"  original loop (ruptures jump=5, 3 ln n, raw)      {t_original:8.2f} s   ({n_orig} change points)"
    )
    print(
        f"  ours, default (jump=1, ln n, log), detect_many     {t_ours:8.2f} s   {t_original / t_ours:6.1f}x "
        f"faster ({n_cp} change points, statistics included)"
    )
    print(
        f"  ours, original's settings but jump=1 (3 ln n, raw) {t_ours_orig:8.2f} s   {t_original / t_ours_orig:6.1f}x faster"
    )

    # equality with ruptures jump=1 at the same settings
    if args.full_reference:
        subset = list(range(len(series)))
    else:
        subset = [i for i, (_, v) in enumerate(series) if len(v) <= 250]
        subset += [i for i, (_, v) in enumerate(series) if len(v) > 250][::10]
    for label, log, mult in (("default (log, ln n)", True, 1.0), ("original's (raw, 3 ln n)", False, 3.0)):
        tasks = [(_signal(series[i][1], log), mult * math.log(len(series[i][1]))) for i in subset]
        t = time.perf_counter()
        with ProcessPoolExecutor(workers) as pool:
            ref = list(pool.map(_reference_task, tasks, chunksize=1))
        t_ref = time.perf_counter() - t
        t = time.perf_counter()
        mine = [_ours_task(task) for task in tasks]
        t_mine = time.perf_counter() - t
        same = sum(a == b for a, b in zip(ref, mine, strict=True))
        pts = sum(len(series[i][1]) for i in subset)
        print(
            f"  equality vs ruptures Pelt(rbf, jump=1), {label}: {same}/{len(subset)} series identical "
            f"({pts} points; reference {t_ref:.1f} s on {workers} processes, ours {t_mine:.2f} s on one)"
        )

    # --- asv ---------------------------------------------------------------------------------------------
    t = time.perf_counter()
    reference = [detect_steps(v) for _, v in series]
    t_plain = time.perf_counter() - t
    asv_config = DetectionConfig(methods=("asv",))
    t_asv, res_asv = _best(lambda: run(asv_config), args.repeat)
    steps = asv_detect_steps_many([(v, None) for _, v in series])
    same_steps = sum(a == b for a, b in zip(steps, reference, strict=True))
    bounds_ref = [[(s[1] - 1, t[0]) for s, t in itertools.pairwise(r)] for r in reference]
    bounds_ours = [[(c.index_before, c.index_after) for c in cps] for _, cps, _ in res_asv]
    same_cp = sum(a == b for a, b in zip(bounds_ours, bounds_ref, strict=True))
    print("\nasv (asv.step_detect.detect_steps)")
    print(f"  plain loop of detect_steps                         {t_plain:8.2f} s")
    print(
        f"  ours, detect_many (statistics included)            {t_asv:8.2f} s   {t_plain / t_asv:6.1f}x faster"
    )
    print(
        f"  steps identical to detect_steps: {same_steps}/{len(series)}; change points identical: {same_cp}/{len(series)}"
    )

    both = DetectionConfig()
    t_both, _ = _best(lambda: run(both), args.repeat)
    print(
        f"\nboth methods in one detect_many: {t_both:.2f} s ({t_original + t_plain:.2f} s for the two plain loops)"
    )

    if args.penalty_study:
        penalty_study(series)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

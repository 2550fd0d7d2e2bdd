"""`python -m bench.dashboard_oracle`: our `asv` method against the regressions.json real dashboards ship.

`asv publish` writes regressions.json from its own step detection, weighted by the raw results' 99%
intervals, which a published dashboard no longer carries. This rebuilds each series from the
dashboard's graph files (the same points asv drew), runs `persisting_regressions` unweighted, and
counts how many published regressions come out with the same revision range, and how many extra ones
appear. Printed, not asserted: the gap is the lost weights (and, for old sites, asv versions whose
step detection differed).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(os.environ.get("DATASMITH_FIXTURES", ROOT.parent / "shared" / "fixtures")).resolve()
SETS = ("django", "sympy", "numpy-trimmed", "scipy-trimmed")


def published(site: Path) -> dict[tuple[str, int | None], set[tuple]]:
    """(graph path, param index) -> {(revision_before, revision_after)} as published."""
    doc = json.loads((site / "regressions.json").read_text())
    out: dict[tuple[str, int | None], set[tuple]] = {}
    for entry in doc["regressions"]:
        graph, idx, ranges = entry[1], entry[3], entry[6]
        out.setdefault((graph, idx), set()).update((r[0], r[1]) for r in ranges)
    return out


def ours(site: Path, graph: str, idx: int | None) -> set[tuple]:
    from detection.steps import persisting_regressions

    points = json.loads((site / graph).read_text())
    revisions, values = [], []
    for x, y in points:
        value = y[idx] if idx is not None else y
        if value is not None:
            revisions.append(int(x))
            values.append(value)
    if len(values) < 2:
        return set()
    _latest, _best, ranges = persisting_regressions(values, None, revisions)
    # asv writes None for `before` when the range is a single commit; revisions are consecutive then.
    return {(None if b is not None and a - b == 1 else b, a) for b, a, *_ in ranges or []}


def series_of(site: Path) -> list[tuple[str, int | None]]:
    index = json.loads((site / "index.json").read_text())
    from ingest.dashboards import series_path

    keys = []
    for config in index.get("graph_param_list", []):
        for name, spec in index["benchmarks"].items():
            graph = series_path(config, name)
            if not (site / graph).exists():
                continue
            n = 1
            for p in spec.get("params") or []:
                n *= len(p)
            keys += [(graph, i if spec.get("params") else None) for i in range(n)]
    return keys


def main() -> int:
    print(
        f"{'dashboard':<16} {'published':>10} {'same range':>11} {'same after':>11} {'extra':>7} {'series':>8}"
    )
    for name in SETS:
        site = FIXTURES / "dashboards" / name
        if not site.exists():
            print(f"{name}: not found under {FIXTURES}")
            continue
        truth = published(site)
        reproduced = same_after = extra = total = 0
        series = series_of(site)
        for key in series:
            found = ours(site, *key)
            expected = truth.get(key, set())
            total += len(expected)
            reproduced += len(found & expected)
            # asv nulls `before` when git says the range is one commit, which revisions cannot tell.
            same_after += len({a for _, a in found} & {a for _, a in expected})
            extra += len({a for _, a in found} - {a for _, a in expected})
        print(f"{name:<16} {total:>10} {reproduced:>11} {same_after:>11} {extra:>7} {len(series):>8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

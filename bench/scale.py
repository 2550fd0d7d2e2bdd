"""Scale benchmark (issue 14, item 2; a start): warehouses of increasing size through `datasmith materialize`.

Each size lists the same real fixture sets k times under new source names (`<set>-copy<i>`), so every copy
carries the real benchmark names, parameter grids, noise and steps, and the warehouse holds k times the
measurements. Per size and stage it prints wall seconds, measurements per second, peak RSS of the stage's
process tree (``/usr/bin/time -v`` reports the largest process), and the warehouse's size on disk; then the
growth exponent of each stage's time between consecutive sizes (log t2/t1 / log n2/n1).

Stages, each one `datasmith materialize --select ...` in a fresh process:
  load+dbt   ingest and dbt up to fct_series_points and dim_series
  detection  the breakpoints assets (a full run: the warehouse is new)
  rest       a whole materialisation again: nothing new to ingest, dbt rebuilt, detection
             incremental (nothing changed), the marts and the dataset stage

    python -m bench.scale --sets results/django dashboards/numpy-trimmed --copies 1 2 4 [--workdir DIR]

Not part of `make test`. Sizes of 10M and 50M measurements need copies of the larger sets (the django
results are ~260k measurements, numpy-full ~2.4M) and tens of minutes per size on two cores.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(os.environ.get("DATASMITH_FIXTURES", PROJECT_ROOT.parent / "shared" / "fixtures")).resolve()
REPOS = {
    "django": "django/django",
    "numpy": "numpy/numpy",
    "numpy-trimmed": "numpy/numpy",
    "numpy-full": "numpy/numpy",
    "scipy-trimmed": "scipy/scipy",
    "sympy": "sympy/sympy",
    "conda": "conda/conda",
    "photutils": "astropy/photutils",
    "sympy-v1": "sympy/sympy",
}
STAGES = (
    ("load+dbt", ["--select", "+key:fct_series_points or +key:dim_series"]),
    ("detection", ["--select", "key:breakpoints or key:detection/skipped_series"]),
    ("rest", []),
)


def write_sources(folder: Path, sets: list[str], copies: int) -> Path:
    document: dict[str, list] = {"results": [], "dashboards": []}
    for kind_and_name in sets:
        kind, name = kind_and_name.split("/", 1)
        path = FIXTURES / kind / name
        if not path.exists():
            sys.exit(f"bench/scale.py: fixture set {path} not found (set DATASMITH_FIXTURES)")
        for i in range(1, copies + 1):
            entry = {"name": f"{name}-copy{i}", "repo": REPOS.get(name, f"unknown/{name}")}
            if kind == "results":
                document["results"].append({**entry, "path": str(path)})
            else:
                document["dashboards"].append({**entry, "url": str(path)})
    file = folder / "sources.yml"
    file.write_text(yaml.safe_dump(document, sort_keys=False))
    return file


def run_stage(sources: Path, db: Path, extra: list[str]) -> tuple[float, int]:
    """(wall seconds, peak RSS in bytes) of one `datasmith materialize`; exits on failure."""
    command = [
        "/usr/bin/time",
        "-v",
        str(PROJECT_ROOT / ".venv" / "bin" / "datasmith"),
        "materialize",
        "--sources",
        str(sources),
        "--db",
        str(db),
        *extra,
    ]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=PROJECT_ROOT)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"bench/scale.py: {' '.join(command[2:])} exited {done.returncode}:\n{done.stderr[-3000:]}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    return wall, int(rss.group(1)) * 1024 if rss else 0


def measurements(db: Path) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("select count(*) from main.fct_measurements").fetchone()[0]
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=["results/django"], help="kind/name under the fixtures")
    parser.add_argument("--copies", nargs="+", type=int, default=[1, 2, 4])
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    root = args.workdir or Path(tempfile.mkdtemp(prefix="datasmith-scale-"))
    rows = []
    print(
        f"{'copies':>6} {'stage':<10} {'rows':>11} {'wall s':>8} {'rows/s':>10} {'peak RSS':>9} {'warehouse':>10}"
    )
    for copies in sorted(args.copies):
        folder = root / f"copies-{copies}"
        folder.mkdir(parents=True, exist_ok=True)
        sources = write_sources(folder, args.sets, copies)
        db = folder / "warehouse.duckdb"
        for stage, extra in STAGES:
            wall, rss = run_stage(sources, db, extra)
            n = measurements(db)
            size = db.stat().st_size
            rows.append((copies, stage, n, wall))
            print(
                f"{copies:>6} {stage:<10} {n:>11,} {wall:>8.1f} {n / wall:>10,.0f} {rss / 2**30:>7.2f}G "
                f"{size / 2**20:>8.0f}MB",
                flush=True,
            )
    print("\ngrowth exponent of each stage's time (log t2/t1 / log n2/n1):")
    for stage, _extra in STAGES:
        points = [(n, t) for (_c, s, n, t) in rows if s == stage]
        for (n1, t1), (n2, t2) in itertools.pairwise(points):
            if n2 > n1 > 0 and t1 > 0:
                print(f"  {stage:<10} {n1:>11,} -> {n2:>11,}: {math.log(t2 / t1) / math.log(n2 / n1):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

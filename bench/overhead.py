"""Fixed cost of `datasmith materialize` and the cost of one new commit (issue 14, item 5).

Two measurements, each a `datasmith materialize` of every asset in a fresh process, on a new warehouse
and a new Dagster home in a temporary folder:

fixed cost vs sources
    a sources file with N `results:` sources, each the tiny real set `results/sympy-v1` (3 result files)
    listed under its own name (`s000`, `s001`, ...), for each N in --sources-counts. The time at the
    smallest N is the fixed cost; (t(N) - t(smallest)) / (N - smallest) is the cost per added source.

one new commit
    a copy of a real results set (--commit-set, default `results/django`) materialised whole (the full
    build), then one result file added (the newest result file of one machine, copied under a new commit
    hash and a later date: a real file's benchmarks, values and shape) and materialised again. Its share
    is the second time over the first, end to end (ingest, dbt, detection, marts, reports, export).

    python -m bench.overhead [--sources-counts 1 10 50 200] [--commit-set results/django] [--workdir DIR]

Not part of `make test`. On a shared machine compare ratios measured in one run, not seconds across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(os.environ.get("DATASMITH_FIXTURES", PROJECT_ROOT.parent / "shared" / "fixtures")).resolve()
TINY_SET = "results/sympy-v1"


def materialize(sources: Path, db: Path, select: str | None = None) -> tuple[float, float, str]:
    """One `datasmith materialize` (of every asset, or of ``select``) in a fresh process: (wall seconds,
    CPU seconds of its process tree (user + system, dbt included), its stderr and dbt log). On a machine
    shared with other work the CPU seconds are the steadier measure: the wall time grows with the load."""
    datasmith = Path(sys.executable).parent / "datasmith"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    done = subprocess.run(
        [str(datasmith), "materialize", "--sources", str(sources), "--db", str(db)]
        + (["--select", select] if select else []),
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
    )
    seconds = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        sys.exit(f"bench.overhead: datasmith materialize exited {done.returncode}:\n{done.stderr[-3000:]}")
    log = db.parent / "logs" / "dbt.log"
    return seconds, cpu, done.stderr + (log.read_text(errors="replace") if log.exists() else "")


def reparses(log: str) -> int:
    return log.count("Unable to do partial parsing")


def fixed_cost(workdir: Path, counts: list[int], select: str | None = None) -> list[tuple[int, float, float]]:
    rows = []
    for count in counts:
        folder = workdir / f"sources-{count}"
        folder.mkdir(parents=True)
        sources = folder / "sources.yml"
        entries = [
            {"name": f"s{i:03d}", "path": str(FIXTURES / TINY_SET), "repo": "sympy/sympy"}
            for i in range(count)
        ]
        sources.write_text(yaml.safe_dump({"results": entries}))
        seconds, cpu, log = materialize(sources, folder / "warehouse.duckdb", select)
        rows.append((count, seconds, cpu))
        print(
            f"  {count:4d} sources: {seconds:7.1f} s wall, {cpu:7.1f} s CPU, dbt re-parses: {reparses(log)}",
            flush=True,
        )
    return rows


def add_one_commit(results: Path) -> Path:
    """A new result file: the newest (by date) result file of the first machine, under a new commit hash."""
    machine = sorted(p for p in results.iterdir() if p.is_dir())[0]
    files = [p for p in machine.glob("*.json") if p.name != "machine.json"]
    newest = max(files, key=lambda p: json.loads(p.read_text()).get("date") or 0)
    document = json.loads(newest.read_text())
    commit = "f" * 40
    document["commit_hash"] = commit
    document["date"] = (document.get("date") or 0) + 86_400_000  # a day later (asv dates are ms)
    target = machine / re.sub(r"^[0-9a-f]{8}", commit[:8], newest.name)
    target.write_text(json.dumps(document))
    return target


def one_new_commit(workdir: Path, commit_set: str) -> tuple[float, float, int, int]:
    folder = workdir / "commit"
    tree = folder / Path(commit_set).name
    shutil.copytree(FIXTURES / commit_set, tree)
    results = tree / "results" if (tree / "results").is_dir() else tree
    sources = folder / "sources.yml"
    sources.write_text(yaml.safe_dump({"results": [{"name": tree.name, "path": str(tree)}]}))
    db = folder / "warehouse.duckdb"
    full, full_cpu, full_log = materialize(sources, db)
    print(f"  full build of {commit_set}: {full:.1f} s wall, {full_cpu:.1f} s CPU", flush=True)
    added = add_one_commit(results)
    again, again_cpu, again_log = materialize(sources, db)
    print(f"  one new result file ({added.name}): {again:.1f} s wall, {again_cpu:.1f} s CPU")
    print(f"  dbt re-parses: {reparses(full_log)} in the full build, {reparses(again_log)} in the second")
    return full, again, full_cpu, again_cpu


def measurements(db: Path) -> int:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("select count(*) from main.fct_measurements").fetchone()[0]
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources-counts", type=int, nargs="*", default=[1, 10, 50, 200])
    parser.add_argument("--commit-set", default="results/django", help="a results set under the fixtures")
    parser.add_argument(
        "--select",
        help="materialise only this selection in the sources runs (e.g. 'key:raw/asv_result_files')",
    )
    parser.add_argument("--workdir", type=Path, help="keep the warehouses here (default: a temporary folder)")
    args = parser.parse_args(argv)
    counts = sorted(set(args.sources_counts))
    with tempfile.TemporaryDirectory(prefix="bench-overhead-") as scratch:
        workdir = args.workdir or Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        what = f"--select '{args.select}'" if args.select else "every asset"
        print(f"fixed cost of `datasmith materialize` of {what} ({TINY_SET} under N names)", flush=True)
        rows = fixed_cost(workdir, counts, args.select) if counts else []
        if len(rows) > 1:
            (n0, t0, c0), (n1, t1, c1) = rows[0], rows[-1]
            for what, first, last in (("wall", t0, t1), ("CPU", c0, c1)):
                per_source = (last - first) / (n1 - n0)
                print(
                    f"{what}: fixed cost {first:.1f} s (target < 10 s); per added source {per_source:.2f} s "
                    f"(target < 0.1 s); at 700 sources about {first + per_source * (700 - n0):.0f} s"
                )
        if args.commit_set:
            print(f"one new commit on {args.commit_set}", flush=True)
            full, again, full_cpu, again_cpu = one_new_commit(workdir, args.commit_set)
            rows_in = measurements(workdir / "commit" / "warehouse.duckdb")
            print(
                f"one new commit: {again:.1f} s of a {full:.1f} s full build = {100 * again / full:.1f}% wall, "
                f"{100 * again_cpu / full_cpu:.1f}% CPU (target < 5%; {rows_in:,} measurements)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

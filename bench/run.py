"""`make bench`: throughput of ingest + collation against asv's own loader, in the same run.

The real results sets in $DATASMITH_FIXTURES are registered several times, under different source
names, until the warehouse holds at least --min-rows measurements. Printed, not asserted:
  * baseline: asv's loader (asv.results.iter_results + get_result_value) turning the same files into
    one row per measurement, in this process;
  * ours: raw ingest (Python + DuckDB) + the dbt build of fct_measurements, measured separately from
    the fixed start-up cost of Dagster and dbt;
  * incremental: one new result file added to that warehouse, ingested and collated again.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FIXTURES = Path(os.environ.get("DATASMITH_FIXTURES", ROOT.parent / "shared" / "fixtures")).resolve()
SETS = ("django", "numpy", "conda", "photutils", "sympy-v1")


def asv_loader_rows(root: Path) -> int:
    """What asv's own API yields for one results source: one row per measurement."""
    from asv import results as asv_results

    from ingest.results import discover_files

    trees = sorted({f.tree_path for f in discover_files(root) if f.kind == "result"})
    rows = []
    for tree in trees:
        for result in asv_results.iter_results(str(root / tree)):
            for key in result.get_all_result_keys():
                params = result.get_result_params(key)
                values = result.get_result_value(key, params)
                for index, value in enumerate(values):
                    rows.append(
                        (
                            result._params.get("machine"),
                            result.env_name,
                            result.commit_hash,
                            key,
                            index,
                            value,
                        )
                    )
    return len(rows)


def dbt(args: list[str]) -> dict[str, float]:
    from dbt.cli.main import dbtRunner

    outcome = dbtRunner().invoke([*args, "--quiet", "--project-dir", str(ROOT), "--profiles-dir", str(ROOT)])
    if not outcome.success:
        raise SystemExit(f"dbt {' '.join(args)} failed: {outcome.exception}")
    return {r.node.name: r.execution_time for r in outcome.result.results}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--min-rows", type=int, default=2_000_000)
    args = parser.parse_args()
    if not FIXTURES.exists():
        print(f"bench: no fixtures at {FIXTURES} (set DATASMITH_FIXTURES)")
        return 2

    import duckdb

    from assets.dbt_project import ensure_manifest
    from ingest.results import ingest_results_source
    from ingest.sources import ResultsSource
    from tests.support.warehouse import connect_writer

    ensure_manifest()
    work = Path(tempfile.mkdtemp(prefix="datasmith-bench-"))
    db = work / "bench.duckdb"
    os.environ["DATASMITH_DB"] = str(db)

    # Baseline: asv's loader over one copy of every set.
    # asv itself skips schema-1 files ("stored in an old file format"), so its rate is over the v2 ones.
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        asv_rows = sum(asv_loader_rows(FIXTURES / "results" / name) for name in SETS)
    asv_seconds = time.perf_counter() - started
    copies = -(-args.min_rows // asv_rows)
    print(
        f"asv loader: {asv_rows:,} rows in {asv_seconds:.2f} s = {asv_rows / asv_seconds:,.0f} rows/s (one copy)"
    )

    sources = [
        ResultsSource(f"{name}-{i}", FIXTURES / "results" / name) for i in range(copies) for name in SETS
    ]
    # The source that will receive a new file lives in a scratch copy of the smallest set.
    growing = work / "growing"
    shutil.copytree(FIXTURES / "results" / "sympy-v1", growing)
    sources.append(ResultsSource("growing", growing))

    started = time.perf_counter()
    with connect_writer(db) as con:
        for source in sources:
            ingest_results_source(con, source)
    ingest_seconds = time.perf_counter() - started

    started = time.perf_counter()
    timings = dbt(["run", "--full-refresh", "--select", "+fct_measurements"])
    dbt_wall = time.perf_counter() - started
    collate_seconds = sum(timings.values())
    con = duckdb.connect(str(db))  # dbt's in-process adapter keeps the file open read-write
    total_rows = con.execute("select count(*) from fct_measurements").fetchone()[0]
    con.close()
    ours = ingest_seconds + collate_seconds

    # Incremental: one new result file (a real one, under a new commit hash) in one source.
    machine_dir = next(p for p in (growing / "results").iterdir() if p.is_dir())
    template = next(p for p in machine_dir.glob("*.json") if p.name != "machine.json")
    text = template.read_text()
    commit = text.split('"commit_hash": "')[1][:40]
    (machine_dir / ("f" * 8 + template.name[8:])).write_text(text.replace(commit, "f" * 40))
    started = time.perf_counter()
    with connect_writer(db) as con:
        ingest_results_source(con, sources[-1])
    incremental_ingest = time.perf_counter() - started
    started = time.perf_counter()
    incremental = dbt(["run", "--select", "+fct_measurements"])
    incremental_dbt_wall = time.perf_counter() - started
    incremental_seconds = incremental_ingest + sum(incremental.values())
    con = duckdb.connect(str(db))
    added = con.execute("select count(*) from fct_measurements").fetchone()[0] - total_rows
    con.close()
    if added <= 0:
        raise SystemExit("bench: the incremental run added no rows; its timing would mean nothing")
    startup = dbt_wall - collate_seconds

    print(f"warehouse: {copies} copies of {len(SETS)} sets -> {total_rows:,} rows in fct_measurements")
    print()
    print(f"{'step':<42} {'seconds':>9} {'rows/s':>12}")
    print(
        f"{'asv loader (baseline, same files)':<42} {asv_seconds * copies:>9.2f} {asv_rows / asv_seconds:>12,.0f}"
    )
    print(f"{'ingest (raw.*)':<42} {ingest_seconds:>9.2f} {total_rows / ingest_seconds:>12,.0f}")
    print(
        f"{'collate (dbt models up to fct_measurements)':<42} {collate_seconds:>9.2f} {total_rows / collate_seconds:>12,.0f}"
    )
    print(f"{'ingest + collate':<42} {ours:>9.2f} {total_rows / ours:>12,.0f}")
    print(f"{'dbt start-up (fixed, per run)':<42} {startup:>9.2f}")
    print(
        f"{'incremental: one new file (ingest + models)':<42} {incremental_seconds:>9.2f}   (+{added} rows)"
    )
    print()
    print(
        f"throughput ratio, ours / asv loader:        {(total_rows / ours) / (asv_rows / asv_seconds):6.2f}x  (target >= 5x)"
    )
    print(f"incremental / full build (ingest+collate):  {incremental_seconds / ours:6.1%}  (target < 10%)")
    print(f"incremental dbt wall incl. start-up:        {incremental_dbt_wall:.2f} s")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

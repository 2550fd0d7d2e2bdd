"""`make bench`: throughput of ingest + collation against asv's own loader and DuckDB's bare JSON reader,
measured over the same files in the same run.

The real results sets in $DATASMITH_FIXTURES are registered several times, under different source
names (--copies, else enough copies for --min-rows measurements). Printed, not asserted:
  * baseline: asv's loader (asv.results.iter_results + get_result_value) turning the same files into
    one row per measurement, in this process, on one core;
  * the parse limit: DuckDB's own `read_json` over the same result files (the list repeated once per
    copy), each file's `results` unnested to one row per value, with 1 and with 2 threads;
  * ours: raw ingest (Python + DuckDB) + the dbt build of fct_measurements, measured separately from
    the fixed start-up cost of dbt (run as its own process, as `datasmith materialize` runs it);
  * incremental: one new result file added to that warehouse, ingested and collated again;
  * peak RSS: of this process after the ingest, and of the dbt process.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FIXTURES = Path(os.environ.get("DATASMITH_FIXTURES", ROOT.parent / "shared" / "fixtures")).resolve()
SETS = ("django", "numpy", "conda", "photutils", "sympy-v1")
# One copy of the five sets is 293,810 rows in fct_measurements (measured).
ROWS_PER_COPY = 293_810

# The bare parse: every result file's `results` object read by DuckDB's JSON reader and unnested to
# one row per value (schema 2: the first column, a list; schema 1: a number, or an object's "result").
BARE_SQL = """
select count(*) as n_rows, count(value) as n_values from (
    select commit_hash, benchmark_entry.key as benchmark,
        unnest(coalesce(try_cast(case json_type(benchmark_entry.value)
                                     when 'ARRAY' then benchmark_entry.value -> 0
                                     when 'OBJECT' then benchmark_entry.value -> '$.result'
                                     else json_array(benchmark_entry.value) end as double[]),
                        [cast(null as double)])) as value
    from (select commit_hash, unnest(map_entries(results)) as benchmark_entry
          from read_json($files, columns = {'commit_hash': 'VARCHAR', 'results': 'MAP(VARCHAR, JSON)'},
                         format = 'unstructured', maximum_object_size = 268435456))
)
"""


def result_files() -> list[str]:
    from ingest.results import discover_files

    files = []
    for name in SETS:
        root = FIXTURES / "results" / name
        files += [str(root / f.relative_path) for f in discover_files(root) if f.kind == "result"]
    return files


CPU: dict[str, float] = {}


def bare_read_json(files: list[str], threads: int) -> tuple[int, float]:
    """Rows and seconds of DuckDB's own read_json over ``files``, unnested to one row per value."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"set threads = {threads}")
    started, cpu = time.perf_counter(), cpu_seconds()
    n_rows, _ = con.execute(BARE_SQL, {"files": files}).fetchone()
    seconds = time.perf_counter() - started
    con.close()
    CPU[f"bare{threads}"] = cpu_seconds() - cpu
    return n_rows, seconds


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


def dbt(args: list[str], db: Path) -> tuple[dict[str, float], float]:
    """Run dbt as its own process (as the Dagster dbt asset does); per-model seconds and the wall time."""
    dbt_bin = Path(sys.executable).parent / "dbt"
    started = time.perf_counter()
    outcome = subprocess.run(
        [str(dbt_bin), *args, "--quiet", "--project-dir", str(ROOT), "--profiles-dir", str(ROOT)],
        env={**os.environ, "DATASMITH_DB": str(db)},
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    if outcome.returncode != 0:
        raise SystemExit(f"dbt {' '.join(args)} failed:\n{outcome.stdout[-2000:]}{outcome.stderr[-2000:]}")
    results = json.loads((ROOT / "target" / "run_results.json").read_text())["results"]
    return {r["unique_id"].rsplit(".", 1)[-1]: r["execution_time"] for r in results}, wall


def cpu_seconds() -> float:
    """CPU seconds (user + system) of this process and its finished children so far: on a shared machine
    the work done, where wall seconds also count the waiting for a core."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def peak_rss_mib(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # Linux: KiB


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--min-rows", type=int, default=2_000_000)
    parser.add_argument(
        "--copies", type=int, default=None, help="copies of the five sets (default: enough for --min-rows)"
    )
    parser.add_argument(
        "--bare-threads",
        type=int,
        nargs="+",
        default=[1, 2],
        help="thread counts for the bare read_json (2 must be one)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the warehouse (its path is printed)")
    args = parser.parse_args()
    if not FIXTURES.exists():
        print(f"bench: no fixtures at {FIXTURES} (set DATASMITH_FIXTURES)")
        return 2
    if args.copies is not None and args.copies < 1:
        print("bench: --copies must be at least 1", file=sys.stderr)
        return 2
    if 2 not in args.bare_threads:
        print("bench: --bare-threads must include 2 (the target compares against it)", file=sys.stderr)
        return 2

    from assets.dbt_project import ensure_manifest
    from assets.resources import stage_ddl

    ensure_manifest()
    stage_ddl()  # imports every stage's package now, not inside the timed ingest (about 4 s, cold)
    copies = args.copies or -(-args.min_rows // ROWS_PER_COPY)
    work = Path(tempfile.mkdtemp(prefix="datasmith-bench-"))
    db = work / "bench.duckdb"

    try:
        return measure(args, copies, work, db)
    finally:
        if args.keep:
            print(f"warehouse kept: {db}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def measure(args: argparse.Namespace, copies: int, work: Path, db: Path) -> int:
    import duckdb

    from ingest.results import ingest_results_source
    from ingest.sources import ResultsSource
    from tests.support.warehouse import connect_writer

    sources = [
        ResultsSource(f"{name}-{i}", FIXTURES / "results" / name) for i in range(copies) for name in SETS
    ]
    # The source that will receive a new file lives in a scratch copy of the smallest set.
    growing = work / "growing"
    shutil.copytree(FIXTURES / "results" / "sympy-v1", growing)
    sources.append(ResultsSource("growing", growing))

    # Ours first, so that the peak RSS of this process is the ingest's.
    started, cpu = time.perf_counter(), cpu_seconds()
    with connect_writer(db) as con:
        for source in sources:
            ingest_results_source(con, source)
    ingest_seconds = time.perf_counter() - started
    CPU["ingest"] = cpu_seconds() - cpu
    cpu = cpu_seconds()
    ingest_rss = peak_rss_mib(resource.RUSAGE_SELF)

    timings, dbt_wall = dbt(["run", "--full-refresh", "--select", "+fct_measurements"], db)
    collate_seconds = sum(timings.values())
    CPU["dbt"] = cpu_seconds() - cpu  # the whole dbt process, its start-up included
    dbt_rss = peak_rss_mib(resource.RUSAGE_CHILDREN)
    con = duckdb.connect(str(db), read_only=True)
    total_rows = con.execute("select count(*) from fct_measurements").fetchone()[0]
    con.close()
    ours = ingest_seconds + collate_seconds

    # The parse limit: DuckDB's bare read_json over the same result files, as many times.
    files = result_files()
    bare = {threads: bare_read_json(files * copies, threads) for threads in sorted(set(args.bare_threads))}

    # Baseline: asv's loader over one copy of every set.
    # asv itself skips schema-1 files ("stored in an old file format"), so its rate is over the v2 ones.
    started, cpu = time.perf_counter(), cpu_seconds()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        asv_rows = sum(asv_loader_rows(FIXTURES / "results" / name) for name in SETS)
    asv_seconds = time.perf_counter() - started
    CPU["asv"] = cpu_seconds() - cpu
    asv_rate = asv_rows / asv_seconds

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
    incremental, incremental_dbt_wall = dbt(["run", "--select", "+fct_measurements"], db)
    incremental_seconds = incremental_ingest + sum(incremental.values())
    con = duckdb.connect(str(db), read_only=True)
    added = con.execute("select count(*) from fct_measurements").fetchone()[0] - total_rows
    con.close()
    if added <= 0:
        raise SystemExit("bench: the incremental run added no rows; its timing would mean nothing")
    startup = dbt_wall - collate_seconds

    print(f"warehouse: {copies} copies of {len(SETS)} sets -> {total_rows:,} rows in fct_measurements")
    print()
    print(f"{'step':<46} {'seconds':>9} {'rows/s':>12}")
    print(f"{'asv loader (baseline, one core, one copy)':<46} {asv_seconds:>9.2f} {asv_rate:>12,.0f}")
    for threads, (rows, seconds) in bare.items():
        label = f"DuckDB bare read_json, {threads} thread{'s' if threads > 1 else ''}"
        print(f"{label:<46} {seconds:>9.2f} {rows / seconds:>12,.0f}")
    print(f"{'ingest (raw.*)':<46} {ingest_seconds:>9.2f} {total_rows / ingest_seconds:>12,.0f}")
    print(
        f"{'collate (dbt models up to fct_measurements)':<46} {collate_seconds:>9.2f} {total_rows / collate_seconds:>12,.0f}"
    )
    print(f"{'ingest + collate':<46} {ours:>9.2f} {total_rows / ours:>12,.0f}")
    print(f"{'dbt start-up (fixed, per run)':<46} {startup:>9.2f}")
    print(
        f"{'incremental: one new file (ingest + models)':<46} {incremental_seconds:>9.2f}   (+{added} rows)"
    )
    print()
    print("collate by model (seconds): " + ", ".join(f"{k} {v:.2f}" for k, v in timings.items() if v >= 0.05))
    bare_rows, bare_seconds = bare[2]
    bare_rate = bare_rows / bare_seconds
    print(
        f"ours / DuckDB bare read_json (2 threads):    {(total_rows / ours) / bare_rate:6.2f}x  (target >= 0.80x)"
    )
    print(f"ours / asv loader:                           {(total_rows / ours) / asv_rate:6.2f}x")
    print(f"DuckDB bare read_json (2 threads) / asv:     {bare_rate / asv_rate:6.2f}x")
    print(f"incremental / full build (ingest+collate):   {incremental_seconds / ours:6.1%}  (target < 10%)")
    print(f"incremental dbt wall incl. start-up:         {incremental_dbt_wall:.2f} s")
    print(
        "CPU seconds (the work, robust to a shared machine), rows per CPU-second: "
        f"asv {CPU['asv']:.1f} s = {asv_rows / CPU['asv']:,.0f}; "
        f"bare read_json 2 threads {CPU['bare2']:.1f} s = {bare_rows / CPU['bare2']:,.0f}; "
        f"ours {CPU['ingest']:.1f} s ingest + {CPU['dbt']:.1f} s dbt (start-up included) = "
        f"{total_rows / (CPU['ingest'] + CPU['dbt']):,.0f}; ours / bare "
        f"{(total_rows / (CPU['ingest'] + CPU['dbt'])) / (bare_rows / CPU['bare2']):.2f}x"
    )
    print(f"peak RSS: ingest process {ingest_rss:,.0f} MiB, dbt process {dbt_rss:,.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What a warehouse holds, in a few lines, and what to do next (printed by `make demo`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb

from ingest.sources import db_path_from_env
from ingest.warehouse import connect_reader


def summarize(db_path: Path) -> str:
    con = connect_reader(db_path)
    try:
        lines = [f"Warehouse {db_path}"]
        rows = con.execute(
            """select source_name, source_kind, any_value(repo), count(distinct machine),
                      count(distinct commit_hash), count(distinct benchmark), count(*),
                      count(*) filter (where status = 'ok')
               from main.fct_measurements group by all order by all"""
        ).fetchall()
        lines.append(
            f"  {'source':<18} {'kind':<10} {'repo':<28} {'machines':>8} {'commits':>8} "
            f"{'benchmarks':>10} {'measurements':>12} {'ok':>10}"
        )
        for name, kind, repo, machines, commits, benchmarks, total, ok in rows:
            lines.append(
                f"  {name:<18} {kind:<10} {repo or '-':<28} {machines:>8} {commits:>8} "
                f"{benchmarks:>10} {total:>12} {ok:>10}"
            )
        quarantined = con.execute("select count(*) from raw.results_quarantine").fetchone()[0]
        lines.append(f"  quarantined files: {quarantined}")
        lines += _improvements(con)
    finally:
        con.close()
    lines += [
        "",
        "Next:",
        "  make dev     # dagster dev on this warehouse: the asset graph, runs and checks",
        "  make docs    # dbt docs: every model and column, with lineage",
        f"  .venv/bin/python -c \"import duckdb; print(duckdb.connect('{db_path}', read_only=True)"
        ".sql('select benchmark, params, count(*) from fct_measurements group by all order by 3 desc limit 5'))\"",
    ]
    return "\n".join(lines)


def _improvements(con) -> list[str]:
    """The improving commits detection found, when it has run."""
    try:
        rows = con.execute(
            """select left(commit_hash, 8), n_improved_series, round(max_speedup, 1), methods
               from main.fct_improving_commits order by commit_date"""
        ).fetchall()
    except duckdb.CatalogException:
        return ["  detection has not run: no improving commits yet"]
    lines = [f"  improving commits found: {len(rows)}"]
    lines += [
        f"    {commit}  {n} series improved, up to {speedup}x ({', '.join(methods)})"
        for commit, n, speedup, methods in rows[:10]
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", type=Path, default=None)
    args = parser.parse_args(argv)
    try:
        print(summarize((args.db or db_path_from_env()).resolve()))
    except FileNotFoundError as exc:
        print(f"datasmith: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Compare two warehouses table by table: the same relations and the same row counts, after renames.

The issue-15 redesign moved every file but was to change no data: `make demo` before and after must build
the same tables with the same rows, apart from the renamed relations listed in the README. This script
checks that: every relation of the old warehouse (its name mapped through RENAMES) must exist in the new
one with the same row count; relations only in the new warehouse are listed as added.

    python -m bench.compare_warehouses OLD.duckdb NEW.duckdb

Exit 0 when nothing was lost or changed in size, 1 otherwise (and the differences are printed).
"""

from __future__ import annotations

import argparse
import sys

import duckdb

# schema.relation before the redesign -> after (README, "Renamed in the redesign").
RENAMES = {
    "staging.stg_ingest__sources": "staging.stg_sources__source_registry",
    "staging.stg_dashboard__benchmarks": "staging.stg_dashboards__benchmarks",
    "staging.stg_dashboard__files": "staging.stg_dashboards__files",
    "staging.stg_dashboard__indexes": "staging.stg_dashboards__indexes",
    "staging.stg_dashboard__regressions": "staging.stg_dashboards__regressions",
    "staging.stg_dashboard__summary_series": "staging.stg_dashboards__summary_series",
    "staging.stg_agent__benchmarks": "staging.stg_dataset__agent_benchmarks",
    "staging.stg_agent__result_files": "staging.stg_dataset__agent_result_files",
    "staging.stg_agent__runs": "staging.stg_dataset__agent_runs",
    "staging.stg_runner__benchmark_runs": "staging.stg_benchmark_runner__benchmark_runs",
    "intermediate.int_dashboard__commits": "intermediate.int_dashboards__commits",
    "intermediate.int_dashboard__measurements": "intermediate.int_dashboards__measurements",
    "intermediate.int_dashboard__param_combinations": "intermediate.int_dashboards__param_combinations",
    "intermediate.int_series__points": "main.fct_series_points",
    "intermediate.int_replication__set_pairs": "main.fct_replication_set_pairs",
    "intermediate.int_replication__pairs": "main.fct_replication_pairs",
    "intermediate.int_github__merged_commits": "main.fct_merged_commits",
    "intermediate.int_dataset__workloads": "main.fct_task_workloads",
    "intermediate.int_dataset__agent_runs": "main.fct_agent_runs",
    "intermediate.int_dataset__agent_measurements": "main.fct_agent_measurements",
    "main.repos_valid": "main.dim_repositories",
    "main.repos_dropped": "main.dim_dropped_repositories",
    "main.commits_filtered": "main.fct_core_commits",
    "main.commits_dropped": "main.fct_dropped_commits",
}


def relation_rows(path: str) -> dict[str, int]:
    """schema.relation -> row count, for every table and view of the warehouse."""
    con = duckdb.connect(path, read_only=True)
    try:
        names = con.execute(
            "select table_schema, table_name from information_schema.tables"
            " where table_catalog = current_database() order by 1, 2"
        ).fetchall()
        return {
            f"{schema}.{name}": con.execute(f'select count(*) from "{schema}"."{name}"').fetchone()[0]
            for schema, name in names
        }
    finally:
        con.close()


def compare(old: dict[str, int], new: dict[str, int]) -> tuple[list[str], list[str]]:
    """(problems, added): old relations missing or of another size in new; new relations nobody maps to."""
    problems, mapped = [], set()
    for name, rows in sorted(old.items()):
        target = RENAMES.get(name, name)
        mapped.add(target)
        if target not in new:
            problems.append(f"{name}: missing in the new warehouse (looked for {target})")
        elif new[target] != rows:
            problems.append(f"{name} -> {target}: {rows} rows before, {new[target]} after")
    return problems, sorted(set(new) - mapped)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new")
    args = parser.parse_args(argv)
    old, new = relation_rows(args.old), relation_rows(args.new)
    problems, added = compare(old, new)
    same = len(old) - len(problems)
    print(f"{len(old)} relations before, {len(new)} after; {same} with the same rows (renames followed)")
    for name in added:
        print(f"added: {name} ({new[name]} rows)")
    for problem in problems:
        print(f"DIFFERENT: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

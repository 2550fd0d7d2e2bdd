"""`datasmith score`: an optimizer's speed-ups against the human's, from the warehouse.

Prints fct_agent_scores (FormulaCode's advantage per agent run and level: parameter, function, class,
module, overall) and, with --workloads, fct_agent_workloads (s_agent, s_human and the advantage per
workload). The agent runs come from the sources file's `dataset: agent_results:` section, loaded and scored by
`datasmith materialize`.

A run writing the warehouse holds its writer lock, and DuckDB refuses readers meanwhile: the score waits
for the lock (up to --wait seconds, saying so) and reads between writes; when the wait is over it exits 1
with one line.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from ingest.sources import db_path_from_env
from ingest.warehouse import WarehouseLockTimeout, connect_reader, writer_lock

LEVELS = ("parameter", "function", "class", "module", "overall")


def add_score_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db", type=Path, help="warehouse file (default: $DATASMITH_DB or artifacts/warehouse.duckdb)"
    )
    parser.add_argument("--task", help="only agent runs on this task id")
    parser.add_argument("--agent", action="append", help="only this agent_results entry (repeatable)")
    parser.add_argument("--workloads", action="store_true", help="also print every workload's speed-ups")
    parser.add_argument(
        "--wait",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="how long to wait for a run that is writing the warehouse (default 60)",
    )


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def format_table(header: list[str], rows: list[tuple]) -> str:
    cells = [header, *[[_fmt(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def score_rows(con: duckdb.DuckDBPyConnection, task: str | None, agents: list[str] | None) -> list[tuple]:
    """One row per agent run: its task, workloads scored and the advantage at every level."""
    pivot = ", ".join(f"max(advantage) filter (where level = '{level}') as {level}" for level in LEVELS)
    return con.execute(
        f"""select agent_name, task_id, max(n_workloads) filter (where level = 'overall') as n_workloads,
                   max(gmean_s_agent) filter (where level = 'overall') as s_agent,
                   max(gmean_s_human) filter (where level = 'overall') as s_human, {pivot}
            from main.fct_agent_scores
            where ($task is null or task_id = $task) and ($agents is null or list_contains($agents, agent_name))
            group by agent_name, task_id
            order by task_id, overall desc, agent_name""",
        {"task": task, "agents": agents},
    ).fetchall()


def workload_rows(con: duckdb.DuckDBPyConnection, task: str | None, agents: list[str] | None) -> list[tuple]:
    return con.execute(
        """select agent_name, benchmark, params, machine, base_time, agent_time, s_agent, s_human, advantage, status
           from main.fct_agent_workloads
           where ($task is null or task_id = $task) and ($agents is null or list_contains($agents, agent_name))
           order by agent_name, benchmark, params""",
        {"task": task, "agents": agents},
    ).fetchall()


@contextmanager
def _between_writes(db: Path, wait_s: float) -> Iterator[None]:
    """Hold the writer lock while reading, so no run writes meanwhile; say so when waiting for one."""
    try:
        with writer_lock(db, timeout_s=0):
            yield
        return
    except WarehouseLockTimeout:
        pass
    print(f"datasmith: waiting up to {wait_s:.0f} s for the run writing {db} to finish", file=sys.stderr)
    with writer_lock(db, timeout_s=wait_s):
        yield


def run_score(args: argparse.Namespace) -> int:
    db = Path(args.db) if args.db else db_path_from_env()
    if not db.exists():
        connect_reader(db)  # FileNotFoundError, saying how to build it, before any lock file is made
    wait_s = getattr(args, "wait", 60.0)
    try:
        with _between_writes(db, wait_s):
            return _print_scores(args, db)
    except WarehouseLockTimeout:
        print(
            f"datasmith: {db} is being written by another run (for over {wait_s:.0f} s): "
            "retry when it is done, or pass --wait SECONDS",
            file=sys.stderr,
        )
        return 1
    except duckdb.IOException as exc:  # a process outside DataSmith has the file open for writing
        print(f"datasmith: cannot read {db}: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1


def _print_scores(args: argparse.Namespace, db: Path) -> int:
    con = connect_reader(db)
    try:
        present = con.execute(
            "select count(*) from information_schema.tables where table_schema = 'main' and table_name = 'fct_agent_scores'"
        ).fetchone()[0]
        if not present:
            print(f"datasmith: {db} has no fct_agent_scores: run `datasmith materialize` first")
            return 2
        rows = score_rows(con, args.task, args.agent)
        if not rows:
            print("no agent results scored" + (f" for task {args.task}" if args.task else "") +
                  ": list them under `dataset: agent_results:` in the sources file and run `datasmith materialize`")  # fmt: skip
            return 1
        print("FormulaCode advantage, (s_agent - s_human) / sqrt(2), by level (0 = as fast as the human):")
        print(format_table(["agent", "task", "workloads", "gmean s_agent", "gmean s_human", *LEVELS], rows))
        if args.workloads:
            print()
            print(
                format_table(
                    ["agent", "benchmark", "params", "machine", "base", "agent time", "s_agent", "s_human",
                     "advantage", "status"],
                    workload_rows(con, args.task, args.agent),
                )
            )  # fmt: skip
        return 0
    finally:
        con.close()

"""The warehouse side of a run: the one writer loads what the jobs wrote to files.

A run's result files are an asv results tree, so they go through the existing results ingestion as the
source ``run.<owner>.<name>.<machine>`` (source_kind 'results'; the source is registered in
raw.source_registry with its repo so fct_measurements names it). Each job record becomes one row of
raw.benchmark_runs, once (keyed on run_id), with its provenance.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from benchmark_runner.ddl import BENCHMARK_RUNS_DDL
from benchmark_runner.store import read_records
from ingest.results import IngestReport, ingest_results_source
from ingest.sources import ResultsSource

__all__ = ["BENCHMARK_RUNS_DDL", "filtered_commits", "ingest_run_outputs", "measured_in_warehouse"]

Progress = Callable[[str], None]


@dataclass
class RunIngestReport:
    source_name: str
    runs_loaded: int
    results: IngestReport | None

    def summary(self) -> str:
        results = self.results.summary() if self.results else f"{self.source_name}: no results yet"
        return f"{results}; {self.runs_loaded} job records loaded"


def register_run_source(con: duckdb.DuckDBPyConnection, source: ResultsSource) -> bool:
    latest = con.execute(
        """select source_kind, location, repo from raw.source_registry where source_name = ?
           order by registered_at desc limit 1""",
        [source.name],
    ).fetchone()
    if latest == (source.kind, source.location, source.repo):
        return False
    now = datetime.now(UTC).replace(tzinfo=None)
    con.execute(
        "insert into raw.source_registry values (?, ?, ?, ?, ?)",
        [source.name, source.kind, source.location, source.repo, now],
    )
    return True


def ingest_run_outputs(
    con: duckdb.DuckDBPyConnection,
    source_name: str,
    source_dir: Path,
    repo: str,
    progress: Progress | None = None,
) -> RunIngestReport:
    """Load one run source's results tree and job records; loads nothing twice."""
    source_dir = Path(source_dir).resolve()
    con.execute(
        BENCHMARK_RUNS_DDL
    )  # also in the WarehouseResource's DDL; here so a bare connection works too
    results = None
    tree = source_dir / "results"
    if tree.is_dir():
        source = ResultsSource(name=source_name, path=tree, repo=repo)
        register_run_source(con, source)
        results = ingest_results_source(con, source, progress=progress)
    return RunIngestReport(source_name, load_job_records(con, source_dir), results)


def load_job_records(con: duckdb.DuckDBPyConnection, source_dir: Path) -> int:
    known = {row[0] for row in con.execute("select run_id from raw.benchmark_runs").fetchall()}
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = []
    for path, data, r in read_records(source_dir):
        if r.get("run_id") in known:
            continue
        rows.append(
            [
                r["run_id"], r["source_name"], r["repo"], r["commit"], r["status"], r["machine"], r["env_name"],
                json.dumps(r["asv_args"]), r["asv_args_hash"], _ts(r.get("started_at")), _ts(r.get("finished_at")),
                r.get("env_build_seconds"), r.get("benchmark_seconds"), r.get("install_seconds"),
                r.get("exit_code"), r.get("slot"), ",".join(str(c) for c in r.get("cores") or []),
                str(source_dir / r["log_path"]) if r.get("log_path") else None, str(source_dir / "results"),
                json.dumps(r.get("results_paths") or []), r.get("message") or "",
                str(path), hashlib.sha256(data).hexdigest(), now, *_sampling_columns(r.get("sampling")),
            ]
        )  # fmt: skip
    if rows:
        con.executemany(
            f"insert into raw.benchmark_runs ({', '.join(RUN_COLUMNS)}) values ({', '.join('?' * len(rows[0]))})",
            rows,
        )
    return len(rows)


RUN_COLUMNS = (
    "run_id", "source_name", "repo", "commit_hash", "status", "machine", "env_name", "asv_args", "asv_args_hash",
    "started_at", "finished_at", "env_build_seconds", "benchmark_seconds", "install_seconds", "exit_code", "slot",
    "cores", "log_path", "results_path", "result_files", "message", "record_path", "sha256", "loaded_at",
    "sampling_settings", "sampling_noise",
)  # fmt: skip


def _sampling_columns(sampling: dict | None) -> tuple[str | None, str | None]:
    """A record's noise-aware sampling as (settings JSON, the rest as JSON); (None, None) without it."""
    if not sampling:
        return None, None
    rest = {k: v for k, v in sampling.items() if k != "settings"}
    return json.dumps(sampling.get("settings"), sort_keys=True), json.dumps(rest, sort_keys=True)


def _ts(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text).astimezone(UTC).replace(tzinfo=None) if text else None


def measured_in_warehouse(
    con: duckdb.DuckDBPyConnection, source_name: str, env_name: str, args_hash: str
) -> set[str]:
    """Commits the warehouse already holds an `ok` job for (same source = repo + machine, env, args)."""
    rows = con.execute(
        """select distinct commit_hash from raw.benchmark_runs
           where source_name = ? and env_name = ? and asv_args_hash = ? and status = 'ok'""",
        [source_name, env_name, args_hash],
    ).fetchall()
    return {row[0] for row in rows}


def filtered_commits(con: duckdb.DuckDBPyConnection, repo: str, latest: int) -> list[str]:
    """The latest ``latest`` commits of ``repo`` in the `fct_core_commits` mart (GitHub stage), oldest first."""
    exists = con.execute(
        "select count(*) from information_schema.tables where table_name = 'fct_core_commits'"
    ).fetchone()[0]
    if not exists:
        raise LookupError(
            "the warehouse has no fct_core_commits table yet: materialise the GitHub stage first, "
            "or list the commits explicitly with 'commits:'"
        )
    columns = {
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns where table_name = 'fct_core_commits'"
        ).fetchall()
    }
    order = next((c for c in ("merged_at", "committed_at", "commit_date", "date") if c in columns), None)
    order_sql = f"{order} desc nulls last, commit_sha" if order else "commit_sha"
    rows = con.execute(
        f"select commit_sha from fct_core_commits where repo_name = ? order by {order_sql} limit ?",
        [repo, latest],
    ).fetchall()
    return [row[0] for row in reversed(rows)]

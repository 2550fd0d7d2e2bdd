"""A Python API over the warehouse (read-only): the dataset's tasks, their workloads, reports and series.

    from dataset import Dataset

    with Dataset.open("artifacts/warehouse.duckdb") as ds:
        for task in ds.tasks(repo="datasmith-demo/fastfuncs", min_speedup=100):
            print(task.task_id, task.max_speedup)
            task.workloads            # pandas DataFrame, one row per improved workload
            task.report               # the Markdown report
            task.series("bench_core.time_fib")   # pandas DataFrame of the measured points around it
            task.profile_deltas       # where the time went: functions whose cumulative time changed most
            task.profile              # asv's cProfile rows of the improved benchmarks, before and after

It reads fct_tasks, fct_commit_reports, dim_series, fct_series_points, fct_profiles and
fct_task_profile_deltas through
ingest.warehouse.connect_reader, so it needs no folder layout and never writes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from ingest.warehouse import connect_reader

TASKS_SQL = """
select
    coalesce(reports.task_id, tasks.commit_task_id) as task_id,
    tasks.commit_task_id, tasks.repo, tasks.commit_hash, tasks.commit_before, tasks.commit_date,
    tasks.n_workloads, tasks.median_speedup, tasks.max_speedup, tasks.source, tasks.source_names,
    reports.pr_number, reports.pr_title, reports.pr_merged_at, reports.pr_base_sha
from main.fct_tasks as tasks
left join main.fct_commit_reports as reports on reports.commit_task_id = tasks.commit_task_id
where ($repo is null or tasks.repo = $repo)
  and ($min_speedup is null or tasks.max_speedup >= $min_speedup)
  and ($source is null or tasks.source = $source)
  and ($task_id is null or $task_id in (reports.task_id, tasks.commit_task_id))
order by tasks.repo, tasks.commit_date, tasks.commit_hash
"""


@dataclass
class Task:
    """One task: a commit that made workloads faster. Heavier fields load on first use."""

    dataset: Dataset = field(repr=False)
    task_id: str
    commit_task_id: str
    repo: str
    commit_hash: str
    commit_before: str
    commit_date: object
    n_workloads: int
    median_speedup: float
    max_speedup: float
    source: str
    source_names: list[str]
    pr_number: int | None
    pr_title: str | None
    pr_merged_at: object
    pr_base_sha: str | None

    @property
    def base_commit(self) -> str:
        """Where an optimizer starts: the pull request's base, else the last measured commit before."""
        return self.pr_base_sha or self.commit_before

    @property
    def workloads(self) -> pd.DataFrame:
        return self.dataset._frame(
            """select w.benchmark, w.params, w.machine, w.env_name, w.unit, w.before, w.after, w.speedup,
                      w.significance, w.method, w.source_kind, w.series_id
               from main.fct_tasks, unnest(workloads) as u(w)
               where commit_task_id = $id
               order by w.speedup desc""",
            id=self.commit_task_id,
        )

    @property
    def report(self) -> str | None:
        row = self.dataset._one(
            "select report_markdown from main.fct_commit_reports where commit_task_id = $id",
            id=self.commit_task_id,
        )
        return row[0] if row else None

    @property
    def patch(self) -> str | None:
        row = self.dataset._one(
            "select patch from main.fct_commit_reports where commit_task_id = $id", id=self.commit_task_id
        )
        return row[0] if row else None

    @property
    def profile(self) -> pd.DataFrame:
        """asv's cProfile of the task's improved benchmarks at the commit before (`which` = 'before') and
        at the commit ('after'): one row per profile x function, as pstats reads it (fct_profiles); empty
        when none was collected. Times in seconds."""
        return self.dataset._frame_or_empty(
            """select case when p.commit_hash = $commit then 'after' else 'before' end as which,
                      p.benchmark, p.source_name, p.machine, p.env_name, p.commit_hash, p.function_file,
                      p.function_line, p.function_name, p.function_path, p.function_label, p.primitive_calls,
                      p.total_calls, p.total_time, p.cumulative_time, p.profile_total_time, p.cumulative_share
               from main.fct_profiles as p
               where lower(p.repo) = lower($repo) and p.commit_hash in ($commit, $before)
                 and p.benchmark in (select w.benchmark from main.fct_tasks, unnest(workloads) as u(w)
                                     where commit_task_id = $id)
               order by p.benchmark, which, p.source_name, p.machine, p.cumulative_time desc, p.function_label""",
            ("which", "benchmark", "function_label"),
            id=self.commit_task_id, repo=self.repo, commit=self.commit_hash, before=self.commit_before,
        )  # fmt: skip

    @property
    def profile_deltas(self) -> pd.DataFrame:
        """Where the time went (fct_task_profile_deltas): per improved benchmark, the functions whose
        cumulative time changed most between the commit before and the commit, biggest change first
        (change_rank 1); empty when the task has no profiles. Times in seconds."""
        return self.dataset._frame_or_empty(
            """select benchmark, function_label, function_path, function_name, function_line, calls_before,
                      calls_after, self_before, self_after, cumulative_before, cumulative_after,
                      cumulative_change, share_before, share_after, change_rank, source_name, machine, env_name
               from main.fct_task_profile_deltas where commit_task_id = $id
               order by speedup desc, benchmark, change_rank""",
            ("benchmark", "function_label", "cumulative_change", "change_rank"),
            id=self.commit_task_id,
        )  # fmt: skip

    def series(self, benchmark: str, params: str | None = None, machine: str | None = None) -> pd.DataFrame:
        """Every measured point of the task's series of `benchmark` (optionally one params/machine), in
        series order, with `is_after_change` marking the points from the improving commit on."""
        frame = self.dataset._frame(
            """with chosen as (
                   select distinct w.series_id
                   from main.fct_tasks, unnest(workloads) as u(w)
                   where commit_task_id = $id and w.benchmark = $benchmark
                     and ($params is null or w.params = $params) and ($machine is null or w.machine = $machine)
               ),
               change as (
                   select p.series_id, min(p.position) as position_after
                   from main.fct_series_points as p join chosen using (series_id)
                   where p.commit_hash = $commit group by p.series_id
               )
               select s.source_name, s.machine, s.env_name, s.benchmark, s.params, p.position, p.commit_hash,
                      p.revision, p.commit_date, p.value, s.unit, p.position >= change.position_after as is_after_change
               from chosen
               join main.dim_series as s using (series_id)
               join main.fct_series_points as p using (series_id)
               left join change using (series_id)
               order by s.machine, s.params, p.position""",
            id=self.commit_task_id, benchmark=benchmark, params=params, machine=machine, commit=self.commit_hash,
        )  # fmt: skip
        if frame.empty and benchmark not in set(self.workloads["benchmark"]):
            raise KeyError(f"task {self.task_id} did not improve {benchmark!r}; see task.workloads")
        return frame


class Dataset:
    """The tasks in one warehouse file (opened read-only)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path):
        self._con = con
        self.path = path

    @classmethod
    def open(cls, db: str | os.PathLike) -> Dataset:
        path = Path(db)
        con = connect_reader(path)
        missing = {"fct_tasks", "fct_commit_reports"} - {
            r[0] for r in con.execute("select table_name from information_schema.tables where table_schema = 'main'").fetchall()
        }  # fmt: skip
        if missing:
            con.close()
            raise FileNotFoundError(
                f"{path} has no {', '.join(sorted(missing))}: run `datasmith materialize` first"
            )
        return cls(con, path)

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> Dataset:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def tasks(
        self, repo: str | None = None, min_speedup: float | None = None, source: str | None = None
    ) -> list[Task]:
        """Tasks, oldest first; filtered by repository (owner/name), by max speed-up at least
        min_speedup, and by source ('results' or 'dashboard')."""
        return self._tasks(repo=repo, min_speedup=min_speedup, source=source, task_id=None)

    def task(self, task_id: str) -> Task:
        found = self._tasks(repo=None, min_speedup=None, source=None, task_id=task_id)
        if not found:
            raise KeyError(f"no task {task_id!r} in {self.path}")
        return found[0]

    def to_pandas(self) -> pd.DataFrame:
        """Every task, one row each (the export's columns without patch and report)."""
        return self._frame(TASKS_SQL, repo=None, min_speedup=None, source=None, task_id=None)

    def _tasks(self, **params) -> list[Task]:
        cursor = self._con.execute(TASKS_SQL, params)
        names = [d[0] for d in cursor.description]
        return [Task(self, **dict(zip(names, row, strict=True))) for row in cursor.fetchall()]

    def _frame(self, sql: str, **params) -> pd.DataFrame:
        return self._con.execute(sql, params).df()

    def _frame_or_empty(self, sql: str, columns: tuple[str, ...], **params) -> pd.DataFrame:
        """_frame, or an empty frame with ``columns`` when the warehouse predates the relations read."""
        try:
            return self._frame(sql, **params)
        except duckdb.CatalogException:
            return pd.DataFrame(columns=list(columns))

    def _one(self, sql: str, **params) -> tuple | None:
        return self._con.execute(sql, params).fetchone()

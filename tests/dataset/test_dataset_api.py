"""The Python API on a demo-built warehouse: tasks, filters, workloads, reports and series, read-only."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from dataset import Dataset
from tests.support.dataset_support import shared_demo_warehouse


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return shared_demo_warehouse(tmp_path_factory)


def query(db: Path, sql: str, *params) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def test_tasks_and_filters_match_the_improving_commits(demo):
    commits = dict(query(demo, "select commit_hash, max_speedup from main.fct_improving_commits"))
    with Dataset.open(demo) as ds:
        tasks = ds.tasks()
        assert {t.commit_hash: t.max_speedup for t in tasks} == pytest.approx(commits)
        assert [t.commit_hash for t in ds.tasks(repo="datasmith-demo/fastfuncs")] == [
            t.commit_hash for t in tasks
        ]
        assert ds.tasks(repo="someone/else") == []
        threshold = sorted(commits.values())[0] + 1
        fast = ds.tasks(min_speedup=threshold)
        assert {t.commit_hash for t in fast} == {c for c, s in commits.items() if s >= threshold}
        assert len(fast) == 1
        assert ds.task(fast[0].task_id).commit_hash == fast[0].commit_hash
        with pytest.raises(KeyError):
            ds.task("nope")
        frame = ds.to_pandas()
        assert isinstance(frame, pd.DataFrame) and len(frame) == len(tasks)


def test_workloads_report_and_series_come_from_the_marts(demo):
    with Dataset.open(demo) as ds:
        for task in ds.tasks():
            workloads = task.workloads
            expected = query(
                demo,
                """select distinct benchmark, params, machine from main.fct_performance_improvements
                   where commit_after = ?""",
                task.commit_hash,
            )
            assert sorted(
                workloads[["benchmark", "params", "machine"]].itertuples(index=False, name=None)
            ) == sorted(expected)
            assert len(workloads) == task.n_workloads
            assert task.report.startswith(f"# {task.repo}@{task.commit_hash[:8]}")
            assert task.base_commit == task.commit_before  # no pull request in the demo
            benchmark = workloads.iloc[0]["benchmark"]
            series = task.series(benchmark)
            points = query(
                demo,
                """select p.value from main.fct_series_points p join main.dim_series s using (series_id)
                   where s.benchmark = ? and s.source_name = 'sample' order by s.machine, s.params, p.position""",
                benchmark,
            )
            assert list(series["value"]) == [p[0] for p in points]
            # the change sits at the task's commit: every point from it on is marked, none before
            for _, one in series.groupby(["machine", "params"]):
                after = one[one["is_after_change"]]
                assert after["commit_hash"].iloc[0] == task.commit_hash
                assert after["value"].max() < one[~one["is_after_change"]]["value"].min()
            with pytest.raises(KeyError):
                task.series("bench_core.no_such_benchmark")


def test_the_api_never_writes(demo):
    before = demo.stat().st_mtime_ns
    with Dataset.open(demo) as ds:
        with pytest.raises(duckdb.Error):
            ds._con.execute("create table main.x (a int)")
        ds.tasks()
    assert demo.stat().st_mtime_ns == before


def test_a_missing_warehouse_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="datasmith materialize"):
        Dataset.open(tmp_path / "none.duckdb")

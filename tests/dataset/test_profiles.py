"""Profiles end to end, with real asv (slow): one `datasmith materialize` of the demo's results and a
benchmark_runner target on the toy repository with `profile:` on. The runner measures one commit, the
profiling pass runs `asv run --profile` on each task's top benchmark before and at the commit, the profiles
reach raw.asv_profiles, fct_profiles and fct_task_profile_deltas, the commit reports, the export and the
Python API. The oracle: every function row equals what asv's own reader (pstats) reads from the same file.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
import yaml

from tests.support.common import materialize
from tests.support.runner_support import REPO, SAMPLES, toy_repository

pytestmark = pytest.mark.slow

FIB_TASK = "datasmith-demo_fastfuncs_84667a78"


@pytest.fixture(scope="module")
def profiled(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("profiles_e2e")
    repo, config, shas = toy_repository(folder)
    sources = folder / "sources.yml"
    target = {
        "repo": REPO, "clone": str(repo), "asv_config": str(config), "machine": "ci-profile",
        "commits": [shas[5]], "jobs": 1, "work_dir": str(folder / "work"),
        "results_dir": str(folder / "runner"), "profile": {"top_workloads": 1},
    }  # fmt: skip
    results = [{"name": "sample", "path": str(SAMPLES / "results"), "repo": REPO}]
    sources.write_text(yaml.safe_dump({"results": results, "benchmark_runner": [target]}, sort_keys=False))
    db = folder / "warehouse.duckdb"
    assert materialize(sources, db) == 0
    return {"db": db, "folder": folder, "shas": shas}


def rows(db: Path, sql: str, *params) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def test_every_profiled_function_equals_what_asv_reads_from_the_result_file(profiled):
    from asv.results import Results

    root = profiled["folder"] / "runner" / "profiles"
    files = sorted(root.glob("*/*/results/*/*-*.json"))
    assert len(files) == 4  # two tasks x (before, at)
    checked = 0
    for path in files:
        stored = Results.load(str(path))
        relative = path.relative_to(root).as_posix()
        for benchmark in stored.get_result_keys(
            json.loads((path.parent.parent / "benchmarks.json").read_text())
        ):
            if not stored.has_profile(benchmark):
                continue
            expected = {k: v[:4] for k, v in stored.get_profile_stats(benchmark).stats.items()}
            loaded = rows(
                profiled["db"],
                """select function_file, function_line, function_name, primitive_calls, total_calls,
                          total_time, cumulative_time
                   from main.fct_profiles where file_path = ? and benchmark = ?""",
                relative,
                benchmark,
            )
            assert {(r[0], r[1], r[2]): tuple(r[3:]) for r in loaded} == expected
            checked += 1
    assert checked == 4


def test_the_fib_speedups_profile_names_the_recursive_fib_as_the_time_that_vanished(profiled):
    db = profiled["db"]
    deltas = rows(
        db,
        """select function_name, function_path, calls_before, calls_after, self_before, self_after,
                  cumulative_change, share_before, change_rank
           from main.fct_task_profile_deltas where commit_task_id = ? and benchmark = 'bench_core.time_fib'
           order by change_rank""",
        FIB_TASK,
    )
    by_name = {r[0]: r for r in deltas}
    fib = by_name["fib"]
    assert fib[1] == "fastfuncs/core.py"
    assert fib[2] > 1000 and fib[3] <= 4  # recursive before (fib(15) + fib(20)), a loop after
    assert fib[6] < 0 and fib[7] > 0.9  # it was nearly all of the profiled call, and its time is gone
    assert max(deltas, key=lambda r: r[4] - r[5])[0] == "fib"  # the most own time removed
    report = rows(
        db, "select report_markdown from main.fct_commit_reports where commit_task_id = ?", FIB_TASK
    )[0][0]
    assert "## Where the time went" in report
    assert "Most own time removed: `fastfuncs/core.py:" in report and "(fib)`" in report
    reports = profiled["folder"] / "reports"
    assert (reports / f"{FIB_TASK}.profile.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_export_and_the_api_carry_the_profiles(profiled):
    from dataset import Dataset

    table = pq.read_table(profiled["folder"] / "dataset" / "tasks.parquet").to_pylist()
    fib_row = next(r for r in table if r["task_id"] == FIB_TASK)
    assert any(
        d["function"].endswith("(fib)") and d["cumulative_change"] < 0 for d in fib_row["profile_deltas"]
    )
    card = (profiled["folder"] / "dataset" / "README.md").read_text()
    assert "| `profile_deltas` |" in card
    with Dataset.open(profiled["db"]) as ds:
        task = ds.task(FIB_TASK)
        assert "fib" in set(task.profile_deltas["function_name"])
        profile = task.profile
        assert set(profile["which"]) == {"before", "after"}
        assert set(profile["benchmark"]) == {"bench_core.time_fib"}


def test_profiling_cost_per_task(profiled):
    """The profiling pass against the timed run, from the runner's own job records (asv process seconds)."""
    runner = profiled["folder"] / "runner"
    timed = [json.loads(p.read_text()) for p in runner.glob("run.*/runs/*/*.json")]
    profile_jobs = [json.loads(p.read_text()) for p in runner.glob("profiles/*/run.*/runs/*/*.json")]
    assert [r["status"] for r in timed] == ["ok"]
    assert sorted(r["status"] for r in profile_jobs) == ["ok"] * 4
    per_commit = timed[0]["benchmark_seconds"]
    per_task = sum(r["benchmark_seconds"] for r in profile_jobs) / 2
    print(
        f"\nprofiling: {per_task:.1f} s per task (2 jobs) against {2 * per_commit:.1f} s of timed runs of "
        f"its 2 commits: {per_task / (2 * per_commit):.0%}"
    )
    assert per_task > 0

"""The benchmark runner end to end with the real asv: the demo's toy repository measured by two pinned
concurrent jobs through `datasmith materialize`, into fct_measurements, and detection finds the planted
speed-ups at the right commits (the oracle is samples/ground_truth.json, which the generator wrote)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from benchmark_runner import run_benchmarks
from benchmark_runner.cores import allocate_cores
from benchmark_runner.targets import target_settings
from ingest.sources import load_sources
from tests.support.common import materialize
from tests.support.common import read_rows as rows
from tests.support.runner_support import REPO, ground_truth, toy_repository, write_benchmarks_sources

pytestmark = pytest.mark.slow
# One round of three samples: asv calibrates `number` itself; the planted changes are 4x to 100x.
QUICK_ARGS = ["-a", "rounds=1", "-a", "repeat=3"]
SOURCE = "run.datasmith-demo.fastfuncs.e2e-box"


def test_runner_measures_ingests_and_detection_finds_the_speedup(tmp_path):
    repo, config, shas = toy_repository(tmp_path)
    truth = ground_truth()
    improvements = {
        (c["commit"], c["benchmark"], c["params"])
        for c in truth["changes"]
        if c["direction"] == "improvement"
    }
    speedup = truth["changes"][0]["commit"]  # distinct_count: a set instead of a list scan
    at = shas.index(speedup)
    first = shas[at - 1 : at + 2]  # before, at and after the speed-up
    target = {
        "repo": REPO, "clone": str(repo), "asv_config": str(config), "commits": first, "machine": "e2e-box",
        "jobs": 2, "cores_per_job": 1, "timeout_s": 300, "asv_args": QUICK_ARGS,
    }  # fmt: skip
    sources = write_benchmarks_sources(tmp_path, [target])
    db = tmp_path / "warehouse.duckdb"

    # 1. three commits, two concurrent jobs pinned to their own cores, into the warehouse (as far as the
    # measurements: detection and the dataset stage run whole in step 3, on all ten commits)
    assert (
        materialize(sources, db, "--select", "+key:main/fct_measurements or +key:main/fct_benchmark_runs")
        == 0
    )
    runs = rows(
        db,
        "select commit_hash, status, cores, env_build_seconds, started_at, finished_at from raw.benchmark_runs",
    )
    assert sorted((r[0], r[1]) for r in runs) == sorted((sha, "ok") for sha in first)
    assert {r[2] for r in runs} == {",".join(map(str, c)) for c in allocate_cores(2, 1)}
    assert sum(1 for r in runs if r[3] > 0) == 2  # one environment built per slot, reused for the third
    assert any(a[4] < b[5] and b[4] < a[5] for a in runs for b in runs if a is not b)  # they overlapped
    measured = rows(
        db,
        "select distinct commit_hash, source_kind, repo from fct_measurements where source_name = ?",
        SOURCE,
    )
    assert sorted(measured) == sorted((sha, "results", REPO) for sha in first)

    # 2. a second run skips all three
    assert materialize(sources, db, "--select", "group:benchmark_runner") == 0
    assert len(list((db.parent / "runner" / "results" / SOURCE / "runs").glob("*/*.json"))) == 3
    assert rows(db, "select count(*) from raw.benchmark_runs")[0][0] == 3

    # 3. the other commits; one given an impossible timeout ends `timeout`, the others finish
    settings = target_settings(load_sources(sources).benchmark_runner.targets[0], db)
    rest = [sha for sha in shas if sha not in first]
    report = run_benchmarks(replace(settings, commit_timeouts={rest[-1]: 0.5}), rest)
    assert {r.commit: r.status for r in report.records} == {
        sha: "timeout" if sha == rest[-1] else "ok" for sha in rest
    }
    assert materialize(sources, db) == 0
    assert rows(db, "select status, count(*) from raw.benchmark_runs group by all order by 1") == [
        ("ok", 9),
        ("timeout", 1),
    ]
    commits = {
        r[0]
        for r in rows(db, "select distinct commit_hash from fct_measurements where source_name = ?", SOURCE)
    }
    assert commits == set(shas) - {rest[-1]}

    # detection finds every planted speed-up, each at its own commit and nowhere else in its series
    found = set(
        rows(
            db,
            "select commit_after, benchmark, params from fct_performance_improvements where source_name = ? and method = 'rbf'",
            SOURCE,
        )
    )
    assert improvements <= found
    planted_series = {(b, p) for _, b, p in improvements}
    assert {f for f in found if (f[1], f[2]) in planted_series} == improvements
    assert speedup in {r[0] for r in rows(db, "select commit_hash from fct_improving_commits")}

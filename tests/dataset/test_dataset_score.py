"""The human-relative score on the demo: agents measured with real asv (samples/agent/), checked against
asv's own result loader, plus a failed agent, a folder without base measurements, and the CLI."""

from __future__ import annotations

import math
from pathlib import Path
from statistics import fmean, geometric_mean

import pytest
import yaml

from ingest.sources import SourcesError, load_sources
from tests.support.common import PROJECT_ROOT
from tests.support.common import read_records as rows
from tests.support.dataset_support import SCORE_BASE as BASE
from tests.support.dataset_support import SCORE_MACHINE as MACHINE
from tests.support.dataset_support import SCORE_TASK as TASK
from tests.support.dataset_support import shared_demo_warehouse

SAMPLES = PROJECT_ROOT / "samples"


@pytest.fixture(scope="module")
def scored(tmp_path_factory) -> Path:
    """The session's demo warehouse: the sample's results and dashboard, and four agent folders: the two
    measured ones (`demo-human-patch`, `demo-noop`), a copy of human-patch whose agent run failed (asv
    wrote null), and a copy of noop without the base's result file (demo_sources_with_score_agents)."""
    return shared_demo_warehouse(tmp_path_factory)


def asv_times(folder: Path) -> dict[str, dict[str, float]]:
    """commit -> {'n=15': time, ...} for time_fib, read by asv's own loader."""
    from asv.results import Results

    out: dict[str, dict[str, float]] = {}
    for path in (folder / MACHINE).glob("*-*.json"):
        result = Results.load(str(path), machine_name=MACHINE)
        (values,) = result.get_result_params("bench_core.time_fib")
        times = result.get_result_value("bench_core.time_fib", [values])
        out[result.commit_hash] = {f"n={v}": t for v, t in zip(values, times, strict=True)}
    return out


def task_speedups(db: Path) -> dict[str, float]:
    found = rows(
        db,
        "select w.params, w.speedup from main.fct_tasks, unnest(workloads) as u(w) where commit_task_id = ?",
        TASK,
    )
    return {r["params"]: r["speedup"] for r in found}


@pytest.mark.parametrize("agent", ["human-patch", "noop"])
def test_speedups_equal_asvs_own_reading_of_the_agent_folder(scored, agent):
    times = asv_times(SAMPLES / "agent" / agent)  # listed in samples/sources.yml as demo-<folder>
    base = times.pop(BASE)
    (agent_times,) = times.values()
    human = task_speedups(scored)
    got = {
        r["params"]: r
        for r in rows(scored, "select * from main.fct_agent_workloads where agent_name = ?", f"demo-{agent}")
    }
    assert set(got) == set(human) == {"n=15", "n=20"}
    for params, r in got.items():
        assert r["status"] == "ok" and r["base_time_from"] == "agent_folder"
        assert r["s_agent"] == pytest.approx(base[params] / agent_times[params], rel=1e-12)
        assert r["s_human"] == pytest.approx(human[params], rel=1e-12)
        assert r["advantage"] == pytest.approx((r["s_agent"] - r["s_human"]) / math.sqrt(2), rel=1e-12)


def test_the_humans_own_patch_scores_like_the_human_and_doing_nothing_scores_far_below(scored):
    by = {(r["agent_name"], r["params"]): r for r in rows(scored, "select * from main.fct_agent_workloads")}
    for params in ("n=15", "n=20"):
        same = by[("demo-human-patch", params)]
        # same code, measured in another run: the speed-up agrees with the human's to within noise
        assert same["s_agent"] / same["s_human"] == pytest.approx(1, abs=0.25)
        assert abs(same["advantage"]) < 0.25 * same["s_human"] / math.sqrt(2)
        idle = by[("demo-noop", params)]
        assert idle["s_agent"] == pytest.approx(1, abs=0.2)
        assert idle["advantage"] == pytest.approx((1 - idle["s_human"]) / math.sqrt(2), rel=0.01)


def test_levels_aggregate_as_formulacode_does(scored):
    workloads = rows(scored, "select * from main.fct_agent_workloads where s_agent is not null")
    scores = {(r["agent_name"], r["level"]): r for r in rows(scored, "select * from main.fct_agent_scores")}
    keys = {
        "parameter": lambda w: (w["benchmark"], w["params"], w["machine"]),
        "function": lambda w: w["benchmark"],
        "class": lambda w: w["benchmark"],  # time_fib is a module-level function: its own class group
        "module": lambda w: w["benchmark"].split(".")[0],
        "overall": lambda w: "all",
    }
    for agent in {w["agent_name"] for w in workloads}:
        mine = [w for w in workloads if w["agent_name"] == agent]
        for level, key in keys.items():
            groups: dict = {}
            for w in mine:
                groups.setdefault(key(w), []).append(w)
            expected = fmean(
                (geometric_mean([w["s_agent"] for w in g]) - geometric_mean([w["s_human"] for w in g]))
                / math.sqrt(2)
                for g in groups.values()
            )
            assert scores[(agent, level)]["advantage"] == pytest.approx(expected, rel=1e-9), (agent, level)
            assert scores[(agent, level)]["n_groups"] == len(groups)


def test_a_failed_agent_scores_the_threshold_and_a_folder_without_base_uses_the_warehouse(scored):
    failed = rows(scored, "select * from main.fct_agent_workloads where agent_name = 'failed'")
    assert len(failed) == 2  # resolved to the task by repository and base commit
    for r in failed:
        assert r["status"] == "agent_failed" and r["agent_time"] is None
        assert r["s_agent"] == r["threshold"] == 1.0
    no_base = rows(scored, "select * from main.fct_agent_workloads where agent_name = 'no-base'")
    warehouse = {
        r["params"]: r["v"]
        for r in rows(
            scored,
            """select params, median(value) as v from main.fct_measurements
               where commit_hash = ? and benchmark = 'bench_core.time_fib' and machine = ? and status = 'ok'
               group by params""",
            BASE,
            MACHINE,
        )
    }
    for r in no_base:
        assert r["base_time_from"] == "warehouse"
        assert r["base_time"] == pytest.approx(warehouse[r["params"]])


def test_agent_runs_stay_out_of_the_history(scored):
    agent_commits = {
        r["commit_hash"] for r in rows(scored, "select distinct commit_hash from main.fct_agent_measurements")
    }
    assert len(agent_commits) == 3  # base, human-patch, noop (the failed and no-base copies share them)
    history = {
        r["commit_hash"] for r in rows(scored, "select distinct commit_hash from main.fct_measurements")
    }
    assert agent_commits - {BASE} and not (agent_commits - {BASE}) & history
    assert {
        r["source_name"] for r in rows(scored, "select distinct source_name from main.fct_measurements")
    } == {"sample", "sample-dashboard"}  # the demo's two sources, no agent among them


def test_datasmith_score_prints_the_table(scored, capsys):
    from assets.cli import main

    assert main(["score", "--db", str(scored), "--workloads"]) == 0
    out = capsys.readouterr().out
    for agent in ("demo-human-patch", "demo-noop", "failed", "no-base"):
        assert agent in out
    assert "parameter" in out and "overall" in out and "agent_failed" in out
    assert main(["score", "--db", str(scored), "--task", "no_such_task"]) == 1
    assert main(["score", "--db", str(scored.parent / "missing.duckdb")]) == 2


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"name": "a", "path": "x"}, "needs either 'task_id' or both 'repo' and 'base_commit'"),
        ({"name": "a", "path": "x", "task_id": "t", "repo": "o/r", "base_commit": "abcdef1"}, "needs either"),
        ({"name": "a", "path": "x", "repo": "o/r"}, "needs either"),
        ({"name": "a", "path": "x", "task_id": "t", "pth": "y"}, "unknown key 'pth'"),
        ({"name": "a", "path": "x", "repo": "o/r", "base_commit": "zz"}, "must be a commit hash"),
        ({"name": "sample", "path": "x", "task_id": "t"}, "used twice"),
    ],
)
def test_bad_agent_results_entries_name_the_line(tmp_path, entry, message):
    file = tmp_path / "sources.yml"
    file.write_text(
        yaml.safe_dump(
            {"results": [{"name": "sample", "path": "r"}], "dataset": {"agent_results": [entry]}},
            sort_keys=False,
        )
    )
    with pytest.raises(SourcesError, match=message) as caught:
        load_sources(file)
    assert "line " in str(caught.value)


def test_the_demo_sources_list_the_measured_agents():
    entries = load_sources(SAMPLES / "sources.yml").dataset.agent_results
    assert {e.name for e in entries} == {"demo-human-patch", "demo-noop"}
    assert all(e.task_id == TASK and e.path.is_dir() for e in entries)

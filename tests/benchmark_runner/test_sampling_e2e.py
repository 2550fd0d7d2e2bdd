"""Noise-aware sampling with the real asv on the toy project, through `datasmith materialize`: the pilot
measures the noise, the chosen rounds/repeat reach asv (its result file holds that many samples), and the
choice is recorded in raw.benchmark_runs and fct_benchmark_runs."""

from __future__ import annotations

import json

import pytest
from asv.results import Results

from benchmark_runner.sampling import MIN_SAMPLES
from tests.support.common import materialize
from tests.support.common import read_rows as rows
from tests.support.runner_support import REPO, toy_repository, write_benchmarks_sources

pytestmark = pytest.mark.slow
SOURCE = "run.datasmith-demo.fastfuncs.tune-box"
TIMED = {
    "bench_core.DistinctCount.time_distinct_count",
    "bench_core.time_fib",
    "bench_core.time_sort_words",
    "bench_core.time_split_words",
}


def _sample_counts(result_file) -> dict[str, set[int]]:
    """Per timing benchmark: the sample counts asv recorded (stats `repeat` and the samples list)."""
    results = Results.load(str(result_file))
    counts = {}
    for key in TIMED:
        params = results.get_result_params(key)
        stats = results.get_result_stats(key, params)
        samples = results.get_result_samples(key, params)
        counts[key] = {s["repeat"] for s in stats} | {len(s) for s in samples}
    return counts


def test_pilot_picks_settings_asv_applies_them_and_the_warehouse_records_them(tmp_path):
    repo, config, shas = toy_repository(tmp_path)
    # one round of four samples in the pilot (a 99% CI of 4 samples is asv's Laplace fallback, so the chooser
    # takes what the budget allows, at most max_repeat); one round in the measurement
    sampling = {"precision": 0.02, "budget_seconds": 60, "pilot_rounds": 1, "pilot_repeat": 4, "min_rounds": 1,
                "max_repeat": 12}  # fmt: skip
    target = {
        "repo": REPO, "clone": str(repo), "asv_config": str(config), "commits": [shas[-1]],
        "machine": "tune-box", "timeout_s": 600, "sampling": sampling,
    }  # fmt: skip
    sources = write_benchmarks_sources(tmp_path, [target])
    db = tmp_path / "warehouse.duckdb"
    assert materialize(sources, db) == 0

    source_dir = db.parent / "runner" / "results" / SOURCE
    (choice_file,) = (source_dir / "sampling").glob("*.json")
    choice = json.loads(choice_file.read_text())
    rounds, repeat = choice["settings"]["rounds"], choice["settings"]["repeat"]
    assert rounds == 1 and MIN_SAMPLES <= repeat <= 12 and set(choice["noise"]) == TIMED
    # the pilot ran with its own settings: 4 samples per parameter set
    (pilot_file,) = choice["pilot"]["result_files"]
    assert set(map(frozenset, _sample_counts(pilot_file).values())) == {frozenset({4})}
    # the measurement ran with the chosen ones: asv recorded rounds x repeat samples for every parameter set
    (result_file,) = (source_dir / "results" / "tune-box").glob(f"{shas[-1][:8]}-*.json")
    assert set(map(frozenset, _sample_counts(result_file).values())) == {frozenset({rounds * repeat})}

    (run,) = rows(db, "select status, asv_args, sampling_settings, sampling_noise from raw.benchmark_runs")
    assert run[0] == "ok" and json.loads(run[1])[-4:] == ["-a", "rounds=1", "-a", f"repeat={repeat}"]
    assert json.loads(run[2]) == choice["settings"]
    noise = json.loads(run[3])
    assert set(noise["noise"]) == TIMED and noise["pilot"]["commit"] == shas[-1]
    (mart,) = rows(
        db, "select status, sampling_settings from fct_benchmark_runs where source_name = ?", SOURCE
    )
    assert mart[0] == "ok" and json.loads(mart[1]) == choice["settings"]

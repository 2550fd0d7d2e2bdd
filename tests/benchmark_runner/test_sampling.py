"""Noise-aware sampling (benchmark_runner/sampling.py): the noise read from real asv result files, the choice
of rounds/repeat, the pilot and the recorded choice with the stand-in asv, the sources keys. The real asv on the
toy project is in test_sampling_e2e.py."""

from __future__ import annotations

import json
import math
import os
import shutil
import textwrap
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest
from asv_runner.statistics import compute_stats

from benchmark_runner import run_benchmarks
from benchmark_runner.sampling import (
    MIN_SAMPLES,
    SamplingError,
    choice_path,
    choose,
    fixed_seconds,
    measure_noise,
    pilot_args,
    tuned_args,
    with_floor,
)
from benchmark_runner.settings import DEFAULT_ASV_ARGS, RunSettings
from benchmark_runner.targets import settings_for, warehouse_measured
from benchmark_runner.warehouse import ingest_run_outputs
from ingest.sources import SamplingSettings, SourcesError, load_sources
from tests.support.runner_support import REPO, SAMPLES, fake_asv, read_trace, toy_repository
from tests.support.warehouse import connect_writer

TOY_RESULT = SAMPLES / "results" / "datasmith-sample" / "0fca0084-virtualenv-py3.11.json"
FIXTURES = Path(
    os.environ.get("DATASMITH_FIXTURES", Path(__file__).resolve().parents[3] / "shared" / "fixtures")
)
DJANGO = FIXTURES / "results" / "django" / "results"
DJANGO_WITH_SAMPLES = DJANGO / "ubuntu-latest" / "01a4d8a3-conda-py3.10.json"  # 53 benchmarks x 10 samples
DJANGO_WITHOUT_SAMPLES = DJANGO / "windows-2022" / "fde6fb28-virtualenv-py3.10.json"
needs_fixtures = pytest.mark.skipif(not DJANGO.is_dir(), reason=f"no fixtures at {FIXTURES}")


# --- the noise, from asv's own numbers -------------------------------------------------------------


def test_noise_is_asvs_ci_and_iqr_of_the_widest_parameter_set():
    noise = {n.name: n for n in measure_noise(TOY_RESULT)}
    # only the timing benchmarks have samples (track_distinct_words and peakmem_split_words do not)
    assert sorted(noise) == [
        "bench_core.DistinctCount.time_distinct_count",
        "bench_core.time_fib",
        "bench_core.time_sort_words",
        "bench_core.time_split_words",
    ]
    raw = json.loads(TOY_RESULT.read_text())
    columns = raw["result_columns"]
    entry = dict(zip(columns, raw["results"]["bench_core.DistinctCount.time_distinct_count"], strict=False))
    widest = 0.0
    for samples, number in zip(entry["samples"], entry["stats_number"], strict=True):
        median, stats = compute_stats(samples, number)  # asv's own statistics, recomputed from the samples
        widest = max(widest, (stats["ci_99_b"] - stats["ci_99_a"]) / 2 / median)
    distinct = noise["bench_core.DistinctCount.time_distinct_count"]
    assert distinct.half_width == pytest.approx(widest, rel=1e-3)  # the file's stats are rounded to 5 digits
    assert (distinct.samples, distinct.param_sets, distinct.duration) == (10, 4, entry["duration"])
    # a sample's timed part: number x median, summed over the parameter sets
    timed = sum(n * v for n, v in zip(entry["stats_number"], entry["result"], strict=True))
    assert distinct.sample_seconds == pytest.approx(timed)


def test_the_floor_run_measures_what_a_sample_costs():
    """s_b and f_b from asv's durations of the pilot (R0 x r0 samples) and of the floor (R0 x 1)."""
    noise = measure_noise(TOY_RESULT)
    floor = {
        n.name: n.duration - 0.9 for n in noise
    }  # 0.9 s of the pilot's time came with its 2 x 9 extra samples
    floor["bench_core.time_sort_words"] += (
        0.9 + 5
    )  # a noisy floor slower than the pilot: the timed part stays
    measured = {n.name: n for n in with_floor(noise, floor, 2, 10)}
    distinct = measured["bench_core.DistinctCount.time_distinct_count"]
    assert distinct.sample_seconds == pytest.approx(0.9 / 18)
    assert distinct.fixed == pytest.approx(floor[distinct.name] / 2 - 0.9 / 18)
    assert fixed_seconds(distinct, 2, 10) == distinct.fixed
    sort = measured["bench_core.time_sort_words"]
    assert sort.sample_seconds == next(n.sample_seconds for n in noise if n.name == sort.name)


@needs_fixtures
def test_a_result_file_without_samples_is_a_clear_error():
    assert measure_noise(DJANGO_WITHOUT_SAMPLES) == []
    with pytest.raises(SamplingError, match="no timing samples"):
        choose([], pilot_rounds=2, pilot_repeat=5, precision=0.02, budget_seconds=60)


# --- the choice ---------------------------------------------------------------------------------------


def _predicted(noise, samples):
    return max(n.half_width * math.sqrt(n.samples / samples) for n in noise)


def _seconds(noise, rounds, repeat, pilot_rounds, pilot_repeat):
    return sum(
        rounds * fixed_seconds(n, pilot_rounds, pilot_repeat) + rounds * repeat * n.sample_seconds
        for n in noise
    )


def test_the_smallest_repeat_that_reaches_the_precision():
    noise = measure_noise(TOY_RESULT)
    choice = choose(noise, pilot_rounds=2, pilot_repeat=5, precision=0.02, budget_seconds=60)
    rounds, repeat = choice["settings"]["rounds"], choice["settings"]["repeat"]
    assert rounds == 2 and choice["reached"]
    assert _predicted(noise, rounds * repeat) <= 0.02 < _predicted(noise, rounds * (repeat - 1))
    assert choice["limiting_benchmark"] == "bench_core.DistinctCount.time_distinct_count"  # the noisiest
    assert choice["predicted_seconds"] == pytest.approx(_seconds(noise, rounds, repeat, 2, 5), abs=1e-3)
    assert choice["predicted_seconds"] <= 60
    # a looser target needs fewer samples, but never fewer than asv needs for a bounded 99% CI
    loose = choose(noise, pilot_rounds=2, pilot_repeat=5, precision=0.5, budget_seconds=60)
    assert loose["settings"]["rounds"] * loose["settings"]["repeat"] == MIN_SAMPLES
    assert loose["predicted_seconds"] < choice["predicted_seconds"]


@needs_fixtures
def test_the_budget_caps_repeat_and_says_the_precision_is_not_reached():
    noise = measure_noise(DJANGO_WITH_SAMPLES)
    assert len(noise) == 53 and {n.samples for n in noise} == {10}
    choice = choose(noise, pilot_rounds=2, pilot_repeat=5, precision=0.02, budget_seconds=600)
    repeat = choice["settings"]["repeat"]
    assert not choice["reached"] and choice["predicted_half_width"] > 0.02
    assert _seconds(noise, 2, repeat, 2, 5) <= 600 < _seconds(noise, 2, repeat + 1, 2, 5)
    # a budget too small for a bounded CI still gets the fewest samples that bound it, and says so
    tiny = choose(noise, pilot_rounds=2, pilot_repeat=5, precision=0.02, budget_seconds=1)
    assert tiny["settings"]["rounds"] * tiny["settings"]["repeat"] == MIN_SAMPLES and tiny["over_budget"]
    assert not choice["over_budget"]
    # with room enough, the same noise reaches +-5%
    roomy = choose(noise, pilot_rounds=2, pilot_repeat=5, precision=0.05, budget_seconds=6000)
    assert roomy["reached"] and roomy["predicted_half_width"] <= 0.05 and roomy["predicted_seconds"] < 6000


def test_asv_arguments_of_the_pilot_and_of_the_tuned_runs():
    assert pilot_args(DEFAULT_ASV_ARGS, 2, 10) == ["--record-samples", "-a", "rounds=2", "-a", "repeat=10"]
    base = ("--interleave-rounds", "-a", "rounds=4", "--attribute", "number=3", "-e", "--attribute=repeat=9")
    assert tuned_args(base, {"rounds": 2, "repeat": 30, "number": 0}) == (
        "--interleave-rounds", "-e", "-a", "rounds=2", "-a", "repeat=30",
    )  # fmt: skip
    assert tuned_args((), {"rounds": 1, "repeat": 8, "number": 0, "warmup_time": 0.05})[-2:] == (
        "-a",
        "warmup_time=0.05",
    )


# --- the pilot and the record, with the stand-in asv (it copies the sample's real result files) -------------


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return toy_repository(tmp_path_factory.mktemp("toy"))


def test_pilot_chooses_runs_record_and_a_rerun_reuses_the_choice(tmp_path, toy, monkeypatch):
    repo, config, shas = toy
    trace = fake_asv(tmp_path, monkeypatch)
    settings = RunSettings(
        repo=REPO, repository=str(repo), asv_config=config, machine="fake-box", work_dir=tmp_path / "work",
        results_dir=tmp_path / "out", timeout_s=60, sampling=SamplingSettings(precision=0.05, budget_seconds=30),
    )  # fmt: skip
    report = run_benchmarks(settings, shas[-3:])
    runs = [t["args"] for t in read_trace(trace)]
    # the pilot and its floor first, on the newest commit, recording samples; then every commit as chosen
    assert runs[0][1] == runs[1][1] == f"{shas[-1]}^!" and "--record-samples" in runs[0]
    assert runs[0][-4:] == ["-a", "rounds=2", "-a", "repeat=10"]
    assert runs[1][-4:] == ["-a", "rounds=2", "-a", "repeat=1"]
    choice = json.loads(choice_path(settings).read_text())
    sample = SAMPLES / "results" / "datasmith-sample" / f"{shas[-1][:8]}-virtualenv-py3.11.json"
    pilot = measure_noise(sample)
    # the stand-in's floor is the same file: no extra time measured, so a sample costs its timed part
    noise = with_floor(pilot, {n.name: n.duration for n in pilot}, 2, 10)
    assert [n.as_json() for n in noise] == list(choice["noise"].values())
    expected = choose(noise, pilot_rounds=2, pilot_repeat=10, precision=0.05, budget_seconds=30,
                      other_seconds=_untimed(sample))  # fmt: skip
    assert choice["settings"] == expected["settings"]
    tuned = ["-a", f"rounds={choice['settings']['rounds']}", "-a", f"repeat={choice['settings']['repeat']}"]
    assert len(runs) == 5 and all(r[-4:] == tuned for r in runs[2:])
    assert all(r.status == "ok" and r.sampling["settings"] == choice["settings"] for r in report.records)

    # into raw.benchmark_runs: the settings and the pilot's noise with every job
    db = tmp_path / "w.duckdb"
    with connect_writer(db) as con:
        assert ingest_run_outputs(con, report.source_name, report.source_dir, REPO).runs_loaded == 3
        rows = con.execute("select sampling_settings, sampling_noise from raw.benchmark_runs").fetchall()
    assert {json.loads(r[0])["repeat"] for r in rows} == {choice["settings"]["repeat"]}
    noise = json.loads(rows[0][1])
    assert set(noise["noise"]) == set(expected["needed_samples"]) and noise["pilot"]["commit"] == shas[-1]
    assert noise["choice"]["precision"] == 0.05

    # a second run reuses the kept choice (no pilot) and skips what it measured, in the files and the warehouse
    again = run_benchmarks(settings, shas[-3:])
    assert len(read_trace(trace)) == 5 and sorted(again.skipped) == sorted(shas[-3:])
    assert warehouse_measured(settings, db) == set(shas[-3:])
    # another precision is another choice, from the same pilot (not run again); its commits are measured again
    other = replace(settings, sampling=SamplingSettings(precision=0.5, budget_seconds=30))
    assert warehouse_measured(other, db) == set()
    run_benchmarks(other, shas[-1:])
    loose = json.loads(choice_path(other).read_text())
    assert loose["settings"]["repeat"] < choice["settings"]["repeat"] and loose["noise"] == choice["noise"]
    assert len(read_trace(trace)) == 6
    # other pilot samples are another measurement: a new pilot and floor
    run_benchmarks(replace(settings, sampling=SamplingSettings(precision=0.05, pilot_repeat=5)), shas[-1:])
    assert [t["args"][-1] for t in read_trace(trace)[6:8]] == ["repeat=5", "repeat=1"]


def _untimed(result_file: Path) -> float:
    """The pilot's seconds in benchmarks without samples (track_, peakmem_)."""
    data = json.loads(result_file.read_text())
    index = data["result_columns"].index("duration")
    timed = {"time_distinct_count", "time_fib", "time_sort_words", "time_split_words"}
    # pilot_rounds = min_rounds = 2: the per-round seconds x rounds is the pilot's own sum
    return sum(v[index] for k, v in data["results"].items() if k.rsplit(".", 1)[-1] not in timed)


def test_a_failed_pilot_ends_the_run_with_its_reason(tmp_path, toy, monkeypatch):
    repo, config, shas = toy
    fake_asv(tmp_path, monkeypatch, {shas[-1][:8]: "build_failed"})
    settings = RunSettings(
        repo=REPO, repository=str(repo), asv_config=config, machine="fake-box", work_dir=tmp_path / "work",
        results_dir=tmp_path / "out", timeout_s=60, sampling=SamplingSettings(),
    )  # fmt: skip
    with pytest.raises(SamplingError, match=rf"pilot did not finish: {shas[-1][:12]} build_failed"):
        run_benchmarks(settings, shas[-2:])
    assert not (settings.source_dir / "runs").exists()  # nothing measured on settings nobody chose
    assert not choice_path(settings).exists()


def test_a_pilot_result_without_samples_is_refused(tmp_path, toy, monkeypatch):
    """A mutated copy of the sample's results with the samples taken out: no noise to choose from."""
    repo, config, shas = toy
    fake_asv(tmp_path, monkeypatch)
    copy = tmp_path / "sample"
    shutil.copytree(SAMPLES / "results", copy)
    for file in (copy / "datasmith-sample").glob("*-virtualenv-*.json"):
        data = json.loads(file.read_text())
        data["result_columns"] = [c for c in data["result_columns"] if c != "samples"]
        data["results"] = {k: v[:11] for k, v in data["results"].items()}  # samples is the 12th column
        file.write_text(json.dumps(data))
    monkeypatch.setenv("FAKE_ASV_SAMPLE", str(copy))
    settings = RunSettings(
        repo=REPO, repository=str(repo), asv_config=config, machine="fake-box", work_dir=tmp_path / "work",
        results_dir=tmp_path / "out", timeout_s=60, sampling=SamplingSettings(),
    )  # fmt: skip
    with pytest.raises(SamplingError, match="no timing samples"):
        run_benchmarks(settings, shas[-1:])


# --- the sources keys -----------------------------------------------------------------------------


def test_sampling_keys_are_optional_and_checked(tmp_path):
    file = tmp_path / "sources.yml"
    file.write_text(
        textwrap.dedent("""\
        benchmark_runner:
          - repo: a/b
            machine: m
            commits: [abc1234]
          - repo: a/c
            machine: m
            commits: [abc1234]
            sampling: {}
          - repo: a/d
            machine: m
            commits: [abc1234]
            sampling: {precision: 0.05, budget_seconds: 120, min_rounds: 1, warmup_time: 0.02}
        """)
    )
    plain, defaults, custom = load_sources(file).benchmark_runner.targets
    assert plain.sampling is None and settings_for(plain, "x", tmp_path / "w.duckdb").sampling is None
    assert defaults.sampling == SamplingSettings(precision=0.02, budget_seconds=60.0)
    assert (custom.sampling.precision, custom.sampling.budget_seconds, custom.sampling.min_rounds) == (
        0.05,
        120,
        1,
    )
    assert settings_for(custom, "x", tmp_path / "w.duckdb").sampling == custom.sampling
    file.write_text(file.read_text().replace("precision: 0.05", "precision: 5"))
    with pytest.raises(SourcesError, match=r"line 12: 'precision' must be a fraction between 0 and 1"):
        load_sources(file)


def test_old_warehouses_get_the_sampling_columns(tmp_path):
    from benchmark_runner.ddl import BENCHMARK_RUNS_DDL

    db = tmp_path / "old.duckdb"
    con = duckdb.connect(str(db))
    old = (
        BENCHMARK_RUNS_DDL.split("loaded_at         timestamp not null,")[0]
        + "loaded_at timestamp not null);"
    )
    con.execute(old)
    con.execute(BENCHMARK_RUNS_DDL)
    columns = [r[0] for r in con.execute("describe raw.benchmark_runs").fetchall()]
    con.close()
    assert columns[-2:] == ["sampling_settings", "sampling_noise"]

"""The demo's bundled sample carries real asv profiles for its tasks (samples/measure.py), and adding them
changed nothing else in the result files. No asv runs here: these tests read the bundled files."""

from __future__ import annotations

import json
import pstats
import shutil
from pathlib import Path

import pytest

from ingest.results.profiles import decode_profile, profile_bytes, profiles_in_document
from samples.history import MACHINE, SAMPLES_DIR
from samples.measure import (
    merge_profiles,
    missing_profiles,
    profile_tasks,
    with_profiles,
    without_profiles,
)

TRUTH = json.loads((SAMPLES_DIR / "ground_truth.json").read_text(encoding="utf-8"))
RESULTS = SAMPLES_DIR / "results"
TASKS = profile_tasks(TRUTH)


def result_file(commit: str) -> Path:
    (path,) = (RESULTS / MACHINE).glob(f"{commit[:8]}-*.json")
    return path


def bundled(commit: str) -> dict:
    return json.loads(result_file(commit).read_text(encoding="utf-8"))


def test_the_demo_has_the_two_improving_commits_as_tasks():
    commits = {commit[:8] for _before, commit, _names in TASKS}
    assert commits == {"49b197c4", "84667a78"}


@pytest.mark.parametrize("task", TASKS, ids=lambda task: task[1][:8])
def test_each_tasks_two_commits_hold_profiles_that_pstats_reads_the_same(task, tmp_path):
    before, commit, benchmarks = task
    for sha in (before, commit):
        found = {p.benchmark: p.text for p in profiles_in_document(bundled(sha))}
        assert set(benchmarks) <= set(found), f"{sha[:8]} lacks profiles for {set(benchmarks) - set(found)}"
        for name in benchmarks:
            functions = decode_profile(found[name])
            dump = tmp_path / f"{sha[:8]}-{name}.pstats"
            dump.write_bytes(profile_bytes(found[name]))
            stats = pstats.Stats(str(dump)).stats
            assert {(f.file, f.line, f.function) for f in functions} == set(stats)
            for f in functions:
                cc, nc, tt, ct, _callers = stats[(f.file, f.line, f.function)]
                assert (f.primitive_calls, f.total_calls, f.total_time, f.cumulative_time) == (cc, nc, tt, ct)


def test_the_fib_speedups_profiles_show_the_recursive_fib_before_and_the_loop_after():
    ((before, commit, _names),) = [t for t in TASKS if t[1].startswith("84667a78")]

    def fib_calls(sha: str) -> int:
        (text,) = [p.text for p in profiles_in_document(bundled(sha)) if p.benchmark == "bench_core.time_fib"]
        return sum(f.total_calls for f in decode_profile(text) if f.function == "fib")

    # fib(15) and fib(20) recursive: thousands of calls; the loop: one call per parameter.
    assert fib_calls(before) > 1000
    assert fib_calls(commit) <= 10


def test_only_the_tasks_commits_carry_profiles():
    profiled = {sha[:8] for before, commit, _ in TASKS for sha in (before, commit)}
    for path in sorted((RESULTS / MACHINE).glob("*-*.json")):
        has = bool(profiles_in_document(json.loads(path.read_text(encoding="utf-8"))))
        assert has == (path.name[:8] in profiled), path.name


def test_merging_takes_only_the_profile_column_and_keeps_every_other_byte(tmp_path):
    """Rebuild a bundled file without its profiles, merge asv's profiled run into it: the result is the
    bundled file, byte for byte, even though the profiled run's own timings differ."""
    _before, commit, _names = TASKS[0]
    source = result_file(commit)
    with_profile = json.loads(source.read_text(encoding="utf-8"))
    target_dir = tmp_path / "bundled" / MACHINE
    target_dir.mkdir(parents=True)
    plain = without_profiles(with_profile)
    (target_dir / source.name).write_text(json.dumps(plain), encoding="utf-8")
    # A control file of an unprofiled commit, which must not change.
    control = sorted(p for p in (RESULTS / MACHINE).glob("*-*.json") if p.name != source.name)[0]
    shutil.copyfile(control, target_dir / control.name)

    # asv's profiled run: other timings (one sample) and other durations, plus the profiles.
    profiled = json.loads(json.dumps(with_profile))
    for row in profiled["results"].values():
        row[0] = (
            [v * 3 if isinstance(v, float) else v for v in row[0]] if isinstance(row[0], list) else row[0]
        )
    profiled["durations"] = {}
    run_dir = tmp_path / "profiled" / MACHINE
    run_dir.mkdir(parents=True)
    (run_dir / source.name).write_text(json.dumps(profiled), encoding="utf-8")

    written = merge_profiles(tmp_path / "profiled", tmp_path / "bundled")

    assert written == [target_dir / source.name]
    assert (target_dir / source.name).read_text(encoding="utf-8") == source.read_text(encoding="utf-8")
    assert without_profiles(json.loads((target_dir / source.name).read_text(encoding="utf-8"))) == plain
    assert (target_dir / control.name).read_bytes() == control.read_bytes()


def test_a_profile_for_a_benchmark_the_bundled_file_lacks_is_refused():
    _before, commit, _names = TASKS[0]
    doc = bundled(commit)
    with pytest.raises(ValueError, match=r"no bundled result for bench_core\.nope"):
        with_profiles(doc, {"bench_core.nope": "eJw="})


def test_a_task_commit_left_without_profiles_is_named():
    written = [result_file(sha) for before, commit, _ in TASKS for sha in (before, commit)]
    assert missing_profiles(TRUTH, written) == []
    assert missing_profiles(TRUTH, written[1:]) == [f"no profiles for {TASKS[0][0][:8]}"]

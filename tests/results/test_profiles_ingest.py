"""asv profiles into the raw layer (ingest/results/profiles.py, profile_store.py): the decoder against
pstats and asv's own reader, the quarantine, incremental reads, the `profile:` setting and the runner's
profiling pass (with the stand-in asv; the real asv run is in tests/dataset/test_profiles.py).

The profiles are real: cProfile of the sample project's recursive fib (its first commit's code, as
samples/project keeps it), written into a copy of a real sample result file by asv's own
Results.add_result/save, exactly as `asv run --profile` stores them.
"""

from __future__ import annotations

import base64
import cProfile
import json
import marshal
import pstats
import zlib
from pathlib import Path

import pytest

from ingest.results.profiles import (
    ProfileError,
    decode_profile,
    profiles_in_text,
)
from tests.support.common import FIXTURES, PROJECT_ROOT

SAMPLE_RESULTS = PROJECT_ROOT / "samples" / "results"
SAMPLE_FILE = SAMPLE_RESULTS / "datasmith-sample" / "84667a78-virtualenv-py3.11.json"
RECURSIVE_CORE = PROJECT_ROOT / "samples" / "project" / "01-initial" / "src" / "fastfuncs" / "core.py"


def real_profile(tmp_path: Path, n: int = 15) -> Path:
    """cProfile of the sample project's recursive fib(n), dumped as pstats data (what asv's do_profile writes)."""
    namespace: dict = {}
    exec(compile(RECURSIVE_CORE.read_text(), str(RECURSIVE_CORE), "exec"), namespace)
    profiler = cProfile.Profile()
    profiler.runcall(namespace["fib"], n)
    path = tmp_path / f"fib{n}.prof"
    profiler.dump_stats(path)
    return path


def asv_file_with_profiles(tmp_path: Path, profiles: dict[str, bytes]) -> Path:
    """A copy of a real sample result file with ``profiles`` (benchmark -> pstats bytes) added by asv itself."""
    from asv.results import Results
    from asv.runner import BenchmarkResult

    benchmarks = json.loads((SAMPLE_RESULTS / "benchmarks.json").read_text())
    results = Results.load(str(SAMPLE_FILE), machine_name="datasmith-sample")
    for name, data in profiles.items():
        benchmark = benchmarks[name]
        values = results.get_result_value(name, benchmark["params"])
        empty = [None] * len(values)
        results.add_result(benchmark, BenchmarkResult(values, empty, empty, 0, "", data))
    out = tmp_path / "results"
    results.save(str(out))
    return out / "datasmith-sample" / SAMPLE_FILE.name


def _is_result_file(path: Path) -> bool:
    """A result file of an asv results tree: beside its machine's machine.json."""
    return path.name != "machine.json" and (path.parent / "machine.json").is_file()


def stats_of(path: Path) -> dict:
    return {key: value[:4] for key, value in pstats.Stats(str(path)).stats.items()}


def rows_as_stats(rows) -> dict:
    return {
        (r.file, r.line, r.function): (r.primitive_calls, r.total_calls, r.total_time, r.cumulative_time)
        for r in rows
    }


# --- the decoder: the oracle ---------------------------------------------------------------------------


def test_every_function_equals_what_pstats_and_asv_read_from_the_same_file(tmp_path):
    from asv.results import Results

    fib = real_profile(tmp_path, 15)
    distinct = real_profile(tmp_path, 12)
    path = asv_file_with_profiles(
        tmp_path,
        {
            "bench_core.time_fib": fib.read_bytes(),
            "bench_core.DistinctCount.time_distinct_count": distinct.read_bytes(),
        },
    )
    found = profiles_in_text(path.read_text())
    assert sorted(p.benchmark for p in found) == [
        "bench_core.DistinctCount.time_distinct_count",
        "bench_core.time_fib",
    ]
    stored = Results.load(str(path))
    for encoded in found:
        rows = decode_profile(encoded.text)
        asv_stats = stored.get_profile_stats(encoded.benchmark)  # asv's own reader: pstats on its bytes
        assert rows_as_stats(rows) == {k: v[:4] for k, v in asv_stats.stats.items()}
        assert sum(r.total_time for r in rows) == pytest.approx(asv_stats.total_tt)
    fib_rows = rows_as_stats(
        decode_profile(next(p for p in found if p.benchmark == "bench_core.time_fib").text)
    )
    assert fib_rows == stats_of(fib)
    (calls,) = [v for k, v in fib_rows.items() if k[2] == "fib"]
    assert calls[:2] == (1, 1973)  # fib(15): one primitive call, 1,973 in all (recursive)


def test_a_schema_1_file_keeps_its_profiles_in_a_top_level_object(tmp_path):
    """asv < 0.5 files (the sympy-v1 fixture's layout) have `profiles`, benchmark -> text, at the top."""
    real = FIXTURES / "results" / "sympy-v1"
    if not real.is_dir():
        pytest.skip(f"no fixtures at {real}")
    source = next(p for p in sorted(real.rglob("*.json")) if _is_result_file(p))
    doc = json.loads(source.read_text())
    assert "result_columns" not in doc  # really schema 1
    profile = real_profile(tmp_path)
    data = profile.read_bytes()
    name = next(iter(doc["results"]))
    doc["profiles"] = {name: base64.b64encode(zlib.compress(data)).decode("ascii")}
    (found,) = profiles_in_text(json.dumps(doc))
    assert found.benchmark == name
    assert rows_as_stats(decode_profile(found.text)) == stats_of(profile)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (12, "profile is a JSON int, not a base64 string"),
        ("not base64 at all!", "profile is not base64"),
        (base64.b64encode(b"plain bytes").decode(), "profile is not zlib data"),
        (base64.b64encode(zlib.compress(b"\x00garbage")).decode(), "profile is not pstats data"),
        (
            base64.b64encode(zlib.compress(marshal.dumps([1, 2]))).decode(),
            "profile holds a list, not pstats' dict",
        ),
        (
            base64.b64encode(zlib.compress(marshal.dumps({("f.py", 1, "f"): (1, 1, 0.1)}))).decode(),
            r"profile entry for f is not \(cc, nc, tt, ct, callers\)",
        ),
    ],
)
def test_a_profile_that_is_not_asvs_encoding_is_refused_with_the_reason(text, reason):
    with pytest.raises(ProfileError, match=reason):
        decode_profile(text)


def test_a_truncated_profile_and_one_past_the_size_cap_are_refused(tmp_path, monkeypatch):
    from ingest.results import profiles

    compressed = zlib.compress(real_profile(tmp_path).read_bytes())
    with pytest.raises(ProfileError, match="truncated"):
        decode_profile(base64.b64encode(compressed[: len(compressed) // 2]).decode())
    monkeypatch.setattr(profiles, "MAX_PROFILE_BYTES", 100)
    with pytest.raises(ProfileError, match="more than 100 bytes"):
        decode_profile(base64.b64encode(compressed).decode())


def test_no_fixture_result_file_holds_a_profile():
    """The oracle on a real published result file with profiles would go here; the fixtures hold none
    (every file lists the `profile` column, none has a value). If one is added, this fails: use it."""
    root = FIXTURES / "results"
    if not root.is_dir():
        pytest.skip(f"no fixtures at {root}")
    files = [p for p in root.rglob("*.json") if _is_result_file(p)]
    with_profiles = [p for p in files if profiles_in_text(p.read_text(encoding="utf-8"))]
    assert len(files) > 1000
    assert with_profiles == []


# --- the raw layer -----------------------------------------------------------------------------------


def _load_results(db: Path, source: Path) -> None:
    from ingest.results import ingest_results_source
    from ingest.sources import ResultsSource
    from tests.support.warehouse import connect_writer

    with connect_writer(db) as con:
        ingest_results_source(con, ResultsSource(name="sample", path=source, repo="datasmith-demo/fastfuncs"))


def test_a_profile_that_does_not_decode_is_quarantined_and_the_rest_of_the_file_loads(tmp_path):
    from ingest.results import load_result_file_profiles
    from tests.support.warehouse import connect_writer

    tree = tmp_path / "tree"
    (tree / "datasmith-sample").mkdir(parents=True)
    (tree / "benchmarks.json").write_bytes((SAMPLE_RESULTS / "benchmarks.json").read_bytes())
    (tree / "datasmith-sample" / "machine.json").write_bytes((SAMPLE_RESULTS / "datasmith-sample" / "machine.json").read_bytes())  # fmt: skip
    good = real_profile(tmp_path)
    built = asv_file_with_profiles(
        tmp_path,
        {"bench_core.time_fib": good.read_bytes(), "bench_core.time_sort_words": good.read_bytes()},
    )
    doc = json.loads(built.read_text())
    column = doc["result_columns"].index("profile")
    doc["results"]["bench_core.time_sort_words"][column] = "eJzLSM3JyVcozy/KSQEA"[:-3]  # cut short
    target = tree / "datasmith-sample" / SAMPLE_FILE.name
    target.write_text(json.dumps(doc))
    db = tmp_path / "warehouse.duckdb"
    _load_results(db, tree)
    with connect_writer(db) as con:
        report = load_result_file_profiles(con)
        assert (report.files_read, report.profiles_loaded, len(report.quarantined)) == (1, 1, 1)
        rows = con.execute(
            """select benchmark, file, line, function, primitive_calls, total_calls, total_time, cumulative_time,
                      source_name, relative_path, commit_hash, machine
               from raw.asv_profiles"""
        ).fetchall()
        assert {r[0] for r in rows} == {"bench_core.time_fib"}
        assert {(r[1], r[2], r[3]): tuple(r[4:8]) for r in rows} == stats_of(good)
        assert {r[8:] for r in rows} == {("sample", f"datasmith-sample/{SAMPLE_FILE.name}", doc["commit_hash"], "datasmith-sample")}  # fmt: skip
        (quarantined,) = con.execute(
            "select benchmark, reason, content from raw.asv_profile_quarantine"
        ).fetchall()
        assert quarantined[0] == "bench_core.time_sort_words"
        assert quarantined[1].startswith("profile is not base64")
        assert quarantined[2] == "eJzLSM3JyVcozy/KSQEA"[:-3]
        # Read once: a second run reads nothing.
        again = load_result_file_profiles(con)
        assert (
            again.files_read,
            con.execute("select count(*) from raw.asv_profile_reads").fetchone()[0],
        ) == (0, 1)


def _holds_a_profile(path: Path) -> bool:
    """Whether an asv result file holds profile data, read as plain JSON (schema 2: the `profile` column of
    `result_columns`; schema 1: the top-level `profile` object)."""
    document = json.loads(path.read_text())
    columns = document.get("result_columns") or []
    if "profile" in columns:
        at = columns.index("profile")
        return any(
            isinstance(row, list) and len(row) > at and row[at]
            for row in document.get("results", {}).values()
        )
    return bool(document.get("profile"))


def test_only_result_file_versions_not_read_before_are_read(tmp_path, monkeypatch):
    from ingest.results import load_result_file_profiles, profile_store
    from tests.support.warehouse import connect_writer

    monkeypatch.setattr(profile_store, "BATCH_FILES", 3)  # 10 files: 4 transactions

    tree = tmp_path / "tree"
    for path in SAMPLE_RESULTS.rglob("*.json"):
        (tree / path.relative_to(SAMPLE_RESULTS)).parent.mkdir(parents=True, exist_ok=True)
        (tree / path.relative_to(SAMPLE_RESULTS)).write_bytes(path.read_bytes())
    db = tmp_path / "warehouse.duckdb"
    _load_results(db, tree)
    with connect_writer(db) as con:
        said: list[str] = []
        first = load_result_file_profiles(con, progress=said.append)
        # the sample's task commits carry real asv profiles (samples/measure.py), the other files none
        with_profiles = sum(_holds_a_profile(p) for p in tree.rglob("*.json") if p.name != "machine.json")
        assert (first.files_read, first.files_with_profiles) == (10, with_profiles) and with_profiles > 0
        assert said[-1] == "profiles: read 10/10 result files with a profile column" and len(said) == 4
    # A new version of one file, now with a profile: only it is read.
    asv_file_with_profiles(tmp_path, {"bench_core.time_fib": real_profile(tmp_path).read_bytes()}).replace(
        tree / "datasmith-sample" / SAMPLE_FILE.name
    )
    _load_results(db, tree)
    with connect_writer(db) as con:
        second = load_result_file_profiles(con)
        assert (second.files_read, second.files_with_profiles, second.profiles_loaded) == (1, 1, 1)
        assert con.execute("select count(distinct relative_path), count(*) from raw.asv_profile_reads").fetchone() == (10, 11)  # fmt: skip


# --- the setting and the runner's profiling pass -----------------------------------------------------


def test_the_profile_setting_is_optional_and_checked(tmp_path):
    from ingest.sources import SourcesError, load_sources

    def target(extra: str) -> Path:
        path = tmp_path / "sources.yml"
        path.write_text(
            "benchmark_runner:\n  - repo: datasmith-demo/fastfuncs\n    machine: m1\n    commits: [84667a78]\n"
            + extra
        )
        return path

    assert load_sources(target("")).benchmark_runner.targets[0].profile is None
    assert load_sources(target("    profile: true\n")).benchmark_runner.targets[0].profile.top_workloads == 3
    assert not load_sources(target("    profile: off\n")).benchmark_runner.targets[0].profile.enabled
    chosen = load_sources(target("    profile: {top_workloads: 2}\n")).benchmark_runner.targets[0].profile
    assert (chosen.enabled, chosen.top_workloads) == (True, 2)
    with pytest.raises(
        SourcesError, match=r"line \d+: .*'top_workloads' must be a whole number of at least 1"
    ):
        load_sources(target("    profile: {top_workloads: 0}\n"))


def test_the_profiling_pass_runs_asv_profile_on_each_tasks_top_benchmarks_before_and_at_the_commit(
    tmp_path, monkeypatch
):
    from benchmark_runner.profiling import ProfileTask, profile_result_files, run_profiles
    from benchmark_runner.settings import RunSettings
    from tests.support.runner_support import fake_asv, read_trace, toy_repository

    trace = fake_asv(tmp_path, monkeypatch)
    repo, config, shas = toy_repository(tmp_path)
    settings = RunSettings(
        repo="datasmith-demo/fastfuncs", repository=str(repo), asv_config=config, machine="m1",
        work_dir=tmp_path / "work", results_dir=tmp_path / "out", jobs=1,
    )  # fmt: skip
    tasks = [
        ProfileTask("fib", shas[5], shas[4], ("bench_core.time_fib", "bench_core.time_split_words")),
        ProfileTask("distinct", shas[3], shas[2], ("bench_core.DistinctCount.time_distinct_count",)),
    ]
    report = run_profiles(settings, tasks, top_workloads=1)
    assert report.counts == {"ok": 4}
    runs = {t["sha"]: t["args"] for t in read_trace(trace)}
    assert set(runs) == {shas[2], shas[3], shas[4], shas[5]}
    for sha in (shas[4], shas[5]):
        args = runs[sha]
        assert args[args.index("--profile") :][:5] == ["--profile", "-a", "rounds=1", "-a", "repeat=1"]
        assert args[-2:] == ["--bench", r"^bench_core\.time_fib(\(.*\))?$"]  # the top one only
    assert runs[shas[2]][-1] == r"^bench_core\.DistinctCount\.time_distinct_count(\(.*\))?$"
    files = profile_result_files(settings)
    assert len(files) == 4 and all(rel.endswith("-virtualenv-py3.11.json") for rel, _ in files)
    # The timed run's results tree is untouched: the pass writes only to its own store.
    assert not (tmp_path / "out" / settings.source_name).exists()
    # Resumable: a second pass finds every job done.
    again = run_profiles(settings, tasks, top_workloads=1)
    assert (again.counts, sum(len(r.skipped) for r in again.runs)) == ({}, 4)
    assert len(read_trace(trace)) == 4


def test_the_profiles_loader_reads_the_profiling_pass_store_once(tmp_path):
    from ingest.results import load_profile_files
    from tests.support.warehouse import connect_writer

    path = asv_file_with_profiles(tmp_path, {"bench_core.time_fib": real_profile(tmp_path).read_bytes()})
    files = [("abc/run.x/results/datasmith-sample/" + path.name, path)]
    with connect_writer(tmp_path / "warehouse.duckdb") as con:
        first = load_profile_files(con, "profile.run.x", files, "datasmith-demo/fastfuncs")
        second = load_profile_files(con, "profile.run.x", files, "datasmith-demo/fastfuncs")
        assert (first.profiles_loaded, second.files_read) == (1, 0)
        assert con.execute("select distinct origin, repo from raw.asv_profiles").fetchall() == [
            ("profile_run", "datasmith-demo/fastfuncs")
        ]


def test_a_runner_file_that_is_not_json_is_quarantined(tmp_path):
    from ingest.results import load_profile_files
    from tests.support.warehouse import connect_writer

    bad = tmp_path / "cut.json"
    bad.write_text(SAMPLE_FILE.read_text()[:100])
    with connect_writer(tmp_path / "warehouse.duckdb") as con:
        report = load_profile_files(con, "profile.run.x", [("cut.json", bad)], None)
        assert report.quarantined and report.quarantined[0][2].startswith("not valid JSON")
        assert con.execute("select benchmark, content from raw.asv_profile_quarantine").fetchone() == (
            None,
            SAMPLE_FILE.read_text()[:100],
        )

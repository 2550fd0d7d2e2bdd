"""The benchmark runner with a stand-in asv: cores, statuses, timeouts, skip-if-done, crash and resume,
the sources section, and loading into the warehouse. The real asv runs in test_benchmark_runner_e2e.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from benchmark_runner import run_benchmarks
from benchmark_runner.cores import CoresError, allocate_cores
from benchmark_runner.settings import RunSettings
from benchmark_runner.store import read_records
from benchmark_runner.targets import settings_for
from benchmark_runner.warehouse import ingest_run_outputs
from ingest.sources import SourcesError, load_sources
from tests.support.runner_support import REPO, fake_asv, read_trace, toy_repository
from tests.support.warehouse import connect_writer

QUICK = ("-a", "rounds=1", "-a", "repeat=1")


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return toy_repository(tmp_path_factory.mktemp("toy"))


def settings(tmp: Path, toy, **extra) -> RunSettings:
    repo, config, _ = toy
    values = dict(
        repo=REPO, repository=str(repo), asv_config=config, machine="fake-box", work_dir=tmp / "work",
        results_dir=tmp / "out", jobs=1, cores_per_job=1, timeout_s=60, asv_args=QUICK,
    )  # fmt: skip
    values.update(extra)
    return RunSettings(**values)


# --- cores ----------------------------------------------------------------------------------------


def test_cores_skip_zero_only_when_the_others_suffice():
    assert allocate_cores(2, 1, [0, 1]) == [(0,), (1,)]
    assert allocate_cores(2, 1, [0, 1, 2, 3]) == [(1,), (2,)]
    assert allocate_cores(3, 1, [0, 1, 2, 3]) == [(1,), (2,), (3,)]
    assert allocate_cores(2, 2, [0, 1, 2, 3]) == [(0, 1), (2, 3)]
    assert allocate_cores(1, 2, [3, 5, 7]) == [(3, 5)]  # an affinity mask without core 0


def test_cores_refused_when_they_do_not_fit():
    with pytest.raises(
        CoresError, match=r"3 jobs x 1 cores per job need 3 cores, but this process may use only 2"
    ):
        allocate_cores(3, 1, [0, 1])
    have = len(os.sched_getaffinity(0))
    with pytest.raises(CoresError, match=f"only {have}"):
        allocate_cores(have + 1, 1)


# --- runs with the stand-in asv --------------------------------------------------------------------


def test_parallel_pinned_jobs_reuse_one_environment_per_slot(tmp_path, toy, monkeypatch):
    trace_file = fake_asv(tmp_path, monkeypatch)
    monkeypatch.setenv("FAKE_ASV_RUN_S", "1.0")
    shas = toy[2][:4]
    report = run_benchmarks(settings(tmp_path, toy, jobs=2), [s[:8] for s in shas])
    assert sorted(r.commit for r in report.records) == sorted(shas)
    assert report.counts == {"ok": 4}
    trace = read_trace(trace_file)
    # each asv process ran pinned to its slot's own core, passed the same core to --cpu-affinity
    slots = allocate_cores(2, 1)
    for run in trace:
        assert run["affinity"] == [int(run["cpu_affinity"])]
        assert tuple(run["affinity"]) in slots
        assert run["env"] == {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
        assert run["benchmark_dir"] == str(Path(run["cwd"]) / "benchmarks")  # the job's own worktree
    # two at a time: some runs overlap in time, and concurrent runs never share an environment dir
    overlapping = [
        (a, b) for a in trace for b in trace if a is not b and a["start"] < b["end"] and b["start"] < a["end"]
    ]
    assert overlapping
    assert all(a["env_dir"] != b["env_dir"] and a["cwd"] != b["cwd"] for a, b in overlapping)
    # nor a HOME: asv rewrites ~/.asv-machine.json whenever it reads it
    assert all(a["home"] != b["home"] for a, b in overlapping)
    assert all(json.loads((Path(run["home"]) / ".asv-machine.json").read_text())["fake-box"] for run in trace)
    assert len({run["env_dir"] for run in trace}) == 2  # one environment per slot, reused across commits
    built = [r for r in report.records if r.env_build_seconds > 0]
    assert len(built) == 2  # one `asv setup` per slot, reported apart from the benchmark time
    # the worktree holds the measured commit's files
    for record in report.records:
        assert Path(report.source_dir / record.log_path).is_file()
        assert record.results_paths == [f"results/fake-box/{record.commit[:8]}-virtualenv-py3.11.json"]


def test_statuses_timeout_kills_the_group_and_others_finish(tmp_path, toy, monkeypatch):
    shas = toy[2]
    plan = {shas[1][:8]: "build_failed", shas[2][:8]: "benchmark_failed", shas[3][:8]: "sleep"}
    fake_asv(tmp_path, monkeypatch, plan)
    started = time.monotonic()
    report = run_benchmarks(settings(tmp_path, toy, jobs=2, timeout_s=3), shas[:5])
    assert time.monotonic() - started < 30
    status = {r.commit: r.status for r in report.records}
    assert status == {
        shas[0]: "ok",
        shas[1]: "build_failed",
        shas[2]: "benchmark_failed",
        shas[3]: "timeout",
        shas[4]: "ok",
    }
    children = [int(p) for p in (tmp_path / "fake_asv_children.txt").read_text().split()]
    for pid in children:  # the sleeping grandchild went down with its process group
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
    records = {r["commit"]: r for _, _, r in read_records(report.source_dir)}
    assert records[shas[3]]["results_paths"] == [] and "killed after 3" in records[shas[3]]["message"]
    assert records[shas[2]]["results_paths"]  # a partly failed suite still publishes what it measured
    published = sorted(p.name for p in (report.source_dir / "results" / "fake-box").glob("*-*.json"))
    assert published == sorted(f"{s[:8]}-virtualenv-py3.11.json" for s in (shas[0], shas[2], shas[4]))

    # a re-run measures again exactly the commits without an ok job
    fake_asv(tmp_path, monkeypatch, {})
    again = run_benchmarks(settings(tmp_path, toy, jobs=2, timeout_s=3), shas[:5])
    assert sorted(again.skipped) == sorted([shas[0], shas[4]])
    assert sorted(r.commit for r in again.records) == sorted(shas[1:4])
    assert again.counts == {"ok": 3}
    assert all(r.env_build_seconds == 0 for r in again.records)  # the slots' environments were reused


def test_skip_if_done_depends_on_machine_environment_and_arguments(tmp_path, toy, monkeypatch):
    fake_asv(tmp_path, monkeypatch)
    shas = toy[2][:2]
    first = run_benchmarks(settings(tmp_path, toy), shas)
    assert first.counts == {"ok": 2}
    assert run_benchmarks(settings(tmp_path, toy), shas).skipped == shas
    other_args = run_benchmarks(settings(tmp_path, toy, asv_args=("--quick",)), shas)
    assert other_args.counts == {"ok": 2}  # different asv arguments: measured again
    # a deleted result file means the commit is no longer measured
    (first.source_dir / first.records[0].results_paths[0]).unlink()
    assert [r.commit for r in run_benchmarks(settings(tmp_path, toy), shas).records] == [
        first.records[0].commit
    ]
    # an unknown commit is recorded, and the run goes on
    report = run_benchmarks(settings(tmp_path, toy), ["deadbeef", shas[1]])
    assert [(r.commit, r.status, r.message) for r in report.records] == [
        ("deadbeef", "build_failed", "commit not found")
    ]


def test_a_killed_runner_keeps_finished_results_and_a_rerun_continues(tmp_path, toy, monkeypatch):
    fake_asv(tmp_path, monkeypatch)
    monkeypatch.setenv("FAKE_ASV_RUN_S", "1.5")
    repo, config, shas = toy
    script = textwrap.dedent(f"""
        import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})
        from pathlib import Path
        from benchmark_runner import run_benchmarks
        from benchmark_runner.settings import RunSettings
        s = RunSettings(repo={REPO!r}, repository={str(repo)!r}, asv_config=Path({str(config)!r}),
            machine="fake-box", work_dir=Path({str(tmp_path / "work")!r}), results_dir=Path({str(tmp_path / "out")!r}), asv_args={QUICK!r})
        run_benchmarks(s, {shas[:6]!r})
    """)
    runner = subprocess.Popen(
        [sys.executable, "-c", script], start_new_session=True, cwd=Path(__file__).parents[2]
    )
    out = tmp_path / "out" / "run.datasmith-demo.fastfuncs.fake-box"
    deadline = time.monotonic() + 60
    while len(list((out / "runs").glob("*/*.json"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    os.killpg(runner.pid, signal.SIGKILL)
    runner.wait()
    finished = {r["commit"] for _, _, r in read_records(out)}
    assert 2 <= len(finished) < 6
    for commit in finished:  # every finished job's result file is whole and in the stable tree
        json.loads((out / "results" / "fake-box" / f"{commit[:8]}-virtualenv-py3.11.json").read_text())
    report = run_benchmarks(settings(tmp_path, toy), shas[:6])
    assert set(report.skipped) == finished
    assert {r.commit for r in report.records} == set(shas[:6]) - finished
    assert report.counts == {"ok": 6 - len(finished)}


def test_results_and_records_load_once(tmp_path, toy, monkeypatch):
    fake_asv(tmp_path, monkeypatch, {toy[2][1][:8]: "build_failed"})
    report = run_benchmarks(settings(tmp_path, toy), toy[2][:3])
    db = tmp_path / "w.duckdb"
    with connect_writer(db) as con:
        loaded = ingest_run_outputs(con, report.source_name, report.source_dir, REPO)
        again = ingest_run_outputs(con, report.source_name, report.source_dir, REPO)
    assert (loaded.runs_loaded, loaded.results.files_loaded) == (
        3,
        {"result": 2, "benchmarks": 1, "machine": 1},
    )
    assert (again.runs_loaded, again.results.total_loaded) == (0, 0)
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute(
        "select commit_hash, status, source_name from raw.benchmark_runs order by started_at, commit_hash"
    ).fetchall()
    registry = con.execute("select source_kind, repo from raw.source_registry").fetchall()
    con.close()
    assert sorted((r[0], r[1]) for r in rows) == sorted(
        [(toy[2][0], "ok"), (toy[2][1], "build_failed"), (toy[2][2], "ok")]
    )
    assert {r[2] for r in rows} == {"run.datasmith-demo.fastfuncs.fake-box"}
    assert registry == [("results", REPO)]


# --- the sources section ---------------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    file = tmp_path / "sources.yml"
    file.write_text(textwrap.dedent(text))
    return file


def test_benchmarks_section_parses(tmp_path):
    file = write(
        tmp_path,
        """\
        results:
          - name: sample
            path: results
        benchmark_runner:
          - repo: Owner/Name
            clone: repo
            asv_config: conf/asv.conf.json
            commits: [abc123, def456]
            machine: Box-1
            jobs: 2
            timeout_s: 90
            asv_args: --quick -a repeat=1
            machine_facts: {cpu: test-cpu}
          - repo: owner/other
            clone: https://example.invalid/owner/other.git
            from_commits_filtered: 20
            machine: box
    """,
    )
    section = load_sources(file).benchmark_runner
    first, second = section.targets
    assert (first.key, first.source_name, first.clone) == (
        "owner.name",
        "run.owner.name.box-1",
        str(tmp_path / "repo"),
    )
    assert (first.commits, first.jobs, first.cores_per_job, first.timeout_s) == (
        ("abc123", "def456"),
        2,
        1,
        90.0,
    )
    assert (
        first.asv_args == ("--quick", "-a", "repeat=1")
        and first.asv_config == tmp_path / "conf" / "asv.conf.json"
    )
    assert (second.from_commits_filtered, second.clone, second.asv_args[0]) == (
        20,
        "https://example.invalid/owner/other.git",
        "--interleave-rounds",
    )
    run = settings_for(first, first.clone, tmp_path / "db" / "w.duckdb")
    assert run.results_dir == tmp_path / "db" / "runner" / "results" and run.machine_facts == {
        "cpu": "test-cpu"
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "  - repo: a/b\n    machine: m\n",
            r"line 2: a benchmark_runner target needs exactly one of 'commits' or",
        ),
        ("  - repo: a/b\n    machine: m\n    commits: [x]\n    jobz: 2\n", r"line 5: unknown key 'jobz'"),
        (
            "  - repo: ab\n    machine: m\n    commits: [x]\n",
            r"line 2: repo 'ab' must be written as owner/name",
        ),
        (
            "  - repo: a/b\n    machine: m\n    commits: [x]\n    jobs: 0\n",
            r"line 5: 'jobs' must be a whole number",
        ),
        ("  - repo: a/b\n    commits: [x]\n", r"line 2: an entry of 'benchmark_runner' is missing 'machine'"),
        (
            "  - repo: a/b\n    machine: m\n    commits: [x]\n    timeout_s: soon\n",
            r"line 5: 'timeout_s' must be",
        ),
        (
            "  - repo: a/b\n    machine: m\n    commits: [x]\n  - repo: a/b\n    machine: n\n    commits: [y]\n",
            r"line 5: benchmark_runner target 'a.b' is listed twice \(first on line 2\)",
        ),
    ],
)
def test_benchmarks_section_errors_name_the_line(tmp_path, body, message):
    file = write(tmp_path, "benchmark_runner:\n" + body)
    with pytest.raises(SourcesError, match=message):
        load_sources(file)


def test_run_source_name_may_not_clash(tmp_path):
    file = write(
        tmp_path,
        """\
        results:
          - name: run.a.b.m
            path: x
        benchmark_runner:
          - repo: a/b
            machine: m
            commits: [x]
    """,
    )
    with pytest.raises(SourcesError, match=r"line 5: results source 'run.a.b.m' is already used \(line 2\)"):
        load_sources(file)


def test_bare_clone_and_url(tmp_path, toy, monkeypatch):
    trace_file = fake_asv(tmp_path, monkeypatch)
    repo, _, shas = toy
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "--quiet", "--bare", str(repo), str(bare)], check=True)
    from_bare = run_benchmarks(settings(tmp_path, toy, repository=str(bare)), shas[:1])
    assert from_bare.counts == {"ok": 1}
    url = settings(tmp_path, toy, repository=bare.as_uri(), results_dir=tmp_path / "out2")
    from_url = run_benchmarks(url, shas[1:2])
    assert from_url.counts == {"ok": 1}
    assert (
        tmp_path / "work" / "clones" / f"{url.source_name}.git" / "objects"
    ).is_dir()  # its own bare clone
    worktrees = {run["cwd"] for run in read_trace(trace_file)}
    assert all((Path(w) / "benchmarks" / "bench_core.py").is_file() for w in worktrees)
    # the second run checked out its commits from its own clone, not from the first run's worktree
    common = subprocess.run(
        ["git", "rev-parse", "--path-format=absolute", "--git-common-dir"],
        cwd=next(iter(worktrees)), capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert Path(common) == tmp_path / "work" / "clones" / f"{url.source_name}.git"


def test_a_blob_less_clone_builds_as_asv_checks_it_out(tmp_path, toy, monkeypatch):
    """The GitHub stage's clone is bare and blob-less. asv builds a commit from `git clone --shared <repo>`,
    which first checks out the repo's HEAD; that clone cannot fetch missing blobs, so asv is given the
    slot's worktree (HEAD = the job's commit, its blobs just fetched), not the clone. The stand-in asv
    does asv's own Git checkout here, twice per slot (a fresh clone, then a checkout in it)."""
    repo, _, shas = toy
    served = tmp_path / "served"
    subprocess.run(["git", "clone", "--quiet", "--bare", str(repo), str(served)], check=True)
    subprocess.run(["git", "-C", str(served), "config", "uploadpack.allowFilter", "true"], check=True)
    partial = tmp_path / "partial.git"
    subprocess.run(
        ["git", "clone", "--quiet", "--bare", "--filter=blob:none", served.as_uri(), str(partial)], check=True
    )
    missing = subprocess.run(
        ["git", "-C", str(partial), "rev-list", "--missing=print", "--objects", "--all"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert any(line.startswith("?") for line in missing.splitlines())  # really blob-less
    fake_asv(tmp_path, monkeypatch)
    monkeypatch.setenv("FAKE_ASV_CHECKOUT", "1")
    commits = shas[2:6]  # HEAD (the last commit) is none of them, and its blobs are not all fetched
    report = run_benchmarks(settings(tmp_path, toy, repository=str(partial), jobs=2), commits)
    assert {r.commit: r.status for r in report.records} == dict.fromkeys(commits, "ok")


def test_from_commits_filtered_reads_the_latest_n(tmp_path):
    from benchmark_runner.warehouse import filtered_commits

    con = duckdb.connect()
    with pytest.raises(LookupError, match="no fct_core_commits table yet"):
        filtered_commits(con, REPO, 2)
    con.execute("create table fct_core_commits (repo_name varchar, commit_sha varchar, merged_at timestamp)")
    con.execute(
        """insert into fct_core_commits values (?, 'a', '2024-01-01'), (?, 'c', '2024-01-03'),
           (?, 'b', '2024-01-02'), ('other/repo', 'z', '2024-02-01')""",
        [REPO, REPO, REPO],
    )
    assert filtered_commits(con, REPO, 2) == ["b", "c"]  # the latest two, oldest first

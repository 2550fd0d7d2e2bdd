"""The runner's Dask backend on real separate processes: a `dask scheduler` and two `dask worker`s on
127.0.0.1, each worker with its own folder and one core. The fast tests use the stand-in asv
(runner_support.FAKE_ASV); the slow one runs the real asv on the toy repository through `datasmith
materialize`, SIGKILLs a worker in the middle of a job and compares the measurements with the sample's
(the generator's local asv run of the same commits)."""

from __future__ import annotations

import contextlib
import json
import signal
import time
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from benchmark_runner import run_benchmarks
from benchmark_runner.cluster import ClusterError
from benchmark_runner.cores import allocate_cores
from benchmark_runner.settings import RunSettings
from benchmark_runner.store import read_records
from benchmark_runner.targets import settings_for
from ingest.sources import SourcesError, load_sources
from tests.support.common import materialize
from tests.support.common import read_rows as rows
from tests.support.runner_support import (
    REPO,
    SAMPLES,
    dask_cluster,
    fake_asv,
    free_port,
    read_trace,
    toy_repository,
    write_benchmarks_sources,
)

QUICK = ("-a", "rounds=1", "-a", "repeat=1")


def processes_under(folder: Path) -> list[int]:
    """Processes whose working directory is inside ``folder`` (asv runs in the slot's worktree)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            if str(proc.joinpath("cwd").readlink()).startswith(str(folder)):
                state = proc.joinpath("stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    found.append(int(proc.name))
    return found


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return toy_repository(tmp_path_factory.mktemp("toy"))


def settings(tmp: Path, toy, cluster: str, **extra) -> RunSettings:
    repo, config, _ = toy
    values = dict(
        repo=REPO, repository=str(repo), asv_config=config, machine="fake-box", work_dir=tmp / "work",
        results_dir=tmp / "out", timeout_s=60, asv_args=QUICK, cluster=cluster,
    )  # fmt: skip
    values.update(extra)
    return RunSettings(**values)


# --- the sources section ---------------------------------------------------------------------------


def test_cluster_key_parses_and_bad_addresses_are_refused(tmp_path):
    target = {"repo": REPO, "clone": "x", "commits": ["a"], "machine": "m"}
    file = write_benchmarks_sources(tmp_path, [{**target, "cluster": "tcp://10.0.0.5:8786"}])
    assert load_sources(file).benchmark_runner.targets[0].cluster == "tcp://10.0.0.5:8786"
    file = write_benchmarks_sources(tmp_path, [{**target, "cluster": "sched.json"}])
    parsed = load_sources(file).benchmark_runner.targets[0]
    assert parsed.cluster == str(tmp_path / "sched.json")  # a scheduler file, next to the sources file
    assert settings_for(parsed, "x", tmp_path / "w.duckdb").cluster == str(tmp_path / "sched.json")
    file = write_benchmarks_sources(tmp_path, [target])
    assert load_sources(file).benchmark_runner.targets[0].cluster is None  # local by default
    file = write_benchmarks_sources(tmp_path, [{**target, "cluster": "tcp://host-without-port"}])
    with pytest.raises(SourcesError, match=r"sources.yml: line \d+: cluster 'tcp://host-without-port' must"):
        load_sources(file)


# --- real scheduler and workers, the stand-in asv ---------------------------------------------------


def test_unreachable_scheduler_names_the_address_and_publishes_nothing(tmp_path, toy, capfd):
    import dask
    import distributed  # noqa: F401  first: its defaults must be in dask's config before the override

    repo, config, shas = toy
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    target = {
        "repo": REPO, "clone": str(repo), "asv_config": str(config), "commits": shas[:2],
        "machine": "fake-box", "cluster": address,
    }  # fmt: skip
    db = tmp_path / "warehouse.duckdb"
    started = time.monotonic()
    with dask.config.set({"distributed.comm.timeouts.connect": "3s"}):
        code = materialize(
            write_benchmarks_sources(tmp_path, [target]), db, "--select", "group:benchmark_runner"
        )
    assert code != 0
    assert time.monotonic() - started < 60
    err = capfd.readouterr().err
    assert f"cannot reach the Dask scheduler at {address}" in err
    output = tmp_path / "runner" / "results"
    assert not list(output.rglob("*.json")) and not list(output.rglob("*.log"))
    tables = rows(db, "select count(*) from information_schema.tables where table_name = 'benchmark_runs'")
    if tables[0][0]:
        assert rows(db, "select count(*) from raw.benchmark_runs") == [(0,)]


def test_a_missing_scheduler_file_is_named_at_once(tmp_path, toy):
    missing = tmp_path / "nowhere" / "scheduler.json"  # Dask's own reader would wait for it forever
    started = time.monotonic()
    with pytest.raises(ClusterError, match=f"cannot read the Dask scheduler file {missing}"):
        run_benchmarks(settings(tmp_path, toy, str(missing)), toy[2][:1])
    assert time.monotonic() - started < 10
    assert not (tmp_path / "out").exists()


def test_cluster_balances_commits_times_out_and_resumes(tmp_path, toy, monkeypatch):
    shas = toy[2][:5]
    trace_file = fake_asv(tmp_path, monkeypatch, {shas[3][:8]: "sleep", shas[1][:8]: "build_failed"})
    monkeypatch.setenv("FAKE_ASV_RUN_S", "1.0")
    with dask_cluster(tmp_path / "cluster") as cluster:
        run = settings(tmp_path, toy, cluster.address, timeout_s=30, commit_timeouts={shas[3][:8]: 3})
        report = run_benchmarks(run, [s[:8] for s in shas])
        status = {r.commit: r.status for r in report.records}
        assert status == {
            shas[0]: "ok", shas[1]: "build_failed", shas[2]: "ok", shas[3]: "timeout", shas[4]: "ok",
        }  # fmt: skip
        # each job ran once, pinned to its worker's core, in that worker's own folders; both workers got jobs
        trace = read_trace(trace_file)
        assert sorted(t["sha"] for t in trace) == sorted(s for s in shas if s != shas[3])
        by_worker = {
            i: [t for t in trace if t["home"].startswith(str(d))] for i, d in enumerate(cluster.worker_dirs)
        }
        assert all(by_worker.values()) and sum(map(len, by_worker.values())) == len(trace)
        for i, runs in by_worker.items():
            core = allocate_cores(2, 1)[i]
            assert {(tuple(t["affinity"]), t["cpu_affinity"]) for t in runs} == {(core, str(core[0]))}
            assert {Path(t["env_dir"]).parent for t in runs} == {
                cluster.worker_dirs[i] / "envs" / run.source_name / run.env_id
            }
        children = [int(p) for p in (tmp_path / "fake_asv_children.txt").read_text().split()]
        for pid in children:  # the timeout killed the sleeping grandchild with its process group
            assert (
                not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
            )
        assert children

        # the coordinator published the bytes the workers sent: the sample's own files, one set per commit
        source = report.source_dir
        sample = SAMPLES / "results" / "datasmith-sample"
        published = sorted((source / "results" / "fake-box").glob("*-*.json"))
        assert [p.name[:8] for p in published] == sorted(s[:8] for s in (shas[0], shas[2], shas[4]))
        for path in published:
            assert path.read_bytes() == (sample / path.name).read_bytes()
        records = [r for _, _, r in read_records(source)]
        assert len(records) == 5 and all((source / r["log_path"]).is_file() for r in records)
        assert "ran on Dask worker tcp://127.0.0.1:" in (source / records[0]["log_path"]).read_text()
        assert report.bytes_received > 0 and report.bytes_shipped > 0
        assert not list((tmp_path / "work" / "jobs").rglob("*.json"))  # the coordinator's inbox is empty

        # a re-run measures only what has no ok job, on the environments the workers kept
        # (this time through a scheduler file, as `dask scheduler --scheduler-file` writes one)
        scheduler_file = tmp_path / "scheduler.json"
        scheduler_file.write_text(json.dumps({"type": "Scheduler", "address": cluster.address}))
        again = run_benchmarks(
            replace(run, extra_env={"FAKE_ASV_PLAN": "{}"}, cluster=str(scheduler_file)),
            [s[:8] for s in shas],
        )
        assert sorted(again.skipped) == sorted([shas[0], shas[2], shas[4]])
        assert sorted(r.commit for r in again.records) == sorted([shas[1], shas[3]])
        assert again.counts == {"ok": 2} and all(r.env_build_seconds == 0 for r in again.records)


# --- real asv -----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_materialize_on_two_workers_survives_a_sigkilled_worker(tmp_path, toy, capfd):
    repo, config, shas = toy
    commits = shas[:3]
    with dask_cluster(tmp_path / "cluster") as cluster:
        target = {
            "repo": REPO, "clone": str(repo), "asv_config": str(config), "commits": commits,
            "machine": "e2e-box", "timeout_s": 300, "asv_args": ["-a", "rounds=1", "-a", "repeat=3"],
            "cluster": cluster.address,
        }  # fmt: skip
        sources = write_benchmarks_sources(tmp_path, [target])
        # the same commits measured by a local asv run (the sample generator's), as a results source
        document = yaml.safe_load(sources.read_text())
        document["results"] = [{"name": "sample", "path": str(SAMPLES / "results"), "repo": REPO}]
        sources.write_text(yaml.safe_dump(document, sort_keys=False))
        db = tmp_path / "warehouse.duckdb"
        killed: list[tuple[list[int], list[int]]] = []  # (asv processes before the kill, 5 s after)

        def kill_worker_0_mid_job():
            # worker 0's first `asv run` (after its environment is built): SIGKILL the worker process
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:
                logs = list((cluster.worker_dirs[0] / "outbox").glob("*/*/logs/*.log"))
                if any("$ asv run" in log.read_text(errors="replace") for log in logs if log.is_file()):
                    time.sleep(1.0)
                    before = processes_under(cluster.worker_dirs[0])
                    cluster.workers[0].send_signal(signal.SIGKILL)
                    # its asv goes down with it (PR_SET_PDEATHSIG) instead of measuring on for ~20 s
                    after = time.monotonic() + 5
                    while processes_under(cluster.worker_dirs[0]) and time.monotonic() < after:
                        time.sleep(0.2)
                    killed.append((before, processes_under(cluster.worker_dirs[0])))
                    return
                time.sleep(0.2)

        import threading

        killer = threading.Thread(target=kill_worker_0_mid_job)
        killer.start()
        code = materialize(sources, db, "--select", "+key:fct_measurements or +key:fct_benchmark_runs")
        killer.join()
        assert code == 0, capfd.readouterr().err
        assert killed and cluster.workers[0].wait(timeout=10) == -signal.SIGKILL
        asv_before, asv_after = killed[0]
        assert asv_before and asv_after == []  # asv was running in the worker's slot, and died with it

        # exactly one ok job and one set of result files per commit, all from the surviving worker's slots
        runs = rows(db, "select commit_hash, status from raw.benchmark_runs")
        assert sorted(runs) == sorted((sha, "ok") for sha in commits)
        assert sorted(rows(db, "select commit_hash, status from fct_benchmark_runs")) == sorted(runs)
        source = tmp_path / "runner" / "results" / "run.datasmith-demo.fastfuncs.e2e-box"
        assert len(list((source / "runs").glob("*/*.json"))) == 3
        assert sorted(p.name[:8] for p in (source / "results" / "e2e-box").glob("*-*.json")) == sorted(
            s[:8] for s in commits
        )

        # the same commits, benchmarks and parameter sets as the local run, values within noise
        def series(name):
            return rows(
                db,
                "select commit_hash, benchmark, params, value from fct_measurements where source_name = ? "
                "and commit_hash in (select unnest(?::varchar[]))",
                name, commits,
            )  # fmt: skip

        cluster_rows, local_rows = series("run.datasmith-demo.fastfuncs.e2e-box"), series("sample")
        assert cluster_rows and {r[:3] for r in cluster_rows} == {r[:3] for r in local_rows}
        local = {r[:3]: r[3] for r in local_rows}
        ratios = sorted(r[3] / local[r[:3]] for r in cluster_rows if r[3] and local[r[:3]])
        assert 0.25 < ratios[len(ratios) // 2] < 4, ratios  # a shared 2-core machine: the median, loosely


def test_kubernetes_recipe_worker_pods_are_guaranteed_whole_core_slots():
    documents = list(
        yaml.safe_load_all((Path(__file__).parents[2] / "deploy/k8s/dask-cluster.yaml").read_text())
    )
    workers = [d for d in documents if d["metadata"]["name"] == "datasmith-dask-worker"]
    assert len(workers) == 1
    for container in workers[0]["spec"]["template"]["spec"]["containers"]:
        resources = container["resources"]
        assert resources["requests"] == resources["limits"]  # Guaranteed QoS
        assert str(resources["limits"]["cpu"]).isdigit()  # whole cores, so the static CPU manager pins them
        args = container["args"]
        assert args[args.index("--nthreads") + 1] == "1" and args[args.index("--resources") + 1] == "slot=1"
        assert "DATASMITH_WORKER_DIR" in {e["name"] for e in container["env"]}

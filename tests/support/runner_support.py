"""Helpers for the benchmark-runner tests: the demo's toy repository and a stand-in for asv.

The toy repository is built by the sample generator (samples/generate.py), so its commits are the ones
whose real asv results ship in samples/results. The stand-in asv (FAKE_ASV) answers `machine`, `setup` and
`run` the way asv does (same files, same exit codes, `setup` exiting 1 on success as asv 0.6 does) and
copies the sample's real result file for the commit; it lets the fast tests exercise scheduling, pinning,
timeouts and resumption in seconds. The end-to-end test runs the real asv.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from benchmark_runner.cores import allocate_cores

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SAMPLES = PROJECT_ROOT / "samples"
REPO = "datasmith-demo/fastfuncs"


def generator():
    spec = importlib.util.spec_from_file_location("datasmith_sample_generate", SAMPLES / "generate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def ground_truth() -> dict:
    return json.loads((SAMPLES / "ground_truth.json").read_text(encoding="utf-8"))


def toy_repository(folder: Path) -> tuple[Path, Path, list[str]]:
    """The demo repository (10 commits) and an asv config kept outside it; returns (repo, config, shas)."""
    gen = generator()
    repo = folder / "fastfuncs"
    commits = gen.build_history(repo, gen.history())
    inside = gen.write_asv_conf(repo)
    config = folder / "asv.conf.json"
    inside.replace(config)  # the config lives outside the repository
    return repo, config, [c["commit"] for c in commits]


FAKE_ASV = r"""
import json, os, subprocess, sys, time
from pathlib import Path

SAMPLE = Path(os.environ["FAKE_ASV_SAMPLE"])
args = sys.argv[1:]
command = args[0]
conf_path = args[args.index("--config") + 1] if "--config" in args else None
conf = json.loads(Path(conf_path).read_text()) if conf_path else {}
if command == "machine":
    name = args[args.index("--machine") + 1]
    path = Path(os.environ["HOME"]) / ".asv-machine.json"
    path.write_text(json.dumps({name: {"machine": name}, "version": 1}))
    sys.exit(0)
if command == "setup":
    env = Path(conf["env_dir"]) / "fakeenv"
    env.mkdir(parents=True, exist_ok=True)
    time.sleep(float(os.environ.get("FAKE_ASV_SETUP_S", "0.2")))
    (env / "asv-env-info.json").write_text("{}")
    print("[<asv.plugins.virtualenv.Virtualenv object>]")
    sys.exit(1)  # asv 0.6 exits 1 after a successful setup
assert command == "run", args
sha = args[1].removesuffix("^!")
machine = args[args.index("--machine") + 1]
plan = json.loads(os.environ.get("FAKE_ASV_PLAN", "{}")).get(sha[:8], "ok")
start = time.time()
if plan == "sleep":
    child = subprocess.Popen(["sleep", "300"])
    Path(os.environ["FAKE_ASV_CHILD_PIDS"]).open("a").write(f"{child.pid}\n")
    time.sleep(300)
time.sleep(float(os.environ.get("FAKE_ASV_RUN_S", "0.5")))
if os.environ.get("FAKE_ASV_CHECKOUT"):  # what the real asv does to build: its own Git checkout of conf.repo
    from asv.plugins.git import Git
    from asv.util import ProcessError
    try:
        Git(conf["repo"], str(Path(conf["env_dir"]) / "mirror")).checkout(
            str(Path(conf["env_dir"]) / "project"), sha)
    except ProcessError as exc:
        print(exc)
        print("·· Failed to build the project and import the benchmark suite.")
        sys.exit(1)
trace = {"sha": sha, "start": start, "end": time.time(), "affinity": sorted(os.sched_getaffinity(0)),
         "cpu_affinity": args[args.index("--cpu-affinity") + 1], "env": {k: os.environ.get(k) for k in
         ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}, "cwd": os.getcwd(),
         "env_dir": conf["env_dir"], "benchmark_dir": conf["benchmark_dir"], "args": args,
         "home": os.environ["HOME"]}
with open(os.environ["FAKE_ASV_TRACE"], "a") as handle:
    handle.write(json.dumps(trace) + "\n")
if plan == "build_failed":
    print("·· Failed to build the project and import the benchmark suite.")
    sys.exit(1)
results = Path(conf["results_dir"])
(results / machine).mkdir(parents=True, exist_ok=True)
(results / "benchmarks.json").write_bytes((SAMPLE / "benchmarks.json").read_bytes())
(results / machine / "machine.json").write_text(json.dumps({"machine": machine, "version": 1}))
for source in (SAMPLE / "datasmith-sample").glob(sha[:8] + "-*.json"):
    (results / machine / source.name).write_bytes(source.read_bytes())
sys.exit(2 if plan == "benchmark_failed" else 0)
"""


def fake_asv(folder: Path, monkeypatch, plan: dict[str, str] | None = None) -> Path:
    """Install the stand-in asv for this test (DATASMITH_RUNNER_ASV); returns the trace file it appends to."""
    script = folder / "fake_asv.py"
    script.write_text(FAKE_ASV)
    trace = folder / "fake_asv_trace.jsonl"
    monkeypatch.setenv("DATASMITH_RUNNER_ASV", f"{sys.executable} {script}")
    monkeypatch.setenv("FAKE_ASV_SAMPLE", str(SAMPLES / "results"))
    monkeypatch.setenv("FAKE_ASV_TRACE", str(trace))
    monkeypatch.setenv("FAKE_ASV_CHILD_PIDS", str(folder / "fake_asv_children.txt"))
    monkeypatch.setenv("FAKE_ASV_PLAN", json.dumps(plan or {}))
    return trace


def read_trace(trace: Path) -> list[dict]:
    return [json.loads(line) for line in trace.read_text().splitlines()] if trace.exists() else []


def write_benchmarks_sources(
    folder: Path, targets: list[dict], results: dict[str, Path] | None = None
) -> Path:
    document: dict = {"benchmark_runner": targets}
    if results:
        document["results"] = [{"name": n, "path": str(p)} for n, p in results.items()]
    file = folder / "sources.yml"
    file.write_text(yaml.safe_dump(document, sort_keys=False))
    return file


def benchmark_job():
    """The benchmark assets as one job, rebuilt from RUNNER_TEST_SOURCES / RUNNER_TEST_DB in every process
    (the multiprocess executor reconstructs the job in each step's own process)."""
    import os

    import dagster as dg

    from assets.benchmark_runner import build_benchmark_definitions
    from assets.resources import WarehouseResource
    from ingest.sources import load_sources

    db = Path(os.environ["RUNNER_TEST_DB"])
    defs = build_benchmark_definitions(load_sources(os.environ["RUNNER_TEST_SOURCES"]), db)
    job = dg.define_asset_job("benchmark_job", selection=dg.AssetSelection.groups("benchmark_runner"))
    full = dg.Definitions(
        assets=defs.assets, jobs=[job], resources={"warehouse": WarehouseResource(database=str(db))}
    )
    return full.resolve_job_def("benchmark_job")


# --- a Dask cluster of real processes (tests/test_cluster_runner.py, bench/cluster.py) -----------------

DASK = str(Path(sys.executable).parent / "dask")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class DaskCluster:
    address: str
    scheduler: subprocess.Popen
    workers: list[subprocess.Popen]
    worker_dirs: list[Path]


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def dask_cluster(folder: Path, n_workers: int = 2):
    """`dask scheduler` + n `dask worker --nthreads 1 --no-nanny --resources slot=1` on 127.0.0.1, each
    worker in its own folder (DATASMITH_WORKER_DIR) with its own core (DATASMITH_WORKER_CORES, the
    process pinned to it too). No nanny, so a killed worker stays dead."""
    from distributed import Client

    address = f"tcp://127.0.0.1:{free_port()}"
    folder.mkdir(parents=True, exist_ok=True)
    log = open(folder / "scheduler.log", "w")  # noqa: SIM115
    scheduler = subprocess.Popen(
        [DASK, "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1], "--no-dashboard"],
        cwd=folder, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    workers, dirs = [], []
    cores = allocate_cores(n_workers, 1)
    try:
        for i in range(n_workers):
            home = folder / f"worker-{i}"
            home.mkdir()
            env = {
                **os.environ,
                "DATASMITH_WORKER_DIR": str(home / "slots"),
                "DATASMITH_WORKER_CORES": ",".join(map(str, cores[i])),
            }
            worker = subprocess.Popen(
                [DASK, "worker", address, "--name", f"w{i}", "--nthreads", "1", "--no-nanny",
                 "--resources", "slot=1", "--host", "127.0.0.1", "--no-dashboard",
                 "--local-directory", str(home / "dask")],
                cwd=home, env=env, stdout=open(home / "worker.log", "w"), stderr=subprocess.STDOUT,  # noqa: SIM115
            )  # fmt: skip
            os.sched_setaffinity(worker.pid, cores[i])
            workers.append(worker)
            dirs.append(home / "slots")
        deadline = time.monotonic() + 90
        with Client(address, set_as_default=False, timeout="60s") as client:
            while len(client.scheduler_info(n_workers=-1)["workers"]) < n_workers:
                assert time.monotonic() < deadline, (folder / "scheduler.log").read_text()
                time.sleep(0.2)
        yield DaskCluster(address, scheduler, workers, dirs)
    finally:
        for process in [*workers, scheduler]:
            _stop(process)
        log.close()

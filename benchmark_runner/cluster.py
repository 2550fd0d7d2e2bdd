"""The runner's cluster backend: each commit's job runs on a Dask distributed worker (a slot).

The coordinator (the process running the `benchmark_results` asset) does what a local run does before and
after the jobs: it takes the target's lock, resolves the commits, skips the measured ones, and publishes
every finished job into the stable results tree with the same atomic writes (store.py). Only the jobs move:
one Dask task per commit, submitted with the worker resource ``slot=1``, so the scheduler balances commits
across whatever workers there are. No file system is shared:

- the repository goes to the workers as its URL (each worker clones it) or, for a local clone, as a git
  bundle the coordinator scatters to the workers; each worker keeps its clone and fetches only when a
  commit is missing;
- a job's result files and log come back as bytes in the task's return value, with its record; the
  coordinator writes them, so the warehouse keeps its one writer and a record never points at a missing
  file.

A worker is one slot: its own folder (``DATASMITH_WORKER_DIR``, default the worker's local directory), in
it a worktree, an asv environment reused across its commits and an asv HOME, and its cores
(``DATASMITH_WORKER_CORES``, default the worker process's affinity), cut into blocks of ``cores_per_job``.
Start workers with ``--nthreads 1 --resources slot=1`` per slot (docs/cluster.md).

Faults: a worker that dies mid-job takes its asv processes with it (PR_SET_PDEATHSIG) and the scheduler
runs the job again on another worker; its result never arrived, so each commit gets one record. A job
that hangs is ended by the per-job timeout on its worker, as locally. A scheduler that cannot be reached
ends the run before anything is written, naming the address. Jobs that never come back (the worker
died ``distributed.scheduler.allowed-failures`` times, or no worker is left) end the run with an error
after the others are published, so a re-run measures only them.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, replace
from pathlib import Path

from benchmark_runner.cores import CoresError, allocate_cores, available_cores, format_cores
from benchmark_runner.gitrepo import GIT, GitError, git, is_local, resolve_commit
from benchmark_runner.runner import Runner, RunReport, _Slot
from benchmark_runner.settings import RunSettings, asv_command_from_env
from benchmark_runner.store import JobRecord, publish_results, write_atomic, write_record

SLOT_RESOURCE = "slot"
WORKER_DIR_ENV = "DATASMITH_WORKER_DIR"
WORKER_CORES_ENV = "DATASMITH_WORKER_CORES"
NO_WORKER_GRACE_S = 120.0  # how long a run waits with no slot worker connected before it gives up
PR_SET_PDEATHSIG = 1


class ClusterError(RuntimeError):
    """The cluster could not do the run's work (unreachable, no workers, jobs lost)."""


# --- coordinator -----------------------------------------------------------------------------------


def connect(cluster: str):
    """A Dask client for ``cluster`` (an address or a scheduler file); ClusterError naming it otherwise.
    The wait is Dask's `distributed.comm.timeouts.connect` (30 s unless configured)."""
    from distributed import Client

    address = cluster
    if "://" not in cluster:  # a scheduler file (Dask's own reader would wait for a missing one forever)
        try:
            address = json.loads(Path(cluster).read_text(encoding="utf-8"))["address"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ClusterError(f"cannot read the Dask scheduler file {cluster}: {exc}") from None
        cluster = f"{address} (from {cluster})"
    try:
        return Client(address, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClusterError(f"cannot reach the Dask scheduler at {cluster}: {exc}") from None


def slot_workers(client) -> dict[str, dict]:
    """The connected workers that declare the `slot` resource, by address."""
    workers = client.scheduler_info(n_workers=-1).get("workers", {})
    return {a: w for a, w in workers.items() if (w.get("resources") or {}).get(SLOT_RESOURCE, 0) >= 1}


def wait_for_slot_workers(client, cluster: str, timeout_s: float) -> dict[str, dict]:
    deadline = time.monotonic() + timeout_s
    while True:
        workers = slot_workers(client)
        if workers:
            return workers
        if time.monotonic() > deadline:
            raise ClusterError(
                f"the Dask scheduler at {cluster} has no worker with the '{SLOT_RESOURCE}' resource after "
                f"{timeout_s:g} s; start workers with --nthreads 1 --resources {SLOT_RESOURCE}=1"
            )
        time.sleep(0.5)


def repository_payload(repository: str, clone: Path, shas: list[str]) -> tuple[str, bytes | None]:
    """How workers get the repository: (URL, None) when it has one, else ("", a git bundle).

    A URL target ships its URL. A local partial (blob-less) clone cannot be bundled without fetching every
    blob, so its origin URL is shipped instead. Any other local clone is bundled: all its refs plus the
    commits to measure (which need not be on a branch).
    """
    if not is_local(repository):
        return repository, None
    with contextlib.suppress(GitError):
        if git(clone, "config", "--get", "remote.origin.promisor") == "true":
            return git(clone, "config", "--get", "remote.origin.url"), None
    with tempfile.TemporaryDirectory(prefix="datasmith-bundle-") as tmp:
        bundle = Path(tmp) / "repo.bundle"
        done = subprocess.run(
            [*GIT, "bundle", "create", "--quiet", str(bundle), "--all", "--stdin"],
            cwd=clone, input="".join(f"{sha}\n" for sha in shas), capture_output=True, text=True,
        )  # fmt: skip
        if done.returncode != 0:
            raise GitError(f"git bundle create in {clone} failed: {done.stderr.strip()}")
        return "", bundle.read_bytes()


class ClusterRunner(Runner):
    """A Runner whose jobs run on a Dask cluster; everything before and after them is the local code."""

    client = None

    def run(self, commits: list[str], skip: set[str] | frozenset[str] = frozenset()) -> RunReport:
        try:
            return super().run(commits, skip)
        finally:
            if self.client is not None:
                self.client.close()

    def _prepare(self):
        """Connect before anything is written: an unreachable scheduler ends the run with nothing done."""
        cluster = self.settings.cluster
        self.client = connect(cluster)
        self.workers = wait_for_slot_workers(self.client, cluster, NO_WORKER_GRACE_S)
        return []

    def _execute(self, todo: list[str], _slot_cores, report: RunReport) -> None:
        from distributed import wait

        s = self.settings
        self.say(
            f"{s.source_name}: {len(todo)} commits to measure, {len(report.skipped)} already measured; "
            f"on the Dask cluster {s.cluster} ({len(self.workers)} slot workers now)"
        )
        origin, bundle = repository_payload(s.repository, self.clone, todo)
        shipped = self.client.scatter(bundle, broadcast=True) if bundle is not None else None
        report.bytes_shipped = len(bundle or b"")
        conf = s.asv_config.read_bytes()
        token = uuid.uuid4().hex[:8]
        pending = {
            self.client.submit(
                run_job, s, conf, sha, origin, shipped, key=f"datasmith-job-{s.source_name}-{sha}-{token}",
                resources={SLOT_RESOURCE: 1}, pure=False, retries=0,
            ): sha
            for sha in todo
        }  # fmt: skip
        lost: list[str] = []
        idle_since: float | None = None
        bar = self.progress_bar(len(todo))
        say = bar.lines(self.say)
        try:
            while pending:
                try:
                    with self.client.as_current():
                        done, _ = wait(list(pending), timeout=5, return_when="FIRST_COMPLETED")
                except TimeoutError:
                    done = set()
                if not done:
                    # Tasks wait for a worker forever; a run with none left for long ends instead.
                    if slot_workers(self.client):
                        idle_since = None
                    elif idle_since is None:
                        idle_since = time.monotonic()
                    elif time.monotonic() - idle_since > NO_WORKER_GRACE_S:
                        lost += [f"{sha[:8]} (no worker left)" for sha in pending.values()]
                        break
                    continue
                for future in done:
                    sha = pending.pop(future)
                    try:
                        result = future.result()
                    except Exception as exc:  # a job that never came back: no record, a re-run measures it
                        lost.append(f"{sha[:8]} ({type(exc).__name__}: {exc})")
                        say(f"{sha[:8]}: lost on the cluster: {type(exc).__name__}: {exc}")
                        bar.update(len(report.records) + len(lost))
                        continue
                    record = self._publish(result)
                    report.records.append(record)
                    report.bytes_received += result["bytes"]
                    say(
                        f"{sha[:8]}: {record.status} in {record.benchmark_seconds:.1f} s on {result['worker']} "
                        f"cores {format_cores(record.cores)} ({len(report.records)}/{len(todo)})"
                    )
                    bar.update(len(report.records) + len(lost))
                    future.release()
        finally:
            bar.close()
            for future in pending:
                future.cancel()
        if lost:
            raise ClusterError(
                f"{len(lost)} of {len(todo)} jobs did not come back from the Dask cluster {s.cluster}; "
                f"the other jobs are published and a re-run measures only these: {', '.join(lost)}"
            )

    def _publish(self, result: dict) -> JobRecord:
        """A job's files and record, written exactly as a local job writes them: results first (through
        the same merge into the results tree), then the log, then the record."""
        record = JobRecord(**result["record"])
        files: dict[str, bytes] = result["files"]
        inbox = self.work / "jobs" / self.settings.source_name / f"inbox-{record.run_id}"
        shutil.rmtree(inbox, ignore_errors=True)
        try:
            for rel, data in files.items():
                if rel.startswith("results/"):
                    write_atomic(inbox / rel, data)
            published = []
            if record.status in ("ok", "benchmark_failed"):
                published = publish_results(inbox / "results", self.source_dir, self.settings.machine)
            if sorted(published) != sorted(record.results_paths):
                raise ClusterError(
                    f"{record.commit[:8]}: the job listed {record.results_paths} but sent {published}"
                )
            header = f"# ran on Dask worker {result['worker']} (host {result['host']})\n".encode()
            write_atomic(self.source_dir / record.log_path, header + files.get(record.log_path, b""))
            write_record(self.source_dir, record)
        finally:
            shutil.rmtree(inbox, ignore_errors=True)
        return record


# --- worker ----------------------------------------------------------------------------------------

_machines: set[tuple] = set()
_machines_lock = threading.Lock()
try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux: a killed worker's asv then runs on until it ends
    _prctl = None


def _die_with_worker() -> None:
    """In asv's child process: SIGKILL it when the worker thread that started it dies."""
    if _prctl is not None:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def worker_root() -> Path:
    configured = os.environ.get(WORKER_DIR_ENV)
    if configured:
        return Path(configured).expanduser().resolve()
    from distributed import get_worker

    return Path(get_worker().local_directory).resolve() / "datasmith"


def worker_cores() -> list[int]:
    configured = os.environ.get(WORKER_CORES_ENV)
    if configured:
        try:
            return sorted({int(c) for c in configured.replace(" ", "").split(",") if c})
        except ValueError:
            raise CoresError(f"{WORKER_CORES_ENV}={configured!r} must list core ids, e.g. 2,3") from None
    return available_cores()


@contextlib.contextmanager
def _file_lock(path: Path, blocking: bool = True) -> Iterator[bool]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


@contextlib.contextmanager
def claim_slot(root: Path, settings: RunSettings) -> Iterator[_Slot]:
    """A free slot of this worker folder (flock'ed while the job runs), with its block of cores."""
    cores = worker_cores()
    blocks = allocate_cores(max(1, len(cores) // settings.cores_per_job), settings.cores_per_job, cores)
    source = settings.source_name
    while True:
        for index, block in enumerate(blocks):
            with _file_lock(root / "slots" / f"slot-{index}.lock", blocking=False) as mine:
                if mine:
                    yield _Slot(
                        index, block, root / "worktrees" / source / f"slot-{index}",
                        root / "envs" / source / settings.env_id / f"slot-{index}",
                    )  # fmt: skip
                    return
        time.sleep(0.5)


def worker_clone(root: Path, source: str, sha: str, origin: str, bundle: bytes | None) -> Path:
    """This worker's bare clone of the target's repository, fetched only when ``sha`` is missing."""
    clones = root / "clones"
    path = clones / f"{source}.git"
    with _file_lock(clones / f"{source}.lock"):
        if path.is_dir() and resolve_commit(path, sha):
            return path
        if bundle is not None:
            where = clones / f"{source}.bundle"
            write_atomic(where, bundle)
            origin = str(where)
        if not path.is_dir():
            git(clones, "clone", "--quiet", "--bare", origin, str(path))
        else:
            git(path, "fetch", "--quiet", "--prune", origin, "+refs/heads/*:refs/heads/*")
        if bundle is None and not resolve_commit(path, sha):
            with contextlib.suppress(GitError):  # a commit on no branch (a pull request's): by its id
                git(path, "fetch", "--quiet", origin, sha)
    return path


def run_job(settings: RunSettings, conf: bytes, sha: str, origin: str, bundle: bytes | None) -> dict:
    """One commit's job on this worker (a Dask task): the local job code in this worker's folder, its
    output staged in an outbox and returned as bytes with the record."""
    root = worker_root()
    source = settings.source_name
    conf_path = root / "configs" / f"{source}.asv.conf.json"
    if not conf_path.is_file() or conf_path.read_bytes() != conf:
        write_atomic(conf_path, conf)
    clone = worker_clone(root, source, sha, origin, bundle)
    outbox = root / "outbox" / uuid.uuid4().hex
    local = replace(
        settings, repository=str(clone), asv_config=conf_path, work_dir=root, results_dir=outbox,
        asv_command=asv_command_from_env(), cluster=None,
    )  # fmt: skip
    runner = Runner(local)
    runner.clone = clone
    runner._preexec = _die_with_worker
    try:
        with claim_slot(root, local) as slot:
            key = (str(runner.home), local.machine, tuple(sorted(local.machine_facts.items())))
            with _machines_lock:
                if key not in _machines or not (runner.home / ".asv-machine.json").is_file():
                    runner._machine()
                    _machines.add(key)
            record = runner._job(slot, sha)
        staged = runner.source_dir
        files = {
            str(p.relative_to(staged)): p.read_bytes()
            for p in sorted(staged.rglob("*"))
            if p.is_file() and not p.name.startswith(".") and p.relative_to(staged).parts[0] != "runs"
        }
    finally:
        shutil.rmtree(outbox, ignore_errors=True)
    try:
        from distributed import get_worker

        worker = get_worker().address
    except ValueError:  # called outside a worker (tests of the function itself)
        worker = "-"
    return {
        "record": asdict(record),
        "files": files,
        "bytes": sum(len(b) for b in files.values()),
        "worker": worker,
        "host": socket.gethostname(),
    }

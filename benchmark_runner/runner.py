"""Run asv on a list of commits: N concurrent jobs, each pinned to its own cores, resumable.

Each concurrent job (a *slot*) owns a git worktree, an asv environment folder and a set of cores for the
whole run; it takes commits from a shared queue. asv builds the slot's environment once (`asv setup`,
timed on its own) and then installs each commit into it, so environments are reused across commits but
two asv processes never install into the same one. Every commit runs as `asv run <sha>^!` in its own
results folder; when it ends, its result files are published into the stable tree and a job record is
written (see store.py). A commit with an `ok` record for the same machine, environment and asv arguments
is skipped, so a re-run continues with what is left.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from benchmark_runner.cores import allocate_cores, format_cores
from benchmark_runner.gitrepo import checkout_worktree, prepare_clone, resolve_commit
from benchmark_runner.settings import MACHINE_FACT_KEYS, STABLE_ENV, RunSettings
from benchmark_runner.store import JobRecord, measured_commits, publish_results, write_atomic, write_record
from ingest.progress import ProgressBar

Progress = Callable[[str], None]
# asv's words when the project cannot be built or installed for a commit.
BUILD_FAILURE = re.compile(
    r"Failed to build the project|Skipping \S+-py|Error running .*(pip|build|setup\.py)"
)
KILL_GRACE_S = 5.0


class RunnerBusy(RuntimeError):
    pass


@dataclass
class RunReport:
    source_name: str
    source_dir: Path
    records: list[JobRecord] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # already measured
    wall_seconds: float = 0.0
    bytes_shipped: int = 0  # cluster runs: the repository bundle sent to the workers
    bytes_received: int = 0  # cluster runs: result files and logs the jobs sent back

    @property
    def counts(self) -> dict[str, int]:
        return dict(Counter(r.status for r in self.records))

    @property
    def env_build_seconds(self) -> float:
        return sum(r.env_build_seconds for r in self.records)

    @property
    def asv_seconds(self) -> float:
        """Time spent inside asv processes (environment builds and runs), summed over jobs."""
        return sum(r.env_build_seconds + r.benchmark_seconds for r in self.records)

    def summary(self) -> str:
        statuses = ", ".join(f"{n} {s}" for s, n in sorted(self.counts.items())) or "nothing to run"
        return (
            f"{self.source_name}: {statuses}; {len(self.skipped)} already measured; "
            f"{self.wall_seconds:.1f} s wall, environments {self.env_build_seconds:.1f} s"
            + (f"; {self.bytes_received:,} bytes back from the cluster" if self.bytes_received else "")
        )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class _Slot:
    index: int
    cores: tuple[int, ...]
    worktree: Path
    env_dir: Path
    env_ready: bool = False


@dataclass
class _Job:
    """One commit's job on one slot: what its record needs however the job ends."""

    run_id: str
    sha: str
    slot: _Slot
    log_rel: str
    dir: Path
    started_at: datetime
    env_build: float = 0.0


class Runner:
    def __init__(
        self, settings: RunSettings, progress: Progress | None = None, progress_stream: TextIO | None = None
    ):
        self.settings = settings
        self.say = progress or (lambda _m: None)
        # In a terminal outside a Dagster run, a bar of commits measured (ingest.progress).
        self.progress_stream = progress_stream
        self.work = settings.work_dir.resolve()
        self.source_dir = settings.source_dir.resolve()
        self.env_name = settings.env_id
        self.home = self.work / "home" / settings.source_name
        self._preexec: Callable[[], None] | None = None  # run in each asv child before exec

    # ---------------------------------------------------------------------------------------------
    def run(self, commits: list[str], skip: set[str] | frozenset[str] = frozenset()) -> RunReport:
        started = time.monotonic()
        s = self.settings
        report = RunReport(s.source_name, self.source_dir)
        slot_cores = self._prepare()  # refuses before anything is touched
        self.work.mkdir(parents=True, exist_ok=True)
        lock = os.open(self.work / f"{s.source_name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RunnerBusy(f"another runner is measuring {s.source_name} in {self.work}") from None
            self.clone = prepare_clone(s.repository, self.work / "clones", s.source_name)
            todo = self._pending(commits, skip, report)
            if todo:
                self._execute(todo, slot_cores, report)
        finally:
            os.close(lock)
        report.wall_seconds = time.monotonic() - started
        self.say(report.summary())
        return report

    def _prepare(self):
        """What the run's slots are, checked before anything is written: here the local cores."""
        return allocate_cores(self.settings.jobs, self.settings.cores_per_job)

    def _execute(self, todo: list[str], slot_cores, report: RunReport) -> None:
        s = self.settings
        self.say(
            f"{s.source_name}: {len(todo)} commits to measure, {len(report.skipped)} already measured; "
            f"{s.jobs} jobs on cores {' | '.join(format_cores(c) for c in slot_cores[: len(todo)])}"
        )
        self._machine()
        self._run_slots(todo, slot_cores, report)

    def _pending(self, commits: list[str], skip, report: RunReport) -> list[str]:
        done = measured_commits(
            self.source_dir, self.settings.machine, self.env_name, self.settings.asv_args_hash
        )
        done |= set(skip)
        todo: list[str] = []
        for commit in commits:
            sha = resolve_commit(self.clone, commit)
            if sha is None:
                report.records.append(
                    self._record(commit, "build_failed", None, None, message="commit not found")
                )
                write_record(self.source_dir, report.records[-1])
                self.say(f"{commit}: not found in {self.clone}")
            elif sha in done:
                report.skipped.append(sha)
            elif sha not in todo:
                todo.append(sha)
        return todo

    # ---------------------------------------------------------------------------------------------
    def _env(self, home: Path | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        real_home = Path.home()
        env.update(
            HOME=str(home or self.home),  # asv keeps its machine file in ~/.asv-machine.json
            XDG_CONFIG_HOME=os.environ.get("XDG_CONFIG_HOME", str(real_home / ".config")),
            XDG_CACHE_HOME=os.environ.get("XDG_CACHE_HOME", str(real_home / ".cache")),
            PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
            PIP_DISABLE_PIP_VERSION_CHECK="1",
            PIP_NO_INPUT="1",
            PIP_PROGRESS_BAR="off",
            **STABLE_ENV,
        )
        env.update(self.settings.extra_env)
        return env

    def _machine(self) -> None:
        """`asv machine --machine NAME --yes` with the configured facts, then every fact written out.

        asv stores only the facts that differ from what it detects, so its machine.json would depend on
        the host; the file is completed with the detected values so every result names all five.
        """
        self.home.mkdir(parents=True, exist_ok=True)
        s = self.settings
        facts = [f"--{k}={v}" for k, v in sorted(s.machine_facts.items())]
        subprocess.run(
            [*s.asv_command, "machine", "--machine", s.machine, "--yes", *facts,
             "--config", str(s.asv_config.resolve())],
            cwd=self.work, env=self._env(), check=True, capture_output=True, text=True,
        )  # fmt: skip
        from asv.machine import Machine  # late: asv is heavy and only the real runs need it

        machine_file = self.home / ".asv-machine.json"
        stored = json.loads(machine_file.read_text()) if machine_file.is_file() else {"version": 1}
        detected = {k: str(v) for k, v in Machine.get_defaults().items() if k in MACHINE_FACT_KEYS}
        stored[s.machine] = {**detected, **stored.get(s.machine, {}), **s.machine_facts, "machine": s.machine}
        write_atomic(machine_file, json.dumps(stored, indent=4).encode())

    def _slot_home(self, slot: _Slot) -> Path:
        """Each slot's own HOME: asv rewrites ~/.asv-machine.json (truncate, then write) every time it
        loads it, so two asv processes sharing one would now and then read it half-written."""
        home = self.home / f"slot-{slot.index}"
        write_atomic(home / ".asv-machine.json", (self.home / ".asv-machine.json").read_bytes())
        return home

    def _job_conf(self, slot: _Slot, job_dir: Path) -> Path:
        conf = self.settings.asv_conf()
        bench_dir = Path(conf.get("benchmark_dir", "benchmarks"))
        conf.update(
            # The slot's worktree, checked out at the job's commit, rather than the clone: asv builds from
            # `git clone --shared <repo>`, which checks out the repo's HEAD before the commit. In a blob-less
            # clone (the GitHub stage's) the HEAD's blobs may be missing and the shared clone cannot fetch
            # them; the worktree's HEAD is the job's commit, whose blobs its checkout has just fetched.
            repo=str(slot.worktree),
            benchmark_dir=str(bench_dir if bench_dir.is_absolute() else slot.worktree / bench_dir),
            env_dir=str(slot.env_dir),
            results_dir=str(job_dir / "results"),
            html_dir=str(job_dir / "html"),
        )
        if self.settings.python:
            conf["pythons"] = [self.settings.python]
        path = job_dir / "asv.conf.json"
        job_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(conf, indent=2), encoding="utf-8")
        return path

    # ---------------------------------------------------------------------------------------------
    def _run_slots(self, todo: list[str], slot_cores, report: RunReport) -> None:
        pending: queue.Queue[str] = queue.Queue()
        for sha in todo:
            pending.put(sha)
        env_root = self.work / "envs" / self.settings.source_name / self.env_name
        slots = [
            _Slot(
                i,
                cores,
                self.work / "worktrees" / self.settings.source_name / f"slot-{i}",
                env_root / f"slot-{i}",
            )
            for i, cores in enumerate(slot_cores[: len(todo)])
        ]
        lock = threading.Lock()
        bar = self.progress_bar(len(todo))
        say = bar.lines(self.say)

        def work(slot: _Slot) -> None:
            while True:
                try:
                    sha = pending.get_nowait()
                except queue.Empty:
                    return
                record = self._job(slot, sha)
                with lock:
                    report.records.append(record)
                    say(
                        f"{sha[:8]}: {record.status} in {record.benchmark_seconds:.1f} s on cores "
                        f"{format_cores(slot.cores)} ({len(report.records)}/{len(todo)})"
                    )
                    bar.update(len(report.records))

        threads = [
            threading.Thread(target=work, args=(slot,), name=f"bench-slot-{slot.index}") for slot in slots
        ]
        for thread in threads:
            thread.start()
        try:
            for thread in threads:
                thread.join()
        finally:
            bar.close()

    def progress_bar(self, total: int) -> ProgressBar:
        """The bar of this run's commits (drawn only in a terminal outside a Dagster run)."""
        return ProgressBar(
            f"{self.settings.source_name} benchmarks",
            total=total,
            unit="commits",
            stream=self.progress_stream,
        )

    def _job(self, slot: _Slot, sha: str) -> JobRecord:
        s = self.settings
        run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
        job = _Job(
            run_id=run_id, sha=sha, slot=slot, log_rel=f"logs/{sha}-{run_id}.log",
            dir=self.work / "jobs" / s.source_name / f"slot-{slot.index}", started_at=_now(),
        )  # fmt: skip
        log_path = self.source_dir / job.log_rel
        log_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(job.dir, ignore_errors=True)
        with open(log_path, "w", encoding="utf-8") as log:
            try:
                checkout_worktree(self.clone, slot.worktree, sha)
                conf = self._job_conf(slot, job.dir)
                # An environment left by an earlier run of this target is reused as it is (asv checks it).
                slot.env_ready = slot.env_ready or any(slot.env_dir.glob("*/asv-env-info.json"))
                if not slot.env_ready:
                    t0 = time.monotonic()
                    code, timed_out = self._asv(["setup", "--config", str(conf)], slot, log)
                    job.env_build = time.monotonic() - t0
                    # `asv setup` exits 1 even when it succeeds (it returns its environment list to
                    # sys.exit), so success is judged by the environment asv leaves behind.
                    if timed_out or not any(slot.env_dir.glob("*/asv-env-info.json")):
                        status = "timeout" if timed_out else "build_failed"
                        return self._finish(job, status, "asv setup failed: see the log", code=code)
                    slot.env_ready = True
                args = ["run", f"{sha}^!", "--config", str(conf), "--machine", s.machine,
                        "--cpu-affinity", format_cores(slot.cores), "--show-stderr", *s.asv_args]  # fmt: skip
                t0 = time.monotonic()
                code, timed_out = self._asv(args, slot, log, s.timeout_for(sha))
                seconds = time.monotonic() - t0
            except Exception as exc:  # a git or file problem ends this job, not the run
                log.write(f"\nrunner error: {exc}\n")
                return self._finish(job, "build_failed", str(exc))
        log_text = log_path.read_text(encoding="utf-8", errors="replace")
        if timed_out:
            status, message = "timeout", f"killed after {s.timeout_for(sha):g} s"
        elif BUILD_FAILURE.search(log_text):
            status, message = "build_failed", "asv could not build or install the commit"
        elif code != 0:
            status, message = "benchmark_failed", f"asv exited with {code}"
        else:
            status, message = "ok", ""
        published: list[str] = []
        if status in ("ok", "benchmark_failed"):
            published = publish_results(job.dir / "results", self.source_dir, s.machine)
            if not published:
                status, message = "benchmark_failed", "asv wrote no result file"
        return self._finish(job, status, message, seconds=seconds, code=code, published=published)

    def _asv(
        self, args: list[str], slot: _Slot, log, timeout_s: float | None = None
    ) -> tuple[int | None, bool]:
        """Run asv in its own process group, pinned to the slot's cores; kill the group on timeout."""
        log.write(f"$ asv {' '.join(args)}\n")
        log.flush()
        process = subprocess.Popen(
            [*self.settings.asv_command, *args],
            cwd=slot.worktree, env=self._env(self._slot_home(slot)), stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=self._preexec,
        )  # fmt: skip
        with contextlib.suppress(OSError):  # the build and asv itself stay on the slot's cores
            os.sched_setaffinity(process.pid, slot.cores)
        try:
            return process.wait(timeout=timeout_s or self.settings.timeout_s), False
        except subprocess.TimeoutExpired:
            _kill_group(process)
            return process.returncode, True

    def _record(self, sha, status, slot, log_rel, **extra) -> JobRecord:
        s = self.settings
        now = _now()
        return JobRecord(
            run_id=datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8],
            repo=s.repo, source_name=s.source_name, commit=sha, status=status, machine=s.machine,
            env_name=self.env_name, asv_args=list(s.asv_args), asv_args_hash=s.asv_args_hash,
            started_at=extra.pop("started_at", now), finished_at=now,
            env_build_seconds=extra.pop("env_build_seconds", 0.0),
            benchmark_seconds=extra.pop("benchmark_seconds", 0.0), install_seconds=extra.pop("install_seconds", None),
            exit_code=extra.pop("exit_code", None), slot=slot.index if slot else -1,
            cores=list(slot.cores) if slot else [], log_path=log_rel or "", results_paths=extra.pop("results_paths", []),
            message=extra.pop("message", ""), sampling=s.sampling_record,
        )  # fmt: skip

    def _finish(
        self, job: _Job, status: str, message: str, *, seconds=0.0, code=None, published=()
    ) -> JobRecord:
        published = list(published)
        record = self._record(
            job.sha, status, job.slot, job.log_rel, started_at=job.started_at,
            env_build_seconds=round(job.env_build, 3), benchmark_seconds=round(seconds, 3), exit_code=code,
            results_paths=published, message=message, install_seconds=_install_seconds(self.source_dir, published),
        )  # fmt: skip
        record.run_id = job.run_id
        write_record(self.source_dir, record)  # after the results: a record never points at missing files
        shutil.rmtree(job.dir, ignore_errors=True)
        return record


def _kill_group(process: subprocess.Popen) -> None:
    """SIGTERM the whole process group (asv and its benchmark and build children), then SIGKILL it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=KILL_GRACE_S)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # children may outlive their parent
    process.wait()


def _install_seconds(source_dir: Path, published: list[str]) -> float | None:
    """asv's own build+install time for the commit (the `<build>` entry of the result's durations)."""
    total = None
    for rel in published:
        try:
            durations = json.loads((source_dir / rel).read_text(encoding="utf-8")).get("durations") or {}
        except (OSError, ValueError):
            continue
        if "<build>" in durations:
            total = (total or 0.0) + float(durations["<build>"])
    return total

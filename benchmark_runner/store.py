"""The stable output of a run: one folder per warehouse source, safe to read while jobs still run.

    <results_dir>/<source_name>/results/   an asv results tree (what the warehouse ingests)
    <results_dir>/<source_name>/runs/<commit>/<run_id>.json   one record per job attempt
    <results_dir>/<source_name>/logs/<commit>-<run_id>.log    the job's asv output

Every file is written to a temporary name in its final folder and renamed into place, so a reader (or a
crash) sees either the whole file or none of it. A job's result files are published the moment it ends,
so killing the runner loses only the jobs still running.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

STATUSES = ("ok", "build_failed", "benchmark_failed", "timeout")


@dataclass
class JobRecord:
    run_id: str
    repo: str
    source_name: str
    commit: str
    status: str
    machine: str
    env_name: str
    asv_args: list[str]
    asv_args_hash: str
    started_at: str  # ISO 8601, UTC
    finished_at: str
    env_build_seconds: float  # creating the slot's asv environment (0 when it was reused)
    benchmark_seconds: float  # the `asv run` process, wall clock
    install_seconds: float | None  # asv's own build+install time for the commit, from the result file
    exit_code: int | None
    slot: int
    cores: list[int]
    log_path: str
    results_paths: list[str]  # result files published into results/, relative to the source folder
    message: str = ""
    # noise-aware sampling (sampling.py): the chosen asv settings, the pilot's noise and the choice; None without
    sampling: dict | None = None


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def copy_atomic(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)


@contextmanager
def tree_lock(source_dir: Path) -> Iterator[None]:
    """Serialises merges into one results tree (benchmarks.json is shared by all jobs)."""
    source_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(source_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def publish_results(job_results: Path, source_dir: Path, machine: str) -> list[str]:
    """Move a finished job's asv results into the stable tree; returns the published result files.

    benchmarks.json is merged (the union of every job's benchmarks, the newest description winning), so
    a commit whose benchmark suite differs from the others' keeps its benchmarks described.
    """
    tree = source_dir / "results"
    published: list[str] = []
    with tree_lock(source_dir):
        job_machine = job_results / machine
        if (job_machine / "machine.json").is_file():
            copy_atomic(job_machine / "machine.json", tree / machine / "machine.json")
        for path in sorted(job_machine.glob("*.json")) if job_machine.is_dir() else []:
            if path.name != "machine.json":
                copy_atomic(path, tree / machine / path.name)
                published.append(f"results/{machine}/{path.name}")
        new = job_results / "benchmarks.json"
        if new.is_file():
            merged = {}
            current = tree / "benchmarks.json"
            if current.is_file():
                merged = json.loads(current.read_text(encoding="utf-8"))
            merged.update(json.loads(new.read_text(encoding="utf-8")))
            write_atomic(current, json.dumps(merged, indent=4, sort_keys=True).encode())
    return published


def record_path(source_dir: Path, commit: str, run_id: str) -> Path:
    return source_dir / "runs" / commit / f"{run_id}.json"


def write_record(source_dir: Path, record: JobRecord) -> Path:
    path = record_path(source_dir, record.commit, record.run_id)
    write_atomic(path, json.dumps(asdict(record), indent=2).encode())
    return path


def read_records(source_dir: Path) -> Iterator[tuple[Path, bytes, dict]]:
    """Every job record (path, bytes, parsed), oldest commit folder first; unreadable ones skipped."""
    for path in sorted((source_dir / "runs").glob("*/*.json")):
        try:
            data = path.read_bytes()
            yield path, data, json.loads(data)
        except (OSError, ValueError):
            continue


def measured_commits(source_dir: Path, machine: str, env_name: str, asv_args_hash: str) -> set[str]:
    """Commits with an `ok` job for this machine, environment and asv arguments whose result files
    are all still in the stable tree."""
    done = set()
    for _, _, record in read_records(source_dir):
        if (
            record.get("status") == "ok"
            and record.get("machine") == machine
            and record.get("env_name") == env_name
            and record.get("asv_args_hash") == asv_args_hash
            and record.get("results_paths")
            and all((source_dir / p).is_file() for p in record["results_paths"])
        ):
            done.add(record["commit"])
    return done

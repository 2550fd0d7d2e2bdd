"""What one benchmark run needs to know: the repository, asv's configuration and how to run it."""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

import json5

# The sources file (the core) holds the defaults it checks against; re-exported for the runner.
from ingest.sources import DEFAULT_ASV_ARGS, MACHINE_FACT_KEYS, SamplingSettings, run_source_name  # noqa: F401

# One thread per numeric library, so a benchmark measures the code and not the thread pool.
STABLE_ENV = {"OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def asv_command_from_env() -> tuple[str, ...]:
    """How to start asv: DATASMITH_RUNNER_ASV (a command line) or this Python's asv module."""
    command = os.environ.get("DATASMITH_RUNNER_ASV")
    return tuple(shlex.split(command)) if command else (sys.executable, "-m", "asv")


@dataclass(frozen=True)
class RunSettings:
    repo: str  # owner/name: names the warehouse source and the partition
    repository: str  # a local clone (bare or not) or a git URL
    asv_config: Path  # may live outside the repository
    machine: str
    work_dir: Path  # local scratch: environments, worktrees, per-job folders, asv's HOME
    results_dir: Path  # stable output (results trees, job records, logs); may be a mounted bucket
    jobs: int = 1
    cores_per_job: int = 1
    timeout_s: float = 3600.0
    asv_args: tuple[str, ...] = DEFAULT_ASV_ARGS
    python: str | None = None  # overrides the config's `pythons` (one version per run)
    machine_facts: dict[str, str] = field(default_factory=dict)
    asv_command: tuple[str, ...] = field(default_factory=lambda: asv_command_from_env())
    extra_env: dict[str, str] = field(default_factory=dict)
    # Per-commit timeouts (a revision prefix -> seconds) for commits known to be slow (or, in tests, to
    # force a timeout); every other commit gets timeout_s.
    commit_timeouts: dict[str, float] = field(default_factory=dict)
    # A Dask scheduler address (tcp://host:8786) or scheduler file: the jobs run on that cluster's workers
    # (benchmark_runner/cluster.py); None runs them here.
    cluster: str | None = None
    # Noise-aware sampling (benchmark_runner/sampling.py): run_benchmarks runs a pilot (or reuses its choice)
    # and replaces asv_args' rounds/repeat; sampling_record (the chosen settings and the pilot's noise) is
    # then written with every job record.
    sampling: SamplingSettings | None = None
    sampling_record: dict | None = None

    def timeout_for(self, sha: str) -> float:
        for prefix, seconds in self.commit_timeouts.items():
            if sha.startswith(prefix):
                return seconds
        return self.timeout_s

    @property
    def source_name(self) -> str:
        """The warehouse source the results land in: run.<owner>.<name>.<machine>, lower case."""
        return run_source_name(self.repo, self.machine)

    @property
    def source_dir(self) -> Path:
        return self.results_dir / self.source_name

    @property
    def asv_args_hash(self) -> str:
        return hashlib.sha256(json.dumps(list(self.asv_args)).encode()).hexdigest()[:12]

    def asv_conf(self) -> dict:
        return json5.loads(self.asv_config.read_text(encoding="utf-8"))

    def python_version(self) -> str:
        if self.python:
            return self.python
        pythons = self.asv_conf().get("pythons") or [f"{sys.version_info.major}.{sys.version_info.minor}"]
        return str(pythons[0])

    @property
    def env_id(self) -> str:
        """asv's environment name for this run (tool and Python), plus a hash of any matrix."""
        conf = self.asv_conf()
        env_id = f"{conf.get('environment_type', 'virtualenv')}-py{self.python_version()}"
        matrix = conf.get("matrix") or {}
        if matrix:
            env_id += "-" + hashlib.sha256(json.dumps(matrix, sort_keys=True).encode()).hexdigest()[:8]
        return env_id

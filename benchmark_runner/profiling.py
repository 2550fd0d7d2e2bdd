"""The profiling pass: asv's own cProfile of each task's improved workloads, before and at the commit.

A task (an improving commit) names the workloads it sped up. For each task the pass runs
``asv run <sha>^! --profile --bench '^<benchmark>$' ...`` at the task's commit before and at its commit,
for its top N benchmarks (by speed-up), through the very runner that measures commits
(benchmark_runner.run_benchmarks: the same pinned slots, environments, per-job timeout, skip-if-done
records and publishing, locally or on a Dask cluster). It is a pass of its own, after the timed run: its
result files go to a separate store (``<results_dir>/profiles/<source>/``) that the profiles loader reads
into raw.asv_profiles only, so the profiler's overhead never reaches fct_measurements. asv still times
each benchmark in that pass; ``-a rounds=1 -a repeat=1`` keeps that to one sample.

Tasks whose benchmarks are the same are run together, one runner call per distinct benchmark set; the
skip-if-done record key includes the asv arguments, hence the benchmark set, so a re-run profiles only
what is missing.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from benchmark_runner import run_benchmarks
from benchmark_runner.runner import Progress, RunReport
from benchmark_runner.settings import RunSettings

# One sample for asv's own timing in the profiling pass (the timings of this pass are not used).
PROFILE_ASV_ARGS: tuple[str, ...] = ("--profile", "-a", "rounds=1", "-a", "repeat=1")
PROFILE_SOURCE_PREFIX = "profile."


@dataclass(frozen=True)
class ProfileTask:
    """A task to profile: its commit, the commit before, and its improved benchmarks, most improved first."""

    task_id: str
    commit: str
    commit_before: str | None
    benchmarks: tuple[str, ...]


@dataclass
class ProfileReport:
    source_name: str
    results_dir: Path
    runs: list[RunReport] = field(default_factory=list)
    tasks: int = 0

    @property
    def seconds(self) -> float:
        """Time inside asv processes for the pass (environment builds and runs), summed over jobs."""
        return sum(r.asv_seconds for r in self.runs)

    @property
    def wall_seconds(self) -> float:
        return sum(r.wall_seconds for r in self.runs)

    @property
    def counts(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for run in self.runs:
            for status, n in run.counts.items():
                total[status] = total.get(status, 0) + n
        return total

    def summary(self) -> str:
        statuses = ", ".join(f"{n} {s}" for s, n in sorted(self.counts.items())) or "nothing to run"
        skipped = sum(len(r.skipped) for r in self.runs)
        return (
            f"{self.source_name}: profiled {self.tasks} tasks: {statuses}; {skipped} already profiled; "
            f"{self.wall_seconds:.1f} s wall"
        )


def profile_settings(settings: RunSettings, benchmarks: Iterable[str]) -> RunSettings:
    """The runner settings of a profiling pass over ``benchmarks``: the target's own, with --profile, one
    timing sample, the benchmarks selected by exact name, and results in the profile store, one folder per
    benchmark set (two sets profiled at one commit write the same asv file name)."""
    selection: list[str] = []
    for name in sorted(set(benchmarks)):
        # asv matches a parameterised benchmark as `name(p1, p2)`, a plain one as `name`
        selection += ["--bench", f"^{re.escape(name)}(\\(.*\\))?$"]
    args = (*PROFILE_ASV_ARGS, *selection)
    set_id = hashlib.sha256(json.dumps(sorted(set(benchmarks))).encode()).hexdigest()[:12]
    return replace(settings, asv_args=args, results_dir=profile_results_root(settings) / set_id)


def profile_results_root(settings: RunSettings) -> Path:
    """Where the pass's output lives: <results_dir>/profiles/<benchmark set>/<source_name>/ (results/,
    runs/, logs/ as the runner writes them)."""
    return settings.results_dir / "profiles"


def profile_result_files(settings: RunSettings) -> list[tuple[str, Path]]:
    """Every result file of the target's profile store: (path relative to the store, path)."""
    root = profile_results_root(settings)
    files = sorted(root.glob(f"*/{settings.source_name}/results/*/*.json"))
    return [
        (path.relative_to(root).as_posix(), path)
        for path in files
        if path.name not in ("machine.json", "benchmarks.json") and not path.name.startswith(".")
    ]


def profile_source_name(settings: RunSettings) -> str:
    """The profiles' source in raw.asv_profiles: profile.<the target's source name>."""
    return PROFILE_SOURCE_PREFIX + settings.source_name


def plan(tasks: Iterable[ProfileTask], top_workloads: int) -> dict[tuple[str, ...], list[str]]:
    """Benchmark set -> the commits to profile with it: each task's top N benchmarks, at its commit and
    the commit before (commits in task order, each once per set)."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for task in tasks:
        chosen = tuple(sorted(list(dict.fromkeys(task.benchmarks))[:top_workloads]))
        if not chosen:
            continue
        commits = groups.setdefault(chosen, [])
        for commit in (task.commit_before, task.commit):
            if commit and commit not in commits:
                commits.append(commit)
    return groups


def run_profiles(
    settings: RunSettings,
    tasks: list[ProfileTask],
    top_workloads: int,
    progress: Progress | None = None,
) -> ProfileReport:
    """Profile ``tasks`` (see the module docstring); returns what ran, by runner call."""
    report = ProfileReport(profile_source_name(settings), profile_results_root(settings), tasks=len(tasks))
    for benchmarks, commits in plan(tasks, top_workloads).items():
        report.runs.append(run_benchmarks(profile_settings(settings, benchmarks), commits, progress=progress))
    return report

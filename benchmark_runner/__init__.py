"""Local and cluster execution of asv (plain Python); its public API for other packages."""

from __future__ import annotations

from typing import TYPE_CHECKING

from benchmark_runner.ddl import BENCHMARK_RUNS_DDL

if TYPE_CHECKING:
    from benchmark_runner.runner import Progress, RunReport
    from benchmark_runner.settings import RunSettings

__all__ = ["BENCHMARK_RUNS_DDL", "run_benchmarks"]


def run_benchmarks(
    settings: RunSettings,
    commits: list[str],
    skip: set[str] | frozenset[str] = frozenset(),
    progress: Progress | None = None,
) -> RunReport:
    """Measure ``commits`` (any git revision names) with asv; see benchmark_runner/runner.py's docstring. With
    ``settings.cluster`` the jobs run on a Dask distributed cluster instead (benchmark_runner/cluster.py, whose
    ClusterRunner is a Runner: choosing between them here keeps runner.py from importing cluster.py). With
    ``settings.sampling``, asv's rounds/repeat are first chosen from a pilot job (benchmark_runner/sampling.py)."""
    if settings.sampling is not None:  # noise-aware sampling: a pilot (or its kept choice) sets rounds/repeat
        from benchmark_runner.sampling import tune

        settings = tune(settings, commits, lambda s, c: _runner(s, progress).run(c), progress)
    return _runner(settings, progress).run(commits, skip)


def _runner(settings: RunSettings, progress: Progress | None = None):
    if settings.cluster:
        from benchmark_runner.cluster import ClusterRunner  # late: distributed is the optional extra

        return ClusterRunner(settings, progress)
    from benchmark_runner.runner import Runner

    return Runner(settings, progress)

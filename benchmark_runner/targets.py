"""From a `benchmark_runner:` target to what the runner needs: a clone, the commits, the settings."""

from __future__ import annotations

from pathlib import Path

import duckdb

from benchmark_runner.settings import RunSettings
from benchmark_runner.warehouse import filtered_commits, measured_in_warehouse
from ingest.sources import BenchmarkTarget
from ingest.warehouse import writer_lock


def target_settings(target: BenchmarkTarget, db_path: Path, clones_dir: Path | None = None) -> RunSettings:
    """The target's run settings; without 'clone:' the GitHub stage's clone (ingest.github) is used,
    under ``clones_dir`` (the sources file's `github.clones_dir`) or else the warehouse's clones/ folder."""
    clone = target.clone
    if clone is None:
        try:
            from ingest.github import clone_path, clones_root, ensure_clone
        except ImportError as exc:
            raise LookupError(
                f"benchmark_runner target {target.key!r} (line {target.line}) has no 'clone:' and the GitHub stage's "
                "clones (ingest.github) are not available"
            ) from exc
        path = clone_path(clones_root(db_path, clones_dir), target.repo)
        if not Path(path).exists():
            ensure_clone(f"https://github.com/{target.repo}.git", path)
        clone = str(path)
    return settings_for(target, clone, db_path)


def target_output_settings(target: BenchmarkTarget, db_path: Path) -> RunSettings:
    """Where the target's output is (its source name and folder), for loading it: no clone is needed."""
    return settings_for(target, target.clone or "-", db_path)


def settings_for(
    target: BenchmarkTarget, clone: str, db_path: Path, asv_config: Path | None = None
) -> RunSettings:
    """The run settings of a sources-file target with the given clone; work and results folders default
    to <warehouse folder>/runner/work and /runner/results."""
    runner_root = Path(db_path).resolve().parent / "runner"
    return RunSettings(
        repo=target.repo,
        repository=clone,
        asv_config=asv_config or target.asv_config or Path(clone) / "asv.conf.json",
        machine=target.machine,
        work_dir=target.work_dir or runner_root / "work",
        results_dir=target.results_dir or runner_root / "results",
        jobs=target.jobs,
        cores_per_job=target.cores_per_job,
        timeout_s=target.timeout_s,
        asv_args=target.asv_args,
        python=target.python,
        machine_facts=dict(target.machine_facts),
        cluster=target.cluster,
        sampling=target.sampling,
    )


def _read(db_path: Path, query):
    """A short read of the warehouse, taken between writers (never while one holds the file)."""
    if not Path(db_path).exists():
        return None
    with writer_lock(db_path):
        con = duckdb.connect(str(db_path), read_only=True)
        try:
            return query(con)
        finally:
            con.close()


def target_commits(target: BenchmarkTarget, db_path: Path) -> list[str]:
    if target.commits:
        return list(target.commits)
    commits = _read(db_path, lambda con: filtered_commits(con, target.repo, target.from_commits_filtered))
    if commits is None:
        raise LookupError(f"no warehouse at {db_path} to read fct_core_commits from")
    return commits


def warehouse_measured(settings: RunSettings, db_path: Path) -> set[str]:
    """Commits the warehouse already holds an ok job for; empty before the first ingest."""

    args_hash = settings.asv_args_hash
    if settings.sampling is not None:  # measured with the chosen arguments, if a pilot has chosen them yet
        from benchmark_runner.sampling import chosen_args_hash

        args_hash = chosen_args_hash(settings)
        if args_hash is None:
            return set()

    def query(con):
        try:
            return measured_in_warehouse(con, settings.source_name, settings.env_id, args_hash)
        except duckdb.CatalogException:
            return set()

    return _read(db_path, query) or set()

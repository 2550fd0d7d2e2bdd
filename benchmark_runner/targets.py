"""From a `benchmarks:` target to what the runner needs: a clone, the commits, the settings."""

from __future__ import annotations

from pathlib import Path

import duckdb

from benchmark_runner.settings import RunSettings
from benchmark_runner.sources import BenchmarkTarget
from benchmark_runner.warehouse import filtered_commits, measured_in_warehouse
from ingest.warehouse import writer_lock


def target_settings(target: BenchmarkTarget, db_path: Path, clones_dir: Path | None = None) -> RunSettings:
    """The target's run settings; without 'clone:' the GitHub stage's clone (ingest.git_clones) is used,
    under ``clones_dir`` (the sources file's `github.clones_dir`) or else the warehouse's clones/ folder."""
    clone = target.clone
    if clone is None:
        try:
            from ingest import git_clones
        except ImportError as exc:
            raise LookupError(
                f"benchmarks target {target.key!r} (line {target.line}) has no 'clone:' and the GitHub stage's "
                "clones (ingest.git_clones) are not available"
            ) from exc
        path = git_clones.clone_path(git_clones.clones_root(db_path, clones_dir), target.repo)
        if not Path(path).exists():
            git_clones.ensure_clone(f"https://github.com/{target.repo}.git", path)
        clone = str(path)
    return target.settings_for(clone, db_path)


def target_output_settings(target: BenchmarkTarget, db_path: Path) -> RunSettings:
    """Where the target's output is (its source name and folder), for loading it: no clone is needed."""
    return target.settings_for(target.clone or "-", db_path)


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

    def query(con):
        try:
            return measured_in_warehouse(con, settings.source_name, settings.env_id, settings.asv_args_hash)
        except duckdb.CatalogException:
            return set()

    return _read(db_path, query) or set()

"""Assets for the benchmark runner: measure a repository's commits with asv, then load the results.

One dynamic partition per repository (`benchmark_repos`, keyed by the `benchmark_runner:` targets of the
sources file; assets/partitions.py adds the keys to the instance when a run or the sensor needs them).
The commits are batched inside the run:

- `benchmark_results` runs asv (benchmark_runner/) and writes files only; it takes the pool
  `benchmark_cores`, so with that pool's limit at 1 two runs never share cores;
- `raw/benchmark_runs` loads the files (results through the results ingestion, plus the job records)
  into the warehouse, in the `duckdb_writer` pool.

Plain Python does the work; nothing here depends on the executor, so the same assets run in-process,
under the multiprocess executor, or one Kubernetes pod per partition (deploy/k8s/). A target with
`cluster:` sends its commit jobs to a Dask cluster's workers instead (benchmark_runner/cluster.py).
"""

import logging
from dataclasses import replace
from pathlib import Path

import dagster as dg

from assets.dbt_keys import model_keys
from assets.partitions import DynamicPartitions, KeysFunction
from assets.resources import WarehouseResource
from benchmark_runner import run_benchmarks
from benchmark_runner.targets import (
    target_commits,
    target_output_settings,
    target_settings,
    warehouse_measured,
)
from benchmark_runner.warehouse import ingest_run_outputs
from ingest.sources import Sources

PARTITIONS_NAME = "benchmark_repos"
CORES_POOL = "benchmark_cores"
log = logging.getLogger("datasmith")


class BenchmarkRunConfig(dg.Config):
    """Per-run overrides of the target's settings (0 = as the sources file says)."""

    jobs: int = 0
    cores_per_job: int = 0
    max_commits: int = 0  # measure at most this many of the pending commits, oldest first


def _progress(context):
    def say(message: str) -> None:
        context.log.info(message)
        log.info(message)

    return say


def partition_keys(sources: Sources) -> dict[str, KeysFunction]:
    """The runner's dynamic partitions (one per `benchmarks:` target key) and where their keys come from."""
    section = sources.benchmark_runner
    if section is None or not section.targets:
        return {}
    return {PARTITIONS_NAME: lambda _db: section.keys}


def build_benchmark_definitions(
    sources: Sources, db_path: Path, partitions: DynamicPartitions | None = None
) -> dg.Definitions:
    section = sources.benchmark_runner
    if section is None or not section.targets:
        return dg.Definitions()
    db_path = Path(db_path)
    benchmark_repos = (partitions or DynamicPartitions(partition_keys(sources))).definition(PARTITIONS_NAME)
    github = sources.github
    clones_dir = github.clones_dir if github is not None else None
    # A target that reads fct_core_commits, or checks out the clone the GitHub stage makes (in
    # raw/github_commit_files, upstream of fct_core_commits), runs after the GitHub stage. The dep is on the
    # unpartitioned mart: the repository partitions of the two stages have different keys.
    after_github = any(
        t.from_commits_filtered or (github is not None and t.clone is None) for t in section.targets
    )
    upstream = model_keys("fct_core_commits") if after_github else []

    @dg.asset(
        group_name="benchmark_runner",
        partitions_def=benchmark_repos,
        deps=upstream,
        pool=CORES_POOL,
        kinds={"python", "asv"},
        description=(
            "asv run on the target's commits: N concurrent jobs pinned to their own cores, environments "
            "reused, skip-if-done, per-job timeout; writes results trees, job records and logs (files only)."
        ),
    )
    def benchmark_results(context: dg.AssetExecutionContext, config: BenchmarkRunConfig):
        target = section.by_key(context.partition_key)
        settings = target_settings(target, db_path, clones_dir)
        settings = replace(
            settings,
            jobs=config.jobs or settings.jobs,
            cores_per_job=config.cores_per_job or settings.cores_per_job,
        )
        commits = target_commits(target, db_path)
        skip = warehouse_measured(settings, db_path)
        if config.max_commits:
            commits = [c for c in commits if c not in skip][: config.max_commits]
        report = run_benchmarks(settings, commits, skip=skip, progress=_progress(context))
        for record in report.records:
            if record.status != "ok":
                context.log.warning(
                    f"{record.commit[:8]}: {record.status} ({record.message}); log {record.log_path}"
                )
        return dg.MaterializeResult(
            metadata={
                **{f"jobs_{status}": n for status, n in report.counts.items()},
                "already_measured": len(report.skipped),
                "wall_seconds": round(report.wall_seconds, 1),
                "env_build_seconds": round(report.env_build_seconds, 1),
                "asv_seconds": round(report.asv_seconds, 1),
                "source_name": settings.source_name,
                "output": dg.MetadataValue.path(str(settings.source_dir)),
                **(
                    {
                        "cluster": settings.cluster,
                        "bytes_shipped": report.bytes_shipped,
                        "bytes_received": report.bytes_received,
                    }
                    if settings.cluster
                    else {}
                ),
            }
        )

    @dg.asset(
        key=["raw", "benchmark_runs"],
        group_name="benchmark_runner",
        partitions_def=benchmark_repos,
        deps=[benchmark_results],
        pool="duckdb_writer",
        kinds={"duckdb"},
        description=(
            "Loads a target's run output: its results tree as the results source run.<owner>.<name>.<machine> "
            "(into raw.asv_result_files & co., so fct_measurements holds them) and one row per job here."
        ),
    )
    def raw_benchmark_runs(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        settings = target_output_settings(section.by_key(context.partition_key), db_path)
        with warehouse.get_connection() as con:
            report = ingest_run_outputs(
                con, settings.source_name, settings.source_dir, settings.repo, progress=_progress(context)
            )
        context.log.info(report.summary())
        results = report.results
        return dg.MaterializeResult(
            metadata={
                "job_records_loaded": report.runs_loaded,
                "result_files_loaded": results.files_loaded.get("result", 0) if results else 0,
                "files_quarantined": results.files_quarantined if results else 0,
                "source_name": settings.source_name,
            }
        )

    return dg.Definitions(assets=[benchmark_results, raw_benchmark_runs])

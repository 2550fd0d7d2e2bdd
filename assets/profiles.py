"""Profiles: asv's cProfile data, collected for each task and loaded into the raw layer.

- `benchmark_profiles` (group benchmark_runner, after main/fct_tasks): for every `benchmark_runner:` target
  with `profile:` on, the runner's profiling pass (benchmark_runner/profiling.py) on the target's tasks:
  their top N improved benchmarks at the commit before and at the commit. Files only, pool
  `benchmark_cores`, like benchmark_results.
- `raw/asv_profiles`, `raw/asv_profile_quarantine`, `raw/asv_profile_reads` (group results): every profile
  in any result file of raw.asv_result_files (only the versions not read before), and in the profiling
  pass's own store, one row per function (ingest/results/profile_store.py).
"""

from pathlib import Path

import dagster as dg
import duckdb

from assets.dbt_keys import model_keys
from assets.progress import progress_logger
from assets.resources import WarehouseResource
from ingest.sources import BenchmarkTarget, Sources

RAW_PROFILE_TABLES = {
    "asv_profiles": "One row per function of each asv profile (result file version x benchmark), as pstats reads it.",
    "asv_profile_quarantine": "Profiles that could not be decoded, with the reason and the stored text.",
    "asv_profile_reads": "Every result file version the profiles loader has read, with its profile counts.",
}  # fmt: skip
CORES_POOL = "benchmark_cores"


def profiled_targets(sources: Sources) -> list[BenchmarkTarget]:
    section = sources.benchmark_runner
    targets = section.targets if section is not None else ()
    return [t for t in targets if t.profile is not None and t.profile.enabled]


def tasks_to_profile(con: duckdb.DuckDBPyConnection, repo: str):
    """The repository's tasks from main.fct_tasks, each with its improved benchmarks, most improved first."""
    from benchmark_runner.profiling import ProfileTask

    try:
        rows = con.execute(
            """with workloads as (
                   select commit_task_id, commit_hash, commit_before, commit_date,
                          unnest(workloads, recursive := true)
                   from main.fct_tasks where lower(repo) = lower(?)
               ),
               benchmarks as (
                   select commit_task_id, commit_hash, commit_before, commit_date, benchmark,
                          max(speedup) as speedup
                   from workloads group by all
               )
               select commit_task_id, commit_hash, commit_before,
                      list(benchmark order by speedup desc, benchmark)
               from benchmarks group by commit_task_id, commit_hash, commit_before, commit_date
               order by commit_date, commit_hash""",
            [repo],
        ).fetchall()
    except duckdb.CatalogException:
        return []
    return [ProfileTask(task_id, commit, before, tuple(names)) for task_id, commit, before, names in rows]


def build_profile_definitions(sources: Sources, db_path: Path) -> dg.Definitions:
    targets = profiled_targets(sources)
    github = sources.github
    clones_dir = github.clones_dir if github is not None else None
    assets: list = []
    profile_deps: list = []

    if targets:

        @dg.asset(
            group_name="benchmark_runner",
            deps=model_keys("fct_tasks"),
            pool=CORES_POOL,
            kinds={"python", "asv"},
            description=(
                "asv run --profile on each task of every benchmark_runner target with `profile:` on: its top N "
                "improved benchmarks at the commit before and at the commit, in the runner's pinned, resumable "
                "jobs; files only (the profile store under <results_dir>/profiles/)."
            ),
        )
        def benchmark_profiles(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
            from benchmark_runner.profiling import run_profiles
            from benchmark_runner.targets import target_settings

            metadata: dict = {}
            say = progress_logger(context)
            for target in targets:
                with warehouse.get_connection() as con:
                    tasks = tasks_to_profile(con, target.repo)
                settings = target_settings(target, db_path, clones_dir)
                report = run_profiles(settings, tasks, target.profile.top_workloads, progress=say)
                say(report.summary())
                metadata[f"{target.key}_tasks"] = report.tasks
                metadata[f"{target.key}_asv_seconds"] = round(report.seconds, 1)
                for status, n in report.counts.items():
                    metadata[f"{target.key}_jobs_{status}"] = n
                    if status != "ok":
                        context.log.warning(
                            f"{target.key}: {n} profiling jobs {status} (logs in {report.results_dir})"
                        )
            return dg.MaterializeResult(metadata=metadata)

        assets.append(benchmark_profiles)
        profile_deps.append(benchmark_profiles.key)

    @dg.multi_asset(
        name="raw_asv_profiles",
        group_name="results",
        specs=[
            dg.AssetSpec(
                ["raw", table],
                description=text,
                kinds={"duckdb"},
                group_name="results",
                deps=[dg.AssetKey(["raw", "asv_result_files"]), *profile_deps],
            )
            for table, text in RAW_PROFILE_TABLES.items()
        ],
        pool="duckdb_writer",
        description=(
            "Load every asv profile (`asv run --profile`) into raw.asv_profiles, one row per function: from "
            "the result file versions of raw.asv_result_files not read before, and from the profiling pass's "
            "store; a profile that does not decode goes to raw.asv_profile_quarantine with the reason."
        ),
    )
    def raw_asv_profiles(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        from benchmark_runner.profiling import profile_result_files, profile_source_name
        from benchmark_runner.targets import target_output_settings
        from ingest.results import load_profile_files, load_result_file_profiles

        say = progress_logger(context)
        with warehouse.get_connection() as con:
            report = load_result_file_profiles(con, progress=say)
            for target in targets:
                settings = target_output_settings(target, db_path)
                report.add(
                    load_profile_files(
                        con, profile_source_name(settings), profile_result_files(settings), target.repo
                    )
                )
        context.log.info(report.summary())  # the Dagster log only: the demo's terminal output stays as it was
        for path, benchmark, reason in report.quarantined:
            context.log.warning(f"quarantined the profile of {benchmark or 'the file'} in {path}: {reason}")
        counts = {
            "asv_profiles": {"profiles_loaded": report.profiles_loaded, "functions_loaded": report.functions_loaded},
            "asv_profile_quarantine": {"profiles_quarantined": len(report.quarantined)},
            "asv_profile_reads": {"files_read": report.files_read, "files_with_profiles": report.files_with_profiles},
        }  # fmt: skip
        for table, metadata in counts.items():
            yield dg.MaterializeResult(asset_key=["raw", table], metadata=metadata)

    assets.append(raw_asv_profiles)
    return dg.Definitions(assets=assets)

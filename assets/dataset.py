"""Assets of the dataset stage: commit reports, the export, and an optimizer's score (plain Python in dataset/)."""

import base64
import os
from pathlib import Path

import dagster as dg

from assets.dbt_keys import model_keys
from assets.progress import progress_logger
from assets.resources import WarehouseResource
from ingest.sources import Sources

# The GitHub stage's marts the reports read when they exist (see dataset.github_context).
GITHUB_MARTS = ("dim_pull_requests", "fct_core_commits", "fct_commit_files")
AGENT_RAW_TABLES = {
    "agent_result_files": "Every file of every agent_results folder (an optimizer's asv results), once per distinct content.",
    "agent_runs": "The agent_results entries of the sources file, a new row whenever one changes.",
    "agent_results_quarantine": "Files of agent_results folders that could not be used, with the reason.",
}  # fmt: skip


class ReportSettings(dg.Config):
    """Commit reports, editable in the launchpad of `dagster dev`."""

    fetch_discussion: bool = True  # pull request comments and reviews from the GitHub API (all pages)
    coverage: bool = True  # Codecov coverage when CODECOV_TOKEN is set
    # Rebuild every report; by default only the tasks whose inputs changed are (dataset.reports.report_inputs),
    # and the others keep what GitHub and Codecov said when they were built. DATASMITH_REPORTS_FULL=1 too.
    full_refresh: bool = False


def build_dataset_definitions(sources: Sources, db_path: Path) -> dg.Definitions:
    agent_entries = sources.dataset.agent_results
    # The pull requests in the GitHub marts came from the sources file's GitHub API: their comments,
    # reviews and merger must come from the same one (not GITHUB_API_URL or api.github.com).
    github = sources.github
    github_api_url = github.api_url if github is not None else None
    clones_dir = github.clones_dir if github is not None else None  # where the GitHub stage cloned

    @dg.multi_asset(
        name="raw_agent_results",
        group_name="dataset",
        specs=[
            dg.AssetSpec(["raw", table], description=text, kinds={"duckdb"}, group_name="dataset")
            for table, text in AGENT_RAW_TABLES.items()
        ],
        pool="duckdb_writer",
        description=(
            "Load the `dataset: agent_results:` folders of the sources file into raw.agent_* (kept apart from "
            "raw.asv_result_files, so an optimizer's runs never reach fct_measurements or detection)."
        ),
    )
    def raw_agent_results(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        from dataset.agent_ingest import ingest_agent_results, register_agent_runs

        progress = progress_logger(context)
        loaded = quarantined = 0
        with warehouse.get_connection() as con:
            changed = register_agent_runs(con, agent_entries)
            for entry in agent_entries:
                report = ingest_agent_results(con, entry)
                progress(report.summary())
                for path, reason in report.quarantined:
                    context.log.warning(f"quarantined {entry.name}/{path}: {reason}")
                loaded += report.files_loaded
                quarantined += len(report.quarantined)
        yield dg.MaterializeResult(asset_key=["raw", "agent_result_files"], metadata={"files_loaded": loaded})
        yield dg.MaterializeResult(asset_key=["raw", "agent_runs"], metadata={"entries_changed": changed})
        yield dg.MaterializeResult(
            asset_key=["raw", "agent_results_quarantine"], metadata={"files_quarantined": quarantined}
        )

    @dg.asset(
        key=["dataset", "commit_reports"],
        deps=[
            *model_keys("fct_tasks", "fct_series_points", "fct_task_profile_deltas"),
            *model_keys(*GITHUB_MARTS, only_present=True),
        ],
        group_name="dataset",
        kinds={"python", "markdown", "duckdb"},
        pool="duckdb_writer",
        description=(
            "One Markdown report (and a PNG of the most improved series) per task under "
            "artifacts/reports/, and dataset.commit_reports (read through fct_commit_reports)."
        ),
    )
    def commit_reports(
        context: dg.AssetExecutionContext, config: ReportSettings, warehouse: WarehouseResource
    ):
        from dataset.codecov import CodecovClient
        from dataset.discussion import DiscussionFetcher
        from dataset.reports import build_changed_reports, store_reports, stored_inputs

        folder = Path(warehouse.database).resolve().parent / "reports"
        codecov = CodecovClient.from_env() if config.coverage else None
        fetcher = DiscussionFetcher(api_url=github_api_url) if config.fetch_discussion else None
        try:
            full = config.full_refresh or os.environ.get("DATASMITH_REPORTS_FULL", "") == "1"
            with warehouse.get_connection() as con:
                reports, kept = build_changed_reports(
                    con,
                    Path(warehouse.database),
                    folder,
                    discussion_for=fetcher,
                    coverage_for=codecov.coverage if codecov else None,
                    progress=progress_logger(context),
                    clones_dir=clones_dir,
                    previous=None if full else stored_inputs(con),
                )
                store_reports(con, reports, kept)
        finally:
            if codecov:
                codecov.close()
            if fetcher:
                fetcher.close()
        preview = ""
        if reports:
            first = reports[0]
            preview = first.markdown[:3000]
            if first.plot_path:
                png = base64.b64encode(first.plot_path.read_bytes()).decode()
                preview = preview.replace(f"]({first.plot_path.name})", f"](data:image/png;base64,{png})")
        return dg.MaterializeResult(
            metadata={
                "reports": len(reports) + len(kept),
                "reports_built": len(reports),
                "reports_kept": len(kept),
                "with_pull_request": sum(r.pr is not None for r in reports),
                "with_clone": sum(r.has_clone for r in reports),
                "with_coverage": sum(r.coverage_commit is not None for r in reports),
                "folder": dg.MetadataValue.path(str(folder)),
                "first_report": dg.MetadataValue.md(preview or "no tasks"),
            }
        )

    @dg.asset(
        # dim_repositories, when the GitHub stage is defined, gives the card each repository's license
        deps=[
            *model_keys("fct_tasks", "fct_commit_reports", "fct_task_profile_deltas"),
            *model_keys("dim_repositories", only_present=True),
        ],
        group_name="dataset",
        kinds={"python", "parquet"},
        pool="duckdb_writer",
        description=(
            "The dataset: artifacts/dataset/ with tasks.parquet, tasks.jsonl, monthly data/YYYY-MM.parquet "
            "and the dataset card README.md."
        ),
    )
    def dataset_export(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        from dataset.export import export_dataset

        folder = Path(warehouse.database).resolve().parent / "dataset"
        with warehouse.get_connection() as con:
            written = export_dataset(con, folder)
        context.log.info(
            f"exported {written.tasks} tasks ({', '.join(written.months) or 'no months'}) to {folder}"
        )
        return dg.MaterializeResult(
            metadata={
                "tasks": written.tasks,
                "months": ", ".join(written.months),
                "repositories": len(written.repos),
                "folder": dg.MetadataValue.path(str(folder)),
            }
        )

    return dg.Definitions(assets=[raw_agent_results, commit_reports, dataset_export])

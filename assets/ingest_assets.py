"""Ingest assets: what the sources file names, loaded into the warehouse's raw schema."""

import logging

import dagster as dg

from assets.resources import WarehouseResource
from ingest.dashboards import DashboardUnreadable, ingest_dashboard_source
from ingest.http import FetchPolicy
from ingest.registry import register_sources
from ingest.results import ingest_results_source
from ingest.sources import Sources

log = logging.getLogger("datasmith")


def progress_logger(context: dg.AssetExecutionContext):
    """Progress lines to the Dagster run log (the UI) and to the terminal (`datasmith`)."""

    def progress(message: str) -> None:
        context.log.info(message)
        log.info(message)

    return progress


RAW_RESULTS_TABLES = {
    "asv_result_files": "Every asv result file `<machine>/<hash8>-<env>.json`, once per distinct content.",
    "asv_benchmark_files": "Every benchmarks.json of a results tree, once per distinct content.",
    "asv_machine_files": "Every `<machine>/machine.json`, once per distinct content.",
    "asv_config_files": "The source's asv.conf.json (comments stripped), once per distinct content.",
    "results_quarantine": "Results files that could not be loaded, with the reason and the bytes read.",
}


def build_source_registry(sources: Sources) -> dg.AssetsDefinition:
    @dg.asset(
        key=["raw", "source_registry"],
        group_name="ingest",
        kinds={"duckdb", "yaml"},
        pool="duckdb_writer",
        description="The sources file's entries (name, kind, location, repo), a new row whenever one changes.",
    )
    def source_registry(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        with warehouse.get_connection() as con:
            added = register_sources(con, sources)
        context.log.info(f"{added} new or changed entries from {sources.file}")
        return dg.MaterializeResult(
            metadata={"sources_file": dg.MetadataValue.path(str(sources.file)), "entries_changed": added}
        )

    return source_registry


def build_results_ingest(sources: Sources) -> tuple[dg.AssetsDefinition, dg.AssetChecksDefinition]:
    partitions = dg.StaticPartitionsDefinition([s.name for s in sources.results])

    @dg.multi_asset(
        name="raw_results_files",
        group_name="ingest",
        partitions_def=partitions,
        specs=[
            dg.AssetSpec(["raw", table], description=text, kinds={"duckdb"}, group_name="ingest")
            for table, text in RAW_RESULTS_TABLES.items()
        ],
        pool="duckdb_writer",
        description=(
            "Load one `results:` source of the sources file (an asv results tree) into raw.*: every "
            "file once per distinct content, with provenance; unusable files go to raw.results_quarantine."
        ),
    )
    def raw_results_files(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        source = sources.by_name(context.partition_key)

        progress = progress_logger(context)
        with warehouse.get_connection() as con:
            report = ingest_results_source(con, source, progress=progress, sources_file=sources.file)
        progress(report.summary())
        for path, reason in report.quarantine_reasons:
            context.log.warning(f"quarantined {source.name}/{path}: {reason}")
        loaded_by_table = {
            "asv_result_files": report.files_loaded.get("result", 0),
            "asv_benchmark_files": report.files_loaded.get("benchmarks", 0),
            "asv_machine_files": report.files_loaded.get("machine", 0),
            "asv_config_files": report.files_loaded.get("config", 0),
            "results_quarantine": report.files_quarantined,
        }
        for table, loaded in loaded_by_table.items():
            yield dg.MaterializeResult(
                asset_key=["raw", table],
                metadata={
                    "files_loaded": loaded,
                    "files_seen": report.files_seen,
                    "files_unchanged": report.files_unchanged,
                    "files_quarantined": report.files_quarantined,
                    "source_path": dg.MetadataValue.path(str(source.path)),
                },
            )

    @dg.asset_check(asset=["raw", "asv_result_files"], description="No file version is stored twice.")
    def result_files_loaded_once(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.get_connection() as con:
            duplicates = con.execute(
                """select count(*) from (
                       select source_name, relative_path, sha256 from raw.asv_result_files
                       group by all having count(*) > 1)"""
            ).fetchone()[0]
        return dg.AssetCheckResult(passed=duplicates == 0, metadata={"duplicated_versions": duplicates})

    return raw_results_files, result_files_loaded_once


class DashboardFetchSettings(dg.Config):
    """Politeness and robustness of the dashboard crawler (see ingest.http.FetchPolicy)."""

    max_connections_per_host: int = 4
    requests_per_second: float = 20.0  # per host; 0 = no cap
    max_attempts: int = 5
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    max_retry_after_s: float = 300.0
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 30.0
    max_bytes: int = 50 * 1024 * 1024
    respect_robots: bool = True
    # Ask for every file again even when index.json and info.json are unchanged (asv publish
    # rewrites info.json on every publish, so by default an unchanged pair ends the run).
    revalidate_all: bool = False

    def policy(self) -> FetchPolicy:
        fields = self.model_dump(exclude={"revalidate_all"})
        return FetchPolicy(**{**fields, "requests_per_second": self.requests_per_second or None})


def build_dashboard_ingest(sources: Sources) -> dg.AssetsDefinition:
    partitions = dg.StaticPartitionsDefinition([s.name for s in sources.dashboards])

    @dg.multi_asset(
        name="raw_dashboard_files",
        group_name="ingest",
        partitions_def=partitions,
        specs=[
            dg.AssetSpec(
                ["raw", "dashboard_files"],
                description="Every file of a published asv dashboard, once per distinct content, with provenance.",
                kinds={"duckdb"},
                group_name="ingest",
            ),
            dg.AssetSpec(
                ["raw", "dashboard_missing"],
                description="Files a dashboard's index.json promises that could not be had, with the reason.",
                kinds={"duckdb"},
                group_name="ingest",
            ),
        ],
        pool="duckdb_writer",
        description=(
            "Crawl one `dashboards:` source (an asv publish site, http(s) or a local folder) politely: "
            "robots.txt, per-host connection and rate caps, retries with back-off, conditional requests."
        ),
    )
    def raw_dashboard_files(
        context: dg.AssetExecutionContext, config: DashboardFetchSettings, warehouse: WarehouseResource
    ):
        source = sources.by_name(context.partition_key)

        progress = progress_logger(context)
        unreadable = None
        with warehouse.get_connection() as con:
            try:
                report = ingest_dashboard_source(
                    con,
                    source,
                    progress=progress,
                    policy=config.policy(),
                    revalidate_all=config.revalidate_all,
                )
            except DashboardUnreadable as exc:
                unreadable = str(exc)
        if unreadable is not None:
            # The source could not be read at all: the partition fails, its cause in one line (what
            # could be recorded is in raw.dashboard_missing); other partitions still run. Raised once
            # the connection is closed: dagster-duckdb's get_connection does not close it on an error.
            raise dg.Failure(description=unreadable, allow_retries=False)
        for reason, count in report.missing_reasons.items():
            context.log.warning(f"{source.name}: {count} files missing ({reason})")
        common = {
            "files_promised": report.files_promised,
            "files_unchanged": report.files_unchanged,
            "series_fetched": report.series_fetched,
            "points_loaded": report.points_loaded,
            "files_missing": report.missing,
            "files_failed_transiently": report.failed_transiently,  # asked again on the next run
            "requests": report.requests,
            "retries": report.retries,
            "bytes_downloaded": report.bytes_downloaded,
            "location": source.url,
        }
        yield dg.MaterializeResult(
            asset_key=["raw", "dashboard_files"], metadata={**common, "files_loaded": report.total_loaded}
        )
        yield dg.MaterializeResult(
            asset_key=["raw", "dashboard_missing"],
            metadata={**common, "missing_recorded": report.missing_recorded},
        )

    return raw_dashboard_files

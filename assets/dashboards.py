"""The dashboards stage's asset: each `dashboards:` source (a published asv site) crawled into the raw schema."""

import dagster as dg

from assets.partitions import materialize_each_partition
from assets.progress import progress_logger
from assets.resources import WarehouseResource
from ingest.dashboards import DashboardUnreadable, ingest_dashboard_source
from ingest.http import FetchPolicy
from ingest.sources import Sources


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
        group_name="dashboards",
        partitions_def=partitions,
        specs=[
            dg.AssetSpec(
                ["raw", "dashboard_files"],
                description="Every file of a published asv dashboard, once per distinct content, with provenance.",
                kinds={"duckdb"},
                group_name="dashboards",
            ),
            dg.AssetSpec(
                ["raw", "dashboard_missing"],
                description="Files a dashboard's index.json promises that could not be had, with the reason.",
                kinds={"duckdb"},
                group_name="dashboards",
            ),
        ],
        pool="duckdb_writer",
        backfill_policy=dg.BackfillPolicy.single_run(),
        description=(
            "Crawl each `dashboards:` source (an asv publish site, http(s) or a local folder) politely: "
            "robots.txt, per-host connection and rate caps, retries with back-off, conditional requests."
        ),
    )
    def raw_dashboard_files(
        context: dg.AssetExecutionContext, config: DashboardFetchSettings, warehouse: WarehouseResource
    ):
        progress = progress_logger(context)

        def load(name: str) -> dict:
            source = sources.by_name(name)
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
                # The source could not be read at all: its partition fails, its cause in one line (what
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
            return {
                ("raw", "dashboard_files"): {**common, "files_loaded": report.total_loaded},
                ("raw", "dashboard_missing"): {**common, "missing_recorded": report.missing_recorded},
            }

        # every partition of the run (one, or all of them from `datasmith materialize`), each on its own
        yield from materialize_each_partition(context, load)

    return raw_dashboard_files

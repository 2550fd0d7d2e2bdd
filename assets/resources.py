"""Resources: the DuckDB warehouse (one writer at a time) and dbt."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from dagster_duckdb import DuckDBResource

from ingest.warehouse import create_schema, writer_lock


def stage_ddl() -> tuple[str, ...]:
    """Every stage's tables, from each stage package's public API: the warehouse is created with all of them so
    dbt can build before the assets that write them first run."""
    from benchmark_runner import BENCHMARK_RUNS_DDL
    from dataset import DATASET_DDL
    from detection import DETECTION_DDL
    from ingest.dashboards import DASHBOARD_DDL  # late: the dashboards stage pulls in asv
    from ingest.github import GITHUB_DDL
    from ingest.registry import REGISTRY_DDL
    from ingest.results import PROFILES_DDL, RESULTS_DDL

    return (
        RESULTS_DDL,
        PROFILES_DDL,
        DETECTION_DDL,
        REGISTRY_DDL,
        DASHBOARD_DDL,
        GITHUB_DDL,
        DATASET_DDL,
        BENCHMARK_RUNS_DDL,
    )


class WarehouseResource(DuckDBResource):
    """dagster-duckdb's resource, made safe for several processes: every connection is opened
    under the warehouse's writer lock (see ingest.warehouse), so concurrent runs queue instead of
    failing on DuckDB's file lock. ``sources_file`` is the sources file the code location was built from
    (for steps that read its settings, such as dbt's vars)."""

    sources_file: str | None = None

    @contextmanager
    def get_connection(self) -> Iterator:
        with writer_lock(self.database), super().get_connection() as con:
            try:
                create_schema(con, stage_ddl())
                yield con
            finally:  # dagster-duckdb closes it only when the block succeeds: a failed step kept the
                con.close()  # file open, past the writer lock, until garbage collection

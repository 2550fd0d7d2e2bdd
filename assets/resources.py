"""Resources: the DuckDB warehouse (one writer at a time) and dbt."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from importlib.metadata import version as package_version
from pathlib import Path

from dagster_dbt import DbtCliResource
from dagster_duckdb import DuckDBResource
from packaging.version import Version

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


class WarehouseDbtCli(DbtCliResource):
    """dagster-dbt's dbt resource without two start-up costs it pays on every `dbt build` that this project
    does not use (measured in a cProfile of `datasmith materialize` on the sample: 58.6 s of 4 builds,
    and 12.2 s, on a machine under load 8):

    - it builds dbt's adapter in this process (profile, project, runtime config, the DuckDB adapter) only
      for `fetch_row_counts()` / `fetch_column_metadata()`, which this project replaces by reading the
      warehouse after dbt exits (assets.dbt_assets.with_table_metadata);
    - it runs `dbt --version` in a subprocess to learn dbt's version; the dbt beside this Python is the
      installed dbt-core package, whose version its metadata gives."""

    def _initialize_dbt_core_adapter(self, args):
        return None

    @cached_property
    def _cli_version(self) -> Version:
        beside = Path(sys.executable).parent / "dbt"
        if Path(self.dbt_executable) == beside:
            return Version(package_version("dbt-core"))
        return super()._cli_version

"""Resources: the DuckDB warehouse (one writer at a time) and dbt."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from dagster_duckdb import DuckDBResource

from ingest.warehouse import create_raw_schema, writer_lock


class WarehouseResource(DuckDBResource):
    """dagster-duckdb's resource, made safe for several processes: every connection is opened
    under the warehouse's writer lock (see ingest.warehouse), so concurrent runs queue instead of
    failing on DuckDB's file lock."""

    @contextmanager
    def get_connection(self) -> Iterator:
        with writer_lock(self.database), super().get_connection() as con:
            try:
                create_raw_schema(con)
                yield con
            finally:  # dagster-duckdb closes it only when the block succeeds: a failed step kept the
                con.close()  # file open, past the writer lock, until garbage collection

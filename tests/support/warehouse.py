"""The warehouse as the Dagster WarehouseResource creates it (every stage's tables), for tests outside Dagster."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from assets.resources import stage_ddl
from ingest.warehouse import connect_writer as _connect_writer
from ingest.warehouse import create_schema


@contextmanager
def connect_writer(db_path: str | os.PathLike) -> Iterator[duckdb.DuckDBPyConnection]:
    """ingest.warehouse.connect_writer with every stage's tables in place."""
    with _connect_writer(db_path, stage_ddl()) as con:
        yield con


def create_raw_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Every stage's tables on ``con``."""
    create_schema(con, stage_ddl())

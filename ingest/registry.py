"""raw.source_registry: the sources file's entries as the warehouse has seen them over time."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb

from ingest.identifiers import URL_CREDENTIALS
from ingest.sources import Sources

REGISTRY_DDL = """
create schema if not exists raw;
-- The sources file as it was at each load: a new row only when an entry changes.
create table if not exists raw.source_registry (
    source_name varchar not null,
    source_kind varchar not null,
    location    varchar not null,
    repo        varchar,
    registered_at timestamp not null
);
"""


def register_sources(con: duckdb.DuckDBPyConnection, sources: Sources) -> int:
    """Append a row for every entry that is new or whose location or repo changed; returns how many.
    Locations are stored without credentials (``DashboardSource.location`` has none); rows that an
    earlier version stored with ``user:password@`` in a URL are cleaned here."""
    con.execute(
        "update raw.source_registry set location = regexp_replace(location, $p, '\\1') "
        "where regexp_matches(location, $p)",
        {"p": URL_CREDENTIALS},
    )
    now = datetime.now(UTC).replace(tzinfo=None)
    added = 0
    for source in sources.all:
        latest = con.execute(
            """select source_kind, location, repo from raw.source_registry where source_name = ?
               order by registered_at desc limit 1""",
            [source.name],
        ).fetchone()
        if latest != (source.kind, source.location, source.repo):
            con.execute(
                "insert into raw.source_registry values (?, ?, ?, ?, ?)",
                [source.name, source.kind, source.location, source.repo, now],
            )
            added += 1
    return added

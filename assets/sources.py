"""The sources stage's asset: the registry of what the sources file lists (raw.source_registry)."""

import dagster as dg

from assets.resources import WarehouseResource
from ingest.registry import register_sources
from ingest.sources import Sources


def build_source_registry(sources: Sources) -> dg.AssetsDefinition:
    @dg.asset(
        key=["raw", "source_registry"],
        group_name="sources",
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

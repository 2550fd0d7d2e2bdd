"""The dbt models as Dagster assets, downstream of the ingest assets through the dbt sources."""

import json
import os
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from assets.dbt_project import dbt_project
from assets.resources import WarehouseResource
from ingest.sources import load_sources
from ingest.warehouse import writer_lock


class WarehouseTranslator(DagsterDbtTranslator):
    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        # Models by bare name (fct_measurements), as people write them in SQL; sources keep their
        # meta asset keys (raw/...), which are the ingest assets.
        if dbt_resource_props.get("resource_type") == "model":
            return dg.AssetKey(dbt_resource_props["name"])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        # models/<layer>/... -> the layer (staging, intermediate, marts)
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "marts"


@dbt_assets(
    manifest=dbt_project.manifest_path,
    dagster_dbt_translator=WarehouseTranslator(
        settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)
    ),
    pool="duckdb_writer",
)
def warehouse_dbt_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
):
    # dbt opens the DuckDB file in its own process: hold the writer lock for the whole build.
    os.environ["DATASMITH_DB"] = warehouse.database
    dbt_vars = load_sources().dbt_vars()  # the sources file's replication settings
    with writer_lock(warehouse.database):
        yield from dbt.cli(["build", "--vars", json.dumps(dbt_vars)], context=context).stream()

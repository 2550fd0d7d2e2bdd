"""The dbt models as Dagster assets, downstream of the ingest assets through the dbt sources."""

import json
import os
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from assets.dbt_project import dbt_project, keep_partial_parse
from assets.resources import WarehouseResource
from ingest.sources import load_sources
from ingest.warehouse import writer_lock

# The benchmark runner's loader (`raw/benchmark_runs`) writes a run's results through the results
# ingestion, into the tables of these dbt sources as well as raw.benchmark_runs; the models that read them
# wait for it too, or a run ordered after the GitHub stage would be collated before its results are loaded.
RUNNER_LOADED_SOURCES = {"results", "ingest"}
RUNNER_RUNS_KEY = dg.AssetKey(["raw", "benchmark_runs"])


class WarehouseTranslator(DagsterDbtTranslator):
    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props.get("resource_type") != "model" or any(
            dep.asset_key == RUNNER_RUNS_KEY for dep in spec.deps
        ):
            return spec
        upstream = props.get("depends_on", {}).get("nodes", [])
        sources = manifest.get("sources", {})
        if any(sources.get(u, {}).get("source_name") in RUNNER_LOADED_SOURCES for u in upstream):
            return spec.merge_attributes(deps=[RUNNER_RUNS_KEY])
        return spec

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
        invocation = dbt.cli(["build", "--vars", json.dumps(dbt_vars)], context=context)
        yield from invocation.stream()
    keep_partial_parse(invocation.target_path)

"""The dbt models as Dagster assets, keyed by the tables they build; a dbt source is the asset that writes its table."""

import json
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from assets.dbt_project import dbt_project, warehouse_target
from assets.resources import WarehouseResource
from ingest.sources import load_sources
from ingest.warehouse import writer_lock

# The benchmark runner's loader (`raw/benchmark_runs`) writes a run's results through the results
# ingestion, into the tables of these dbt sources as well as raw.benchmark_runs; the models that read them
# wait for it too, or a run ordered after the GitHub stage would be collated before its results are loaded.
# Delete this edge once raw.asv_result_files & co. have one writer asset (issue 15's one-writer rule).
RUNNER_LOADED_SOURCES = {"results", "sources"}
RUNNER_RUNS_KEY = dg.AssetKey(["raw", "benchmark_runs"])


class WarehouseTranslator(DagsterDbtTranslator):
    """Asset keys are the tables dbt builds and reads: a model is `[<schema>, <model>]` (staging,
    intermediate or main, as built), a source `[<source schema>, <identifier>]` (`["raw", "asv_result_files"]`,
    `["detection", "breakpoints"]`), which is the key of the Python asset that writes that table, so the
    two are one asset. Groups are dbt's own (one per stage, models/groups.yml): the default translator's."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        return dg.AssetKey(table_key(dbt_resource_props))

    def get_automation_condition(
        self, dbt_resource_props: Mapping[str, Any]
    ) -> dg.AutomationCondition | None:
        """Every model follows new data upstream (assets.automation.FOLLOW_UPSTREAM, an `eager()`), once
        the automation sensor that evaluates it is on; seeds and snapshots stay manual."""
        from assets.automation import FOLLOW_UPSTREAM

        return FOLLOW_UPSTREAM if dbt_resource_props.get("resource_type") == "model" else None

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props.get("resource_type") != "model" or any(
            dep.asset_key == RUNNER_RUNS_KEY for dep in spec.deps
        ):
            return spec
        sources = manifest.get("sources", {})
        upstream = props.get("depends_on", {}).get("nodes", [])
        if any(sources.get(u, {}).get("source_name") in RUNNER_LOADED_SOURCES for u in upstream):
            return spec.merge_attributes(deps=[RUNNER_RUNS_KEY])
        return spec


def table_key(dbt_resource_props: Mapping[str, Any]) -> list[str]:
    """`[schema, table]` of a dbt model, seed, snapshot or source, as the warehouse names it."""
    name = (
        dbt_resource_props.get("identifier") if dbt_resource_props.get("resource_type") == "source" else None
    )
    name = name or dbt_resource_props.get("alias") or dbt_resource_props["name"]
    return [dbt_resource_props["schema"], name]


def unwritten_source_specs(manifest: Mapping[str, Any], written: set[dg.AssetKey]) -> list[dg.AssetSpec]:
    """An asset spec for each dbt source table that no asset in `written` writes (the GitHub stage's raw
    tables when the sources file has no `github:`), in the group of the stage whose staging folder declares
    it (models/staging/<stage>/): dbt has no groups for sources, and Dagster would put them in `default`."""
    specs = []
    for source in manifest.get("sources", {}).values():
        key = dg.AssetKey(table_key(source))
        if key in written:
            continue
        folders = source.get("original_file_path", "").split("/")
        stage = folders[2] if len(folders) > 3 and folders[:2] == ["models", "staging"] else None
        specs.append(dg.AssetSpec(key, group_name=stage, description=source.get("description") or None))
    return specs


def dbt_build_args(database: str, dbt_vars: Mapping[str, Any]) -> list[str]:
    """`dbt build` with the warehouse path as the `datasmith_db` var, which profiles.yml reads: the dbt
    subprocess gets the path on its command line, never through this process's environment."""
    return ["build", "--vars", json.dumps({**dbt_vars, "datasmith_db": str(database)})]


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
    dbt_vars = load_sources(warehouse.sources_file).dbt_vars()  # the sources file's replication settings
    with writer_lock(warehouse.database):
        invocation = dbt.cli(
            dbt_build_args(warehouse.database, dbt_vars),
            context=context,
            target_path=warehouse_target(
                warehouse.database
            ),  # its partial-parse state kept for the next build
        )
        # dagster-dbt's fetch_row_counts() queries through dbt's adapter while dbt still runs, which
        # opens the DuckDB file in this process and makes dbt's next model fail on the file lock; so
        # the events are collected until dbt has exited, then each model's gets its table's row count
        # and column schema, read here under the writer lock we still hold.
        events = list(invocation.stream())
        yield from with_table_metadata(events, invocation.manifest, warehouse.database)


def with_table_metadata(events: list, manifest: Mapping[str, Any], database: str) -> list:
    """Each model Output with `dagster/row_count` and `dagster/column_schema` from the warehouse."""
    import duckdb

    outputs = [e for e in events if isinstance(e, dg.Output) and "unique_id" in (e.metadata or {})]
    if not outputs:
        return events
    con = duckdb.connect(database, read_only=True)
    try:
        tables = {}
        for event in outputs:
            props = manifest["nodes"].get(event.metadata["unique_id"].value, {})
            schema, name = props.get("schema"), props.get("alias") or props.get("name")
            columns = con.execute(
                "select column_name, data_type from information_schema.columns"
                " where table_schema = ? and table_name = ? order by ordinal_position",
                [schema, name],
            ).fetchall()
            if not columns:  # ephemeral, or not built
                continue
            rows = con.execute(f'select count(*) from "{schema}"."{name}"').fetchone()[0]
            tables[id(event)] = {
                "dagster/row_count": dg.MetadataValue.int(rows),
                "dagster/column_schema": dg.TableSchema(
                    columns=[dg.TableColumn(name=c, type=t) for c, t in columns]
                ),
            }
    finally:
        con.close()
    return [e.with_metadata({**e.metadata, **tables[id(e)]}) if id(e) in tables else e for e in events]

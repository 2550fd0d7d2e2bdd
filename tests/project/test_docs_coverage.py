"""Every dbt model and every column the warehouse really has is described in the models' YAML.

The oracle is the built warehouse itself (DuckDB's information_schema), not the YAML: a column a model
gains without a description, or a description left behind for a column that is gone, fails here.
"""

from __future__ import annotations

import json

import duckdb

from assets.dbt_project import ensure_manifest
from tests.support.dataset_support import shared_demo_warehouse


def documented_models() -> dict[tuple[str, str], dict]:
    manifest = json.loads(ensure_manifest().read_text())
    return {
        (node["schema"], node["alias"] or node["name"]): node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model"
    }


def warehouse_columns(db) -> dict[tuple[str, str], set[str]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where table_schema in ('staging', 'intermediate', 'main')"
        ).fetchall()
    finally:
        con.close()
    columns: dict[tuple[str, str], set[str]] = {}
    for schema, table, column in rows:
        columns.setdefault((schema, table), set()).add(column)
    return columns


def test_every_model_and_column_is_described(tmp_path_factory):
    # the demo warehouse: a whole `datasmith materialize` (every model built; the column set of a model
    # does not depend on how many rows it holds), shared with the dataset and detection tests
    models = documented_models()
    built = warehouse_columns(shared_demo_warehouse(tmp_path_factory))
    assert len(models) > 40, "the manifest lists the project's models"

    problems = []
    for key, node in sorted(models.items()):
        name = node["name"]
        if not node["description"].strip():
            problems.append(f"{name}: no description")
        if node["config"].get("materialized") == "ephemeral":
            continue
        if key not in built:
            problems.append(f"{name}: not built in the warehouse ({key[0]}.{key[1]})")
            continue
        documented = {column.lower(): info for column, info in node["columns"].items()}
        for column in sorted(built[key]):
            info = documented.get(column.lower())
            if info is None:
                problems.append(f"{name}.{column}: not documented")
            elif not info["description"].strip():
                problems.append(f"{name}.{column}: empty description")
        for column in sorted(set(documented) - {c.lower() for c in built[key]}):
            problems.append(f"{name}.{column}: documented but the model has no such column")
    assert problems == []

"""dbt exposures (models/exposures.yml, issue 16): the export, the commit reports and the replication plots
are in dbt's lineage, each depending on the models its Dagster asset reads."""

from __future__ import annotations

import json

from tests.support.common import PROJECT_ROOT


def test_each_exposure_depends_on_what_its_dagster_asset_reads(tmp_path):
    from assets.dbt_project import ensure_manifest
    from assets.definitions import build_definitions

    manifest = json.loads(ensure_manifest().read_text())
    exposures = {e["name"]: e for e in manifest["exposures"].values()}
    assert set(exposures) == {"dataset_export", "commit_reports", "replication_plots"}
    graph = build_definitions(
        PROJECT_ROOT / "samples" / "sources.yml", tmp_path / "w.duckdb"
    ).resolve_asset_graph()
    for name, exposure in exposures.items():
        assert exposure["description"].strip() and exposure["owner"]["name"]
        models = {n.split(".")[-1] for n in exposure["depends_on"]["nodes"]}
        assert models and all(n.startswith("model.") for n in exposure["depends_on"]["nodes"])
        (key,) = [k for k in graph.get_all_asset_keys() if k.path[-1] == name]  # [schema, table] keys
        reads = {k.path[-1] for k in graph.get(key).parent_keys}
        assert models <= reads, (name, models - reads)
    # exposures document the lineage; they add no Dagster assets
    assert not [k for k in graph.get_all_asset_keys() if "exposure" in k.to_user_string()]

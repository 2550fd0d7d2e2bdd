"""The Dagster code location: one graph from the ingest assets through every dbt model."""

from __future__ import annotations

import json

import dagster as dg
import duckdb

from tests.support.common import PROJECT_ROOT
from tests.support.dataset_support import shared_demo_warehouse

DEMO_SOURCES = PROJECT_ROOT / "samples" / "sources.yml"


def test_ingest_assets_and_dbt_models_form_one_graph(tmp_path):
    from assets.dbt_project import ensure_manifest
    from assets.definitions import build_definitions

    ensure_manifest()
    defs = build_definitions(DEMO_SOURCES, tmp_path / "w.duckdb")
    graph = defs.resolve_asset_graph()
    fct = dg.AssetKey(["main", "fct_measurements"])
    upstream = dg.AssetSelection.assets(fct).upstream().resolve(graph)
    for key in (
        ["raw", "asv_result_files"],
        ["raw", "asv_benchmark_files"],
        ["raw", "asv_config_files"],
        ["raw", "source_registry"],
        ["staging", "stg_results__result_files"],
        ["intermediate", "int_results__measurements"],
    ):
        assert dg.AssetKey(key) in upstream, key
    assert {dg.AssetKey(["main", "dim_benchmarks"]), dg.AssetKey(["main", "dim_machines"])} <= (
        dg.AssetSelection.assets(fct).downstream().resolve(graph)
    )
    raw = graph.get(dg.AssetKey(["raw", "asv_result_files"]))
    assert raw.partitions_def.get_partition_keys() == ["sample"]
    check_names = {key.name for key in graph.asset_check_keys}
    assert any(name.startswith("unique_combination_fct_measurements") for name in check_names)
    assert "result_files_loaded_once" in check_names


def test_the_demo_warehouse_holds_every_commit_of_the_sample(tmp_path_factory):
    # The session's demo build (samples/sources.yml + two agent folders the score reads; it asserts exit 0).
    db = shared_demo_warehouse(tmp_path_factory)
    truth = json.loads((PROJECT_ROOT / "samples" / "ground_truth.json").read_text())
    expected = {c["commit"] if isinstance(c, dict) else c for c in truth["commits"]}
    con = duckdb.connect(str(db), read_only=True)
    commits = {r[0] for r in con.execute("select distinct commit_hash from fct_measurements").fetchall()}
    statuses = dict(con.execute("select status, count(*) from fct_measurements group by 1").fetchall())
    with_stats = con.execute("select count(*) from fct_measurements where ci_99_a is not null").fetchone()[0]
    con.close()
    assert commits == expected
    assert statuses.get("ok", 0) > 0 and set(statuses) <= {"ok", "failed", "skipped"}
    assert with_stats > 0  # the sample is run with real statistics, not --quick

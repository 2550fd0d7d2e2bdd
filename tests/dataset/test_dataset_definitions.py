"""The dataset stage in the Dagster graph: reports after the tasks mart, the export after the reports,
agent results scored by the dbt marts, and the score's marts apart from the history."""

from __future__ import annotations

import dagster as dg

from tests.support.common import PROJECT_ROOT

DEMO_SOURCES = PROJECT_ROOT / "samples" / "sources.yml"


def test_dataset_assets_sit_between_the_marts_in_one_graph(tmp_path):
    from assets.dbt_project import ensure_manifest
    from assets.definitions import build_definitions

    ensure_manifest()
    graph = build_definitions(DEMO_SOURCES, tmp_path / "w.duckdb").resolve_asset_graph()
    key = dg.AssetKey
    export_upstream = dg.AssetSelection.assets(key("dataset_export")).upstream().resolve(graph)
    for needed in (
        ["main", "fct_commit_reports"],
        ["dataset", "commit_reports"],
        ["main", "fct_tasks"],
        ["main", "fct_performance_improvements"],
        ["detection", "breakpoints"],
    ):
        assert key(needed) in export_upstream, needed
    scores_upstream = dg.AssetSelection.assets(key(["main", "fct_agent_scores"])).upstream().resolve(graph)
    for needed in (
        ["raw", "agent_result_files"],
        ["raw", "agent_runs"],
        ["main", "fct_tasks"],
        ["main", "fct_commit_reports"],
    ):
        assert key(needed) in scores_upstream, needed
    # agent results never feed the history or detection
    history_upstream = (
        dg.AssetSelection.assets(key(["main", "fct_measurements"]), key(["detection", "breakpoints"]))
        .upstream()
        .resolve(graph)
    )
    assert key(["raw", "agent_result_files"]) not in history_upstream
    checks = {k.name for k in graph.asset_check_keys}
    assert any(name.startswith("unique_combination_fct_agent_scores") for name in checks)

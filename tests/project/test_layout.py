"""Issue 15's layout, as the code has it: Dagster groups are the stages, Python asset keys are [schema, table],
a bare table name still selects its asset, no process-environment plumbing, no module-level registry of
partitions, and the warehouse core imports no stage."""

from __future__ import annotations

import ast
from pathlib import Path

import dagster as dg

from assets.cli import resolve_bare_names

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STAGES = {"sources", "results", "dashboards", "github", "benchmark_runner", "detection", "dataset"}


def _module(path: str) -> ast.Module:
    return ast.parse((PROJECT_ROOT / path).read_text(), path)


def test_python_assets_are_grouped_by_stage_and_keyed_by_their_table(tmp_path):
    from assets.dbt_project import ensure_manifest
    from assets.definitions import build_definitions

    ensure_manifest()
    defs = build_definitions(PROJECT_ROOT / "samples" / "sources.yml", tmp_path / "w.duckdb")
    graph = defs.resolve_asset_graph()
    python_keys = {
        key
        for a in defs.assets
        if isinstance(a, dg.AssetsDefinition) and a.is_executable and a.op.name != "warehouse_dbt_models"
        for key in a.keys
    }
    groups = {graph.get(key).group_name for key in python_keys}
    assert {"sources", "results", "dashboards", "detection", "dataset"} <= groups <= STAGES, groups
    keys = graph.get_all_asset_keys()
    assert dg.AssetKey(["detection", "breakpoints"]) in keys
    assert dg.AssetKey(["detection", "skipped_series"]) in keys
    assert dg.AssetKey(["dataset", "commit_reports"]) in keys
    assert not {dg.AssetKey("breakpoints"), dg.AssetKey("breakpoints_skipped")} & keys
    # every asset, dbt's and the raw tables no Python asset of this sources file writes (GitHub's, the
    # runner's) included, is in its stage's group: none in Dagster's `default`
    every_group = {graph.get(key).group_name for key in keys}
    assert every_group == STAGES | {"measurements"}, every_group


def test_a_bare_table_name_selects_the_one_asset_whose_last_key_part_it_is():
    @dg.asset(key=["raw", "asv_result_files"])
    def files(): ...

    @dg.asset(key=["main", "fct_measurements"], deps=[files])
    def measurements(): ...

    @dg.asset(key=["x", "twice"])
    def one(): ...

    @dg.asset(key=["y", "twice"])
    def two(): ...

    graph = dg.Definitions(assets=[files, measurements, one, two]).resolve_asset_graph()
    keys = graph.get_all_asset_keys()

    def selected(selection: str) -> set[str]:
        resolved = resolve_bare_names(selection, keys)
        return {k.to_user_string() for k in dg.AssetSelection.from_string(resolved).resolve(graph)}

    both = {"raw/asv_result_files", "main/fct_measurements"}
    assert selected("fct_measurements") == {"main/fct_measurements"}
    assert selected("*fct_measurements") == both
    assert selected("+key:fct_measurements") == both
    assert selected("key:asv_result_files+") == both
    assert selected("key:main/fct_measurements") == {"main/fct_measurements"}
    assert resolve_bare_names("key:twice", keys) == "key:twice"  # two assets end in it: left as written
    assert resolve_bare_names("group:results or kind:dbt", keys) == "group:results or kind:dbt"


def test_definitions_and_the_cli_set_no_environment_variable():
    for path in ("assets/definitions.py", "assets/cli.py"):
        for node in ast.walk(_module(path)):
            targets = node.targets if isinstance(node, ast.Assign) else []
            for target in targets:
                assert not (
                    isinstance(target, ast.Subscript) and ast.unparse(target.value) == "os.environ"
                ), f"{path}:{node.lineno}: {ast.unparse(node)}"


def test_partitions_keep_no_module_level_mutable_registry():
    for node in _module("assets/partitions.py").body:
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            assert not isinstance(node.value, ast.Dict | ast.List | ast.Set), ast.unparse(node)


def test_the_warehouse_core_imports_no_stage():
    stages = (
        "ingest.results",
        "ingest.dashboards",
        "ingest.github",
        "dataset",
        "detection",
        "benchmark_runner",
    )
    for node in ast.walk(_module("ingest/warehouse.py")):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        elif isinstance(node, ast.Call) and ast.unparse(node.func) == "__import__":
            names = [ast.literal_eval(node.args[0])]
        for name in names:
            assert not name.startswith(stages), f"ingest/warehouse.py:{node.lineno}: imports {name}"

"""The dbt project's layering, read from its manifest (issue 15): staging -> intermediate -> marts, one
folder and one group per stage, marts named fct_/dim_, enforced contracts on the three contract marts,
and the Dagster keys of dbt nodes equal to the tables they are ([schema, table])."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from assets.dbt_project import PROJECT_ROOT, ensure_manifest

STAGES = {
    "sources",
    "results",
    "dashboards",
    "measurements",
    "github",
    "benchmark_runner",
    "detection",
    "dataset",
}
LAYERS = ("staging", "intermediate", "marts")
CONTRACT_MARTS = ("fct_measurements", "fct_change_points", "fct_tasks")
# The hand-off marts of /work/notes/layout.md (GitHub's under the names chosen in the redesign).
HAND_OFF = {
    "fct_measurements", "dim_benchmarks", "dim_machines", "dim_series",
    "fct_series_points",
    "dim_repositories", "dim_dropped_repositories", "fct_core_commits", "fct_dropped_commits", "dim_pull_requests",
    "fct_commit_files",
    "fct_benchmark_runs",
    "fct_change_points", "fct_replication", "fct_performance_improvements", "fct_improving_commits",
    "fct_tasks", "fct_commit_reports", "fct_agent_workloads", "fct_agent_scores",
}  # fmt: skip


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads(ensure_manifest().read_text())


def _models(manifest: dict) -> dict[str, dict]:
    return {uid: n for uid, n in manifest["nodes"].items() if n["resource_type"] == "model"}


def _layer(node: dict) -> str:
    return node["fqn"][1]


def test_every_model_sits_in_a_layer_and_stage_folder(manifest):
    misplaced = [
        n["original_file_path"]
        for n in _models(manifest).values()
        if len(n["fqn"]) != 4 or n["fqn"][1] not in LAYERS or n["fqn"][2] not in STAGES
    ]
    assert misplaced == []


def test_intermediate_models_read_only_staging_and_intermediate(manifest):
    models = _models(manifest)
    bad = [
        f"{n['name']} <- {models[d]['name']}"
        for n in models.values()
        if _layer(n) == "intermediate"
        for d in n["depends_on"]["nodes"]
        if d in models and _layer(models[d]) not in ("staging", "intermediate")
    ]
    assert bad == []


def test_no_mart_or_intermediate_reads_a_source(manifest):
    bad = [
        f"{n['name']} <- {d}"
        for n in _models(manifest).values()
        if _layer(n) != "staging"
        for d in n["depends_on"]["nodes"]
        if d.startswith("source.")
    ]
    assert bad == []


def test_staging_models_read_their_stages_sources(manifest):
    """A staging model is named stg_<stage>__<entity> and reads its stage's sources (declared in its own
    folder), or a staging model of its stage that does (the dashboards' files are split by kind)."""
    models = _models(manifest)
    problems = []
    for n in models.values():
        if _layer(n) != "staging":
            continue
        stage = n["fqn"][2]
        if not n["name"].startswith(f"stg_{stage}__"):
            problems.append(f"{n['name']}: not stg_{stage}__<entity>")
        for d in n["depends_on"]["nodes"]:
            if d.startswith("source."):
                where = manifest["sources"][d]["original_file_path"]
                if not where.startswith(f"models/staging/{stage}/"):
                    problems.append(f"{n['name']}: its source {d} is declared in {where}")
            elif d in models and not (_layer(models[d]) == "staging" and models[d]["fqn"][2] == stage):
                problems.append(f"{n['name']}: reads {models[d]['name']}")
    assert problems == []


def test_yaml_files_follow_one_naming_scheme():
    models = PROJECT_ROOT / "models"
    bad = []
    for path in models.rglob("*.yml"):
        rel = path.relative_to(models)
        if rel.parts in (("groups.yml",), ("exposures.yml",)):
            continue
        stage = rel.parts[1] if len(rel.parts) == 3 else None
        kinds = ("models", "sources") if rel.parts[0] == "staging" else ("models",)
        # a second file of a stage's folder holds one topic's models: _<topic>__models.yml (staging: _<stage>__<topic>.yml)
        topic = (
            re.fullmatch(rf"_[a-z]+__models\.yml|_{stage}__[a-z]+\.yml", path.name)
            and rel.parts[0] != "intermediate"
        )
        if stage not in STAGES or (path.name not in {f"_{stage}__{k}.yml" for k in kinds} and not topic):
            bad.append(str(rel))
    assert bad == []


def test_marts_are_facts_or_dimensions(manifest):
    assert [
        n["name"]
        for n in _models(manifest).values()
        if _layer(n) == "marts" and not n["name"].startswith(("fct_", "dim_"))
    ] == []


def test_every_model_in_its_stage_group_and_access_by_layer(manifest):
    groups = manifest["groups"]
    assert {g["name"] for g in groups.values()} == STAGES
    assert all(g["owner"].get("name") or g["owner"].get("email") for g in groups.values())
    problems = []
    for n in list(_models(manifest).values()) + [
        s for s in manifest["nodes"].values() if s["resource_type"] == "seed"
    ]:
        if n["resource_type"] == "model" and n["group"] != n["fqn"][2]:
            problems.append(f"{n['name']}: group {n['group']!r}, folder {n['fqn'][2]!r}")
        if n["resource_type"] == "seed" and not n["group"]:
            problems.append(f"seed {n['name']} has no group")
        if n["resource_type"] != "model":
            continue
        expected = {"public"} if n["name"] in HAND_OFF else {"private", "protected"}
        if n["access"] not in expected:
            problems.append(f"{n['name']}: access {n['access']!r}")
    assert problems == []
    # internals that no other stage reads stay private
    models = _models(manifest)
    read_by_other_stage = {
        d
        for n in models.values()
        for d in n["depends_on"]["nodes"]
        if d in models and models[d]["group"] != n["group"]
    }
    loose = [
        n["name"]
        for uid, n in models.items()
        if _layer(n) != "marts" and uid not in read_by_other_stage and n["access"] != "private"
    ]
    assert loose == []


def test_contracts_enforced_with_types_on_the_contract_marts(manifest):
    by_name = {n["name"]: n for n in _models(manifest).values()}
    for name in CONTRACT_MARTS:
        node = by_name[name]
        assert node["config"]["contract"]["enforced"] is True, name
        untyped = [c for c, col in node["columns"].items() if not col.get("data_type")]
        assert node["columns"] and untyped == [], name


def test_dagster_keys_are_tables_and_groups_are_dbt_groups(manifest):
    import dagster as dg

    from assets.dbt_assets import WarehouseTranslator

    translator = WarehouseTranslator()
    by_name = {n["name"]: uid for uid, n in _models(manifest).items()}
    spec = translator.get_asset_spec(manifest, by_name["fct_measurements"], None)
    assert spec.key == dg.AssetKey(["main", "fct_measurements"])
    assert spec.group_name == "measurements"
    stg = translator.get_asset_spec(manifest, by_name["stg_results__result_files"], None)
    assert stg.key == dg.AssetKey(["staging", "stg_results__result_files"])
    assert stg.group_name == "results"
    assert dg.AssetKey(["raw", "asv_result_files"]) in {d.asset_key for d in stg.deps}
    change_points = translator.get_asset_spec(manifest, by_name["stg_detection__breakpoints"], None)
    assert {d.asset_key for d in change_points.deps} == {dg.AssetKey(["detection", "breakpoints"])}
    reports = translator.get_asset_spec(manifest, by_name["stg_dataset__commit_reports"], None)
    assert {d.asset_key for d in reports.deps} == {dg.AssetKey(["dataset", "commit_reports"])}


def test_dbt_gets_the_warehouse_path_on_its_command_line(tmp_path):
    """profiles.yml reads the `datasmith_db` var the dbt asset passes; DATASMITH_DB is only the fallback."""
    from assets.dbt_assets import dbt_build_args

    args = dbt_build_args(str(tmp_path / "wh.duckdb"), {"replication_min_shared_commits": 3})
    assert args[:2] == ["build", "--vars"]
    assert json.loads(args[2]) == {
        "replication_min_shared_commits": 3,
        "datasmith_db": str(tmp_path / "wh.duckdb"),
    }
    dbt = Path(sys.executable).parent / "dbt"
    rendered = subprocess.run(
        [str(dbt), "debug", "--project-dir", str(PROJECT_ROOT), "--profiles-dir", str(PROJECT_ROOT), "--vars", args[2]],
        capture_output=True, text=True, env={"PATH": f"{dbt.parent}:{os.environ.get('PATH', '/usr/bin:/bin')}", "DATASMITH_DB": str(tmp_path / "other.duckdb"),
                                             "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "HOME": str(tmp_path),
                                             "DBT_TARGET_PATH": str(tmp_path / "target"), "DBT_LOG_PATH": str(tmp_path)},
        cwd=tmp_path,
    )  # fmt: skip
    assert rendered.returncode == 0, rendered.stdout + rendered.stderr
    assert f"path: {tmp_path / 'wh.duckdb'}" in rendered.stdout, rendered.stdout
    assert "other.duckdb" not in rendered.stdout


def test_a_bare_table_name_still_selects_its_schema_qualified_asset():
    import dagster as dg

    from assets.cli import resolve_bare_names

    @dg.asset(key=["main", "fct_measurements"])
    def fct(): ...

    @dg.asset(key=["raw", "source_registry"])
    def registry(): ...

    @dg.asset(deps=[["main", "fct_measurements"]])
    def replication_plots(): ...

    graph = dg.Definitions(assets=[fct, registry, replication_plots]).resolve_asset_graph()

    def resolve(selection: str) -> set[str]:
        return {
            k.to_user_string()
            for k in dg.AssetSelection.from_string(
                resolve_bare_names(selection, graph.get_all_asset_keys())
            ).resolve(graph)
        }

    assert resolve("key:fct_measurements+") == {"main/fct_measurements", "replication_plots"}
    assert resolve("+key:replication_plots") == {"main/fct_measurements", "replication_plots"}
    assert resolve("key:main/fct_measurements or key:raw/source_registry") == {
        "main/fct_measurements",
        "raw/source_registry",
    }
    assert resolve_bare_names("key:*fct_measurements", graph.get_all_asset_keys()) == "key:*fct_measurements"

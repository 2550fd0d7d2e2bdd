"""The runner's Dagster assets: one dynamic partition per repository, the cores pool, and the same assets
unchanged under the in-process and the multiprocess executors (stand-in asv; see runner_support)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import dagster as dg
import duckdb
import yaml

from assets.benchmark_runner import CORES_POOL, PARTITIONS_NAME, build_benchmark_definitions
from assets.resources import WarehouseResource
from ingest.sources import load_sources
from tests.support.runner_support import (
    REPO,
    benchmark_job,
    fake_asv,
    read_trace,
    toy_repository,
    write_benchmarks_sources,
)

KEY = "datasmith-demo.fastfuncs"
SOURCE = "run.datasmith-demo.fastfuncs.dagster-box"


def benchmark_project(tmp_path: Path, monkeypatch) -> tuple[Path, Path, list[str]]:
    repo, config, shas = toy_repository(tmp_path)
    fake_asv(tmp_path, monkeypatch)
    target = {
        "repo": REPO, "clone": str(repo), "asv_config": str(config), "commits": shas[:3], "machine": "dagster-box",
        "jobs": 2, "cores_per_job": 1, "timeout_s": 60,
    }  # fmt: skip
    return write_benchmarks_sources(tmp_path, [target]), tmp_path / "w.duckdb", shas


def warehouse_runs(db: Path) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            "select commit_hash, status from raw.benchmark_runs order by commit_hash"
        ).fetchall()
    finally:
        con.close()


def test_assets_per_repository_partition_in_process(tmp_path, monkeypatch):
    sources, db, shas = benchmark_project(tmp_path, monkeypatch)
    defs = build_benchmark_definitions(load_sources(sources), db)
    results, runs = sorted(defs.assets, key=lambda a: a.key.to_user_string())
    assert results.key == dg.AssetKey("benchmark_results") and runs.key == dg.AssetKey(
        ["raw", "benchmark_runs"]
    )
    assert results.partitions_def.name == PARTITIONS_NAME
    assert {results.op.pool, runs.op.pool} == {CORES_POOL, "duckdb_writer"}
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(PARTITIONS_NAME, [KEY])
    for _ in range(2):  # the second materialisation measures nothing and loads nothing new
        result = dg.materialize(
            [results, runs],
            partition_key=KEY,
            instance=instance,
            resources={"warehouse": WarehouseResource(database=str(db))},
        )
        assert result.success
    metadata = next(m.metadata for m in result.asset_materializations_for_node("benchmark_results"))
    assert metadata["already_measured"].value == 3 and "jobs_ok" not in metadata
    assert warehouse_runs(db) == sorted((sha, "ok") for sha in shas[:3])
    assert len(read_trace(tmp_path / "fake_asv_trace.jsonl")) == 3


def test_the_same_assets_run_under_the_multiprocess_executor(tmp_path, monkeypatch):
    sources, db, shas = benchmark_project(tmp_path, monkeypatch)
    monkeypatch.setenv("RUNNER_TEST_SOURCES", str(sources))
    monkeypatch.setenv("RUNNER_TEST_DB", str(db))
    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        instance.add_dynamic_partitions(PARTITIONS_NAME, [KEY])
        result = dg.execute_job(
            # each step's process imports tests.support.runner_support from the project root and rebuilds the job
            dg.build_reconstructable_job(
                "tests.support.runner_support",
                benchmark_job.__name__,
                reconstructor_working_directory=str(Path(__file__).parents[2]),
            ),
            instance=instance,
            tags={"dagster/partition": KEY},
            run_config={"execution": {"config": {"multiprocess": {"max_concurrent": 2}}}},
        )
        assert result.success
        step_pids = {e.pid for e in result.all_events if e.event_type_value == "STEP_START"}
        assert len(step_pids) == 2 and os.getpid() not in step_pids  # each step in its own process
        materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert materialized == {"benchmark_results", "raw/benchmark_runs"}
    assert warehouse_runs(db) == sorted((sha, "ok") for sha in shas[:3])


def github_and_benchmarks(tmp_path: Path, config: Path, target: dict, **github) -> Path:
    document = {
        "github": {"api_url": "http://127.0.0.1:9", "repos": [REPO], **github},
        "benchmark_runner": [{"repo": REPO, "asv_config": str(config), "machine": "dagster-box", **target}],
    }
    file = tmp_path / "sources.yml"
    file.write_text(yaml.safe_dump(document, sort_keys=False))
    return file


def test_a_target_on_the_github_stage_runs_after_it(tmp_path):
    """`from_commits_filtered`, or no `clone:` (the GitHub stage's clone), puts benchmark_results after
    fct_core_commits (itself after the clone and its changed files) in `datasmith materialize`'s runs;
    a target with its own commits and clone waits for nothing, as before. Either way the results models
    are collated after the runner's results are loaded."""
    from assets.cli import _steps
    from assets.dbt_project import ensure_manifest
    from assets.definitions import build_definitions

    ensure_manifest()
    config = tmp_path / "asv.conf.json"
    config.write_text("{}")
    for target, waits in (
        ({"from_commits_filtered": 3}, True),
        ({"commits": ["a"]}, True),  # no clone: the GitHub stage's
        ({"commits": ["a"], "clone": str(tmp_path)}, False),
    ):
        sources = github_and_benchmarks(tmp_path, config, target)
        defs = build_definitions(sources, tmp_path / "w.duckdb")
        graph = defs.resolve_asset_graph()
        steps = [keys for keys, _ in _steps(graph, list(defs.assets), set(graph.get_all_asset_keys()))]
        at = {key: i for i, keys in enumerate(steps) for key in keys}
        results, loaded = at[dg.AssetKey("benchmark_results")], at[dg.AssetKey(["raw", "benchmark_runs"])]
        assert results < loaded
        # the loader writes raw.asv_result_files & co. too: every model reading them is collated after it
        for model in ("stg_results__result_files", "stg_results__benchmarks", "stg_sources__source_registry"):
            assert (
                loaded < at[dg.AssetKey(["staging", model])] <= at[dg.AssetKey(["main", "fct_measurements"])]
            ), (target, model)
        if waits:
            assert (
                at[dg.AssetKey(["raw", "github_commit_files"])]
                < at[dg.AssetKey(["main", "fct_core_commits"])]
                < results
            )
        else:
            assert results < at[dg.AssetKey(["raw", "github_discovery_responses"])]


def test_the_github_stage_clone_is_found_in_its_clones_dir_and_loading_needs_no_clone(tmp_path, monkeypatch):
    """Without `clone:`, the runner checks out the GitHub stage's clone where `github.clones_dir` keeps it.
    Loading a target's output needs no clone at all (it used to clone from github.com when there was none)."""
    repo, config, shas = toy_repository(tmp_path)
    trace = fake_asv(tmp_path, monkeypatch)
    clones = tmp_path / "elsewhere"
    sources = github_and_benchmarks(tmp_path, config, {"commits": shas[:1]}, clones_dir=str(clones))
    db = tmp_path / "w.duckdb"
    defs = build_benchmark_definitions(load_sources(sources), db)
    results, runs = sorted(defs.assets, key=lambda a: a.key.to_user_string())
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(PARTITIONS_NAME, [KEY])
    resources = {"warehouse": WarehouseResource(database=str(db))}
    # before anything ran: nothing to load, and no clone is made (github.com is not asked)
    assert dg.materialize([runs], partition_key=KEY, instance=instance, resources=resources).success
    assert not clones.exists() and not (tmp_path / "clones").exists()

    clone = clones / "datasmith-demo__fastfuncs.git"  # ingest.github.clones.clone_path's layout
    subprocess.run(["git", "clone", "--quiet", "--bare", str(repo), str(clone)], check=True)
    assert dg.materialize([results, runs], partition_key=KEY, instance=instance, resources=resources).success
    assert warehouse_runs(db) == [(shas[0], "ok")]
    (worktree,) = {run["cwd"] for run in read_trace(trace)}
    common = subprocess.run(
        ["git", "rev-parse", "--path-format=absolute", "--git-common-dir"],
        cwd=worktree, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert Path(common) == clone


K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"


def test_k8s_pods_get_guaranteed_whole_cpus():
    import yaml

    config = yaml.safe_load((K8S / "run_config.yaml").read_text())["execution"]["config"]
    resources = config["step_k8s_config"]["container_config"]["resources"]
    assert resources["requests"] == resources["limits"]  # Guaranteed QoS class
    assert float(
        resources["requests"]["cpu"]
    ).is_integer()  # whole CPUs: exclusive under the static CPU manager
    instance = yaml.safe_load((K8S / "dagster.yaml").read_text())
    assert instance["concurrency"]["pools"]["default_limit"] == 1


def test_k8s_job_uses_the_kubernetes_executor(tmp_path, monkeypatch):
    import importlib.util

    import pytest
    import yaml

    executor = pytest.importorskip("dagster_k8s").k8s_job_executor
    sources, db, _ = benchmark_project(tmp_path, monkeypatch)
    monkeypatch.setenv("DATASMITH_SOURCES", str(sources))
    monkeypatch.setenv("DATASMITH_DB", str(db))
    spec = importlib.util.spec_from_file_location("datasmith_k8s_definitions", K8S / "definitions.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    defs = module.defs()
    job = defs.resolve_job_def("benchmark_k8s_job")
    assert job.executor_def.name == executor.name and job.partitions_def.name == PARTITIONS_NAME
    # the shipped deployment runs its automation (the demo's stays stopped: tests/assets/test_automation.py)
    repository = defs.get_repository_def()
    statuses = {d.name: d.default_status.value for d in [*repository.schedule_defs, *repository.sensor_defs]}
    assert statuses and set(statuses.values()) == {"RUNNING"}, statuses
    from dagster._config import process_config

    config = yaml.safe_load((K8S / "run_config.yaml").read_text())["execution"]["config"]
    assert process_config(executor.config_schema.config_type, config).success

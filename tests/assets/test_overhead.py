"""The fixed cost of `datasmith materialize` (issue 14, item 5): every results source in one Dagster run,
and dbt's partial-parse state kept per warehouse."""

from __future__ import annotations

import dagster as dg
import pytest
import yaml

from assets.cli import _batches
from assets.dbt_project import warehouse_target
from tests.support.common import fixture_path, materialize, read_rows

REGISTRY_AND_ONE_MODEL = "key:raw/source_registry or key:staging/stg_sources__source_registry"


def _results_sources(tmp_path, names: list[str], missing: str | None = None):
    """The real set results/sympy-v1 under each name (and a source whose path does not exist)."""
    entries = [{"name": name, "path": str(fixture_path("results", "sympy-v1"))} for name in names]
    if missing:
        entries.append({"name": missing, "path": str(tmp_path / "moved-away")})
    sources = tmp_path / "sources.yml"
    sources.write_text(yaml.safe_dump({"results": entries}))
    return sources


def test_all_results_sources_load_in_one_dagster_run(tmp_path, capfd):
    names = ["s0", "s1", "s2", "s3"]
    sources = _results_sources(tmp_path, names)
    db = tmp_path / "warehouse.duckdb"
    home = tmp_path / "home"
    code = materialize(sources, db, "--select", "key:raw/asv_result_files", "--dagster-home", str(home))
    err = capfd.readouterr().err
    assert code == 0, err
    assert "[1] 5 assets [4 partitions: s0 ... s3]" in err
    assert "[2]" not in err  # one run, not one per source
    assert read_rows(
        db, "select source_name, count(*) from raw.asv_result_files group by all order by 1"
    ) == [(name, 3) for name in names]
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        assert len(instance.get_runs()) == 1
        # every partition of every table is recorded as materialised, as a run per partition did
        for table in ("asv_result_files", "results_quarantine"):
            assert instance.get_materialized_partitions(dg.AssetKey(["raw", table])) == set(names)
    finally:
        instance.dispose()


def test_a_failed_source_in_the_one_run_is_named_and_the_others_are_recorded(tmp_path, capfd):
    sources = _results_sources(tmp_path, ["s0", "s1"], missing="gone")
    db = tmp_path / "warehouse.duckdb"
    home = tmp_path / "home"
    assert materialize(sources, db, "--select", "key:raw/asv_result_files", "--dagster-home", str(home)) == 1
    err = capfd.readouterr().err
    assert (
        f"datasmith: raw_results_files [gone]: results source 'gone': path {tmp_path / 'moved-away'}" in err
    )
    assert "1 of 3 steps failed" in err
    assert "Traceback" not in err
    assert read_rows(db, "select distinct source_name from raw.asv_result_files order by 1") == [
        ("s0",),
        ("s1",),
    ]
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        assert instance.get_materialized_partitions(dg.AssetKey(["raw", "asv_result_files"])) == {"s0", "s1"}
    finally:
        instance.dispose()


def test_partitions_picked_apart_run_as_contiguous_ranges():
    partitions = dg.StaticPartitionsDefinition(["a", "b", "c", "d", "e"])

    @dg.asset(partitions_def=partitions, backfill_policy=dg.BackfillPolicy.single_run())
    def ranged():
        return None

    @dg.asset(partitions_def=partitions)
    def one_by_one():
        return None

    assert _batches(ranged, ["a", "b", "c", "d", "e"]) == [["a", "b", "c", "d", "e"]]
    assert _batches(ranged, ["e", "a", "b", "d"]) == [["a", "b"], ["d", "e"]]
    assert _batches(one_by_one, ["a", "b"]) == [["a"], ["b"]]


@pytest.mark.slow
def test_dbt_keeps_its_partial_parse_state_per_warehouse(tmp_path, capfd):
    """Two warehouses built in turn: each one's second build parses only what changed. With one state
    shared by every warehouse, the third build below re-parsed the whole project ('Unable to do partial
    parsing because profile has changed')."""
    sources = _results_sources(tmp_path, ["s0"])
    first, second = tmp_path / "a" / "warehouse.duckdb", tmp_path / "b" / "warehouse.duckdb"
    assert warehouse_target(first) != warehouse_target(second)
    for db in (first, second, first):
        assert materialize(sources, db, "--select", REGISTRY_AND_ONE_MODEL) == 0, capfd.readouterr().err
    log = (first.parent / "logs" / "dbt.log").read_text()
    assert "Running with dbt=" in log
    assert "Unable to do partial parsing" not in log, log


def test_run_history_writes_hold_a_connection_and_skip_the_fsync_only_under_the_home(tmp_path):
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    from assets.cli import RunHistoryWrites

    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()

    def synchronous(folder) -> int:
        engine = create_engine(
            f"sqlite:///{folder / 'events.db'}", poolclass=NullPool
        )  # as Dagster's storages
        with engine.connect() as con:
            value = con.execute(text("pragma synchronous")).scalar()
        engine.dispose()
        return value

    with RunHistoryWrites(home) as writes:
        assert synchronous(home) == 1  # NORMAL
        assert synchronous(elsewhere) == 2  # FULL, SQLite's default: other SQLite files are left alone
        assert list(writes.held) == [str(home / "events.db")]
    assert writes.held == {}
    assert synchronous(home) == 2  # the listener is gone


def test_roots_that_feed_the_dbt_models_run_before_them_so_dbt_is_not_split():
    """registry -> models.x -> detect -> models.z, and models.y: Dagster splits `models` where the graph
    leaves it and comes back (detect), and, in the same run, at the registry too (y before x): three dbt
    builds where two do. The registry runs first; then the rest in one run with two builds."""
    from assets.cli import _steps

    @dg.asset
    def registry():
        return None

    @dg.multi_asset(
        specs=[
            dg.AssetSpec("x", deps=["registry"], skippable=True),
            dg.AssetSpec("y", skippable=True),
            dg.AssetSpec("z", deps=["detect"], skippable=True),
        ],
        can_subset=True,
    )
    def models(context):
        for key in context.selected_asset_keys:
            yield dg.MaterializeResult(asset_key=key)

    @dg.asset(deps=["x"])
    def detect():
        return None

    defs = dg.Definitions(assets=[registry, models, detect])
    graph = defs.resolve_asset_graph()
    everything = set(graph.get_all_asset_keys())
    steps = [
        sorted(k.to_user_string() for k in keys) for keys, _ in _steps(graph, list(defs.assets), everything)
    ]
    assert steps == [["registry"], ["detect", "x", "y", "z"]]

    def builds(selection) -> int:
        job = dg.define_asset_job("j", selection=selection).resolve(asset_graph=graph)
        return len([n for n in job.graph.nodes if n.name.startswith("models")])

    assert builds(["x", "y", "z", "detect"]) == 2
    assert builds("*") == 3  # what running the registry with them costs

"""One Dagster instance from `datasmith materialize` to `dagster dev` (issue 16): the CLI runs on a
persistent instance (--dagster-home, else $DAGSTER_HOME, else dagster_home/ beside the warehouse), so what it
did is what the UI shows; its own output is a line per step while dbt's log goes to a file; dbt parses once."""

from __future__ import annotations

import dagster as dg
import pytest
import yaml

from assets.cli import dagster_home_for, open_instance
from tests.support.common import PROJECT_ROOT, materialize, read_rows

SAMPLE_SOURCES = PROJECT_ROOT / "samples" / "sources.yml"


def test_the_home_is_the_flag_else_dagster_home_else_beside_the_warehouse(tmp_path, monkeypatch):
    db = tmp_path / "artifacts" / "warehouse.duckdb"
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert dagster_home_for(db) == tmp_path / "artifacts" / "dagster_home"
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "env-home"))
    assert dagster_home_for(db) == tmp_path / "env-home"
    assert dagster_home_for(db, tmp_path / "flag-home") == tmp_path / "flag-home"


def test_a_new_home_gets_the_shipped_config_with_telemetry_off_and_a_users_config_is_kept(tmp_path):
    home = tmp_path / "home"
    instance = open_instance(home)
    try:
        assert not instance.telemetry_enabled
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
    finally:
        instance.dispose()
    shipped = yaml.safe_load((PROJECT_ROOT / "deploy" / "local" / "dagster.yaml").read_text())
    assert shipped["telemetry"] == {"enabled": False}

    (home / "dagster.yaml").write_text("telemetry:\n  enabled: true\n")
    instance = open_instance(home)
    try:
        assert instance.telemetry_enabled  # the user's own setting stands
    finally:
        instance.dispose()


def test_a_run_is_recorded_in_the_instance_beside_the_warehouse(tmp_path, monkeypatch, capfd):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    db = tmp_path / "warehouse.duckdb"
    assert materialize(SAMPLE_SOURCES, db, "--select", "key:raw/asv_result_files") == 0
    err = capfd.readouterr().err
    assert f"Dagster instance {tmp_path / 'dagster_home'}" in err

    instance = dg.DagsterInstance.from_config(str(tmp_path / "dagster_home"))
    try:
        runs = instance.get_runs()
        assert [r.status for r in runs] == [dg.DagsterRunStatus.SUCCESS]
        event = instance.get_latest_materialization_event(dg.AssetKey(["raw", "asv_result_files"]))
        assert event is not None and event.run_id == runs[0].run_id
        metadata = event.asset_materialization.metadata
        assert metadata["files_loaded"].value == 10 and metadata["files_quarantined"].value == 0
    finally:
        instance.dispose()

    # a second run goes into the same instance
    assert materialize(SAMPLE_SOURCES, db, "--select", "key:raw/source_registry") == 0
    instance = dg.DagsterInstance.from_config(str(tmp_path / "dagster_home"))
    try:
        assert len(instance.get_runs()) == 2
    finally:
        instance.dispose()


@pytest.mark.slow
def test_the_sample_materialised_by_the_cli_is_what_dagster_dev_shows_and_dbt_parses_once(tmp_path, capfd):
    """The whole sample (about 80 s): the instance holds the runs, every asset's materialisation and the
    dbt tests' check results; the terminal gets one line per step; dbt's log is in logs/dbt.log."""
    home = tmp_path / "home"
    db = tmp_path / "sample.duckdb"
    assert materialize(SAMPLE_SOURCES, db, "--dagster-home", str(home)) == 0
    out, err = capfd.readouterr()
    assert out == ""  # dbt's per-model and per-test lines are not on the terminal
    assert len(err.splitlines()) < 25, err
    log = (tmp_path / "logs" / "dbt.log").read_text()
    assert log.count("Running with dbt=") >= 3  # dbt runs in several steps ...
    # ... and parses the whole project at most once (it used to re-parse in every step)
    assert log.count("Unable to do partial parsing because config vars") <= 1, log

    from assets.definitions import build_definitions

    graph = build_definitions(SAMPLE_SOURCES, db).resolve_asset_graph()
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        runs = instance.get_runs()
        assert len(runs) >= 3 and {r.status for r in runs} == {dg.DagsterRunStatus.SUCCESS}
        run_ids = {r.run_id for r in runs}
        for key in (
            dg.AssetKey(["raw", "asv_result_files"]),
            dg.AssetKey(["main", "fct_measurements"]),
            dg.AssetKey(["detection", "breakpoints"]),
        ):
            event = instance.get_latest_materialization_event(key)
            assert event is not None and event.run_id in run_ids, key
        # row counts and column schemas on the dbt models, read from this warehouse (whose file name is
        # not the one the manifest was parsed against)
        metadata = instance.get_latest_materialization_event(
            dg.AssetKey(["main", "fct_measurements"])
        ).asset_materialization.metadata
        assert (
            metadata["dagster/row_count"].value
            == read_rows(db, "select count(*) from fct_measurements")[0][0]
        )
        columns = {c.name for c in metadata["dagster/column_schema"].schema.columns}
        assert {"benchmark", "value", "commit_hash"} <= columns
        dbt_checks = [
            k for k in graph.asset_check_keys if k.asset_key == dg.AssetKey(["main", "fct_measurements"])
        ]
        assert dbt_checks
        executions = instance.event_log_storage.get_latest_asset_check_execution_by_key(dbt_checks)
        assert set(executions) == set(dbt_checks)
        assert {e.status.value for e in executions.values()} == {"SUCCEEDED"}
    finally:
        instance.dispose()


def test_a_pool_slot_left_by_a_killed_run_does_not_block_the_next_cli_run(tmp_path):
    """A process killed with SIGKILL never gives back the `duckdb_writer` slot its step claimed; the CLI
    enforces pools per run (its steps are sequential, other processes wait on the writer lock), so the
    next `datasmith materialize` on that home runs instead of waiting forever."""
    import os
    import subprocess
    import sys

    home = tmp_path / "home"
    instance = open_instance(home)
    try:
        pools = instance.get_concurrency_config().pool_config
        assert pools.default_pool_limit == 1  # the shipped limit is kept
        storage = instance.event_log_storage
        storage.set_concurrency_slots("duckdb_writer", 1)
        claim = storage.claim_concurrency_slot("duckdb_writer", "killed-run", "raw_results_files")
        assert claim.is_claimed
    finally:
        instance.dispose()
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    command = [sys.executable, "-m", "assets.cli", "materialize", "--sources", str(SAMPLE_SOURCES)]
    command += ["--db", str(tmp_path / "w.duckdb"), "--dagster-home", str(home)]
    command += ["--select", "key:raw/asv_result_files"]
    proc = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]

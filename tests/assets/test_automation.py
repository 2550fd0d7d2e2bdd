"""Automation and freshness (assets/automation.py), evaluated with Dagster's own helpers, no sleeping:
the stage jobs, the refresh schedule, the eager conditions, the results-folder sensor, the freshness checks,
owners and tags. The definitions are the real code location's, built from real fixture folders."""

import datetime
import shutil
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.test_utils import freeze_time

from tests.support.common import PROJECT_ROOT, fixture_path

DEMO_SOURCES = PROJECT_ROOT / "samples" / "sources.yml"
RESULT_FILES = dg.AssetKey(["raw", "asv_result_files"])
DASHBOARD_FILES = dg.AssetKey(["raw", "dashboard_files"])


def definitions(sources_file: Path, db: Path) -> dg.Definitions:
    from assets.dbt_project import ensure_manifest
    from assets.definitions import build_definitions

    ensure_manifest()
    return build_definitions(sources_file, db)


def write_sources(folder: Path, document: dict) -> Path:
    file = folder / "sources.yml"
    file.write_text(yaml.safe_dump(document, sort_keys=False))
    return file


@pytest.fixture(scope="module")
def demo_defs(tmp_path_factory) -> dg.Definitions:
    return definitions(DEMO_SOURCES, tmp_path_factory.mktemp("demo") / "w.duckdb")


def requested(result, key: dg.AssetKey) -> int:
    return result.get_num_requested(key)


def test_eager_follows_a_raw_materialisation_downstream_and_not_before(demo_defs):
    model = dg.AssetKey(["staging", "stg_results__result_files"])
    breakpoints = dg.AssetKey(["detection", "breakpoints"])
    with dg.instance_for_test() as instance:
        first = dg.evaluate_automation_conditions(defs=demo_defs, instance=instance)
        assert requested(first, model) == 0 and requested(first, breakpoints) == 0

        instance.report_runless_asset_event(dg.AssetMaterialization(RESULT_FILES, partition="sample"))
        second = dg.evaluate_automation_conditions(defs=demo_defs, instance=instance, cursor=first.cursor)
        # stg_results__result_files also reads raw/benchmark_runs, which nothing writes in the demo
        # (no benchmark_runner: section): plain eager() would wait on it for ever.
        assert requested(second, model) == 1
        assert requested(second, breakpoints) == 0  # its inputs did not change

        third = dg.evaluate_automation_conditions(defs=demo_defs, instance=instance, cursor=second.cursor)
        assert requested(third, model) == 0  # handled: not asked again

        for table in ("fct_series_points", "dim_series"):
            instance.report_runless_asset_event(dg.AssetMaterialization(["main", table]))
        fourth = dg.evaluate_automation_conditions(defs=demo_defs, instance=instance, cursor=third.cursor)
        assert requested(fourth, breakpoints) == 1


def test_every_dbt_model_detection_and_the_dataset_follow_upstream_and_raw_loaders_do_not(demo_defs):
    import json

    from assets.dbt_assets import table_key
    from assets.dbt_project import dbt_project

    manifest = json.loads(Path(dbt_project.manifest_path).read_text())
    models = {dg.AssetKey(table_key(n)) for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    graph = demo_defs.resolve_asset_graph()
    following = set()
    for key in graph.materializable_asset_keys:
        node = graph.get(key)
        label = node.automation_condition.get_label() if node.automation_condition else None
        if label is not None:
            assert label == "eager", key
            following.add(key)
    python = {
        k
        for k in graph.materializable_asset_keys
        if graph.get(k).group_name in ("detection", "dataset") and "dbt" not in graph.get(k).kinds
    }
    raw = {k for k in python if k.path[0] == "raw"}
    # the models, and detection's and the dataset's assets that read them; not the raw loaders, not the seed
    assert following == (models & graph.materializable_asset_keys) | (python - raw)
    assert dg.AssetKey(["detection", "breakpoints"]) in following and raw


def test_each_stage_job_selects_exactly_its_group(demo_defs):
    graph = demo_defs.resolve_asset_graph()
    repository = demo_defs.get_repository_def()
    groups = {graph.get(key).group_name for key in graph.materializable_asset_keys}
    jobs = {job.name: job for job in repository.get_all_jobs() if job.name.endswith("_job")}
    assert set(jobs) == {f"{group}_job" for group in groups}
    assert {"results_job", "dashboards_job", "measurements_job", "detection_job", "dataset_job"} <= set(jobs)
    for group in groups:
        job = jobs[f"{group}_job"]
        selected = set(job.asset_layer.executable_asset_keys)
        expected = {k for k in graph.materializable_asset_keys if graph.get(k).group_name == group}
        assert selected == expected, group
        # launchable from the UI as is: every config of its assets has its defaults
        resolved = demo_defs.resolve_job_def(job.name)
        assert dg.validate_run_config(resolved, {}) is not None


def test_the_schedules_and_sensors_are_stopped_unless_automation_is_on(demo_defs, tmp_path, monkeypatch):
    def statuses(defs):
        repository = defs.get_repository_def()
        return {
            **{s.name: s.default_status.value for s in repository.schedule_defs},
            **{s.name: s.default_status.value for s in repository.sensor_defs},
        }

    started = {"refresh_public_sources", "freshness_checks", "follow_upstream", "results_folders"}
    off = statuses(demo_defs)
    assert {name for name, status in off.items() if status == "STOPPED"} == started
    monkeypatch.setenv("DATASMITH_AUTOMATION", "on")
    on = statuses(definitions(DEMO_SOURCES, tmp_path / "w.duckdb"))
    assert {name for name in started if on[name] == "RUNNING"} == started


def test_a_bad_automation_setting_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("DATASMITH_REFRESH_CRON", "every day")
    with pytest.raises(ValueError, match="DATASMITH_REFRESH_CRON='every day' is not a cron schedule"):
        definitions(DEMO_SOURCES, tmp_path / "w.duckdb")
    monkeypatch.delenv("DATASMITH_REFRESH_CRON")
    monkeypatch.setenv("DATASMITH_AUTOMATION", "maybe")
    with pytest.raises(ValueError, match="DATASMITH_AUTOMATION='maybe'"):
        definitions(DEMO_SOURCES, tmp_path / "w.duckdb")


def test_the_refresh_schedule_crawls_every_dashboard_on_its_cron(tmp_path, monkeypatch):
    monkeypatch.setenv("DATASMITH_REFRESH_CRON", "30 2 * * 1")
    sources = write_sources(
        tmp_path,
        {
            "dashboards": [
                {"name": "sympy", "url": str(fixture_path("dashboards", "sympy"))},
                {"name": "dask", "url": str(fixture_path("dashboards", "dask-2017", "distributed"))},
            ]
        },
    )
    defs = definitions(sources, tmp_path / "w.duckdb")
    repository = defs.get_repository_def()
    schedule = repository.get_schedule_def("refresh_public_sources")
    assert schedule.cron_schedule == "30 2 * * 1"
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=datetime.datetime(2026, 12, 7, 2, 30),
            repository_def=repository,
        )
        requests = schedule.evaluate_tick(context).run_requests
    assert sorted(r.partition_key for r in requests) == ["dask", "sympy"]
    for request in requests:
        assert set(request.asset_selection) == {DASHBOARD_FILES, dg.AssetKey(["raw", "dashboard_missing"])}


def test_no_refresh_schedule_without_public_sources(tmp_path):
    sources = write_sources(
        tmp_path, {"results": [{"name": "sympy", "path": str(fixture_path("results", "sympy-v1"))}]}
    )
    names = {s.name for s in definitions(sources, tmp_path / "w.duckdb").get_repository_def().schedule_defs}
    assert "refresh_public_sources" not in names


def test_the_results_folder_sensor_requests_a_load_when_a_result_file_is_added(tmp_path):
    real = fixture_path("results", "photutils")
    tree = tmp_path / "photutils"
    shutil.copytree(real, tree)
    machine = next(p for p in (tree / "results").iterdir() if p.is_dir())
    result_files = sorted(p for p in machine.iterdir() if p.name != "machine.json")
    held_back = result_files[-1]
    kept = tmp_path / held_back.name
    held_back.rename(kept)  # the tree as it was before this result came in
    sources = write_sources(tmp_path, {"results": [{"name": "photutils", "path": str(tree)}]})
    repository = definitions(sources, tmp_path / "w.duckdb").get_repository_def()
    sensor = repository.get_sensor_def("results_folders")

    def tick(instance, cursor=None):
        context = dg.build_sensor_context(instance=instance, cursor=cursor, repository_def=repository)
        return sensor.evaluate_tick(context)

    with dg.instance_for_test() as instance:
        # never loaded on this instance: the first tick asks for it
        first = tick(instance)
        assert [r.partition_key for r in first.run_requests] == ["photutils"]
        instance.report_runless_asset_event(dg.AssetMaterialization(RESULT_FILES, partition="photutils"))

        quiet = tick(instance, first.cursor)
        assert quiet.run_requests == []

        shutil.copy2(kept, machine / held_back.name)  # a real result file arrives
        added = tick(instance, quiet.cursor)
        assert [r.partition_key for r in added.run_requests] == ["photutils"]
        assert set(added.run_requests[0].asset_selection) >= {RESULT_FILES}

        again = tick(instance, added.cursor)
        assert again.run_requests == []

        with open(machine / held_back.name, "a") as f:  # same name, new size
            f.write("\n")
        changed = tick(instance, again.cursor)
        assert [r.partition_key for r in changed.run_requests] == ["photutils"]

        # a first tick on an instance that loaded it already only records the folder
        recorded = tick(instance)
        assert recorded.run_requests == []


def test_the_freshness_check_fails_for_a_stale_dashboard_and_passes_for_fresh_ones(tmp_path):
    sources = write_sources(
        tmp_path,
        {
            "dashboards": [
                {"name": "sympy", "url": str(fixture_path("dashboards", "sympy"))},
                {"name": "dask", "url": str(fixture_path("dashboards", "dask-2017", "distributed"))},
            ]
        },
    )
    defs = definitions(sources, tmp_path / "w.duckdb")
    check_key = dg.AssetCheckKey(DASHBOARD_FILES, "source_freshness")
    check = next(c for c in defs.asset_checks if check_key in c.check_keys)
    now = datetime.datetime.now(datetime.UTC)

    def evaluate(instance, at):
        with freeze_time(at):
            return check(dg.build_asset_check_context(instance=instance))

    with dg.instance_for_test() as instance:
        for name in ("sympy", "dask"):
            instance.report_runless_asset_event(dg.AssetMaterialization(DASHBOARD_FILES, partition=name))
        fresh = evaluate(instance, now + datetime.timedelta(hours=1))
        assert fresh.passed, fresh.description

        # the dbt source's warn_after is 2 days, error_after 7 (models/staging/dashboards/_dashboards__sources.yml)
        with freeze_time(now + datetime.timedelta(days=3)):
            instance.report_runless_asset_event(dg.AssetMaterialization(DASHBOARD_FILES, partition="sympy"))
        stale = evaluate(instance, now + datetime.timedelta(days=3, hours=1))
        assert not stale.passed
        assert stale.severity == dg.AssetCheckSeverity.WARN
        assert stale.metadata["stale_sources"].value == "dask"

        late = evaluate(instance, now + datetime.timedelta(days=8))
        assert not late.passed and late.severity == dg.AssetCheckSeverity.ERROR
        assert late.metadata["stale_sources"].value == "dask, sympy"


def test_freshness_thresholds_come_from_the_dbt_sources(demo_defs):
    import json

    from assets.automation import source_freshness
    from assets.dbt_project import dbt_project

    manifest = json.loads(Path(dbt_project.manifest_path).read_text())
    for stage, table, column in (
        ("dashboards", "dashboard_files", "fetched_at"),
        ("results", "asv_result_files", "loaded_at"),
    ):
        thresholds = source_freshness(manifest, stage, table)
        assert thresholds["warn_after"] < thresholds["error_after"], table
        node = next(n for n in manifest["sources"].values() if n["name"] == table)
        assert node["loaded_at_field"] == column
    names = {key.name for key in demo_defs.resolve_asset_graph().asset_check_keys}
    assert "source_freshness" in names


def test_python_assets_carry_their_stage_owner_and_tag(demo_defs):
    owners = {
        g["name"]: g["owner"]["name"]
        for g in yaml.safe_load((PROJECT_ROOT / "models" / "groups.yml").read_text())["groups"]
    }
    graph = demo_defs.resolve_asset_graph()
    python_assets = [k for k in graph.get_all_asset_keys() if "dbt" not in graph.get(k).kinds]
    assert len(python_assets) > 10
    for key in python_assets:
        node = graph.get(key)
        assert node.owners == [f"team:{owners[node.group_name]}"], key
        assert node.tags.get("stage") == node.group_name, key


def test_materialize_runs_beside_the_unwritten_sources_of_the_demo(tmp_path):
    """The demo's sources file has no github: or benchmark_runner: section, so their raw tables are assets
    nothing writes; the CLI walks every definition's keys (they used to be bare AssetSpecs: AttributeError)."""
    from tests.support.common import materialize, read_rows

    db = tmp_path / "w.duckdb"
    assert materialize(DEMO_SOURCES, db, "--select", "key:raw/source_registry") == 0
    assert read_rows(db, "select count(*) from raw.source_registry")[0][0] > 0


@pytest.mark.slow  # two dbt invocations
def test_dbt_source_freshness_fails_a_dashboard_last_fetched_too_long_ago(tmp_path):
    """`dbt source freshness` on a real crawled dashboard (dask/distributed, 2017, from the fixtures): fresh passes; the
    same rows fetched 8 days ago (a mutated copy) are past error_after (7 days) and fail."""
    import subprocess
    import sys

    import duckdb

    from assets.dbt_project import ensure_manifest
    from assets.resources import stage_ddl
    from ingest.dashboards import ingest_dashboard_source
    from ingest.sources import load_sources
    from ingest.warehouse import create_schema

    ensure_manifest()
    sources = write_sources(
        tmp_path,
        {
            "dashboards": [
                {"name": "dask", "url": str(fixture_path("dashboards", "dask-2017", "distributed"))}
            ]
        },
    )
    db = tmp_path / "w.duckdb"
    con = duckdb.connect(str(db))
    create_schema(con, stage_ddl())
    ingest_dashboard_source(con, load_sources(sources).dashboards[0])
    con.close()
    dbt = Path(sys.executable).parent / "dbt"

    def freshness() -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(dbt), "source", "freshness", "--select", "source:dashboards.dashboard_files",
             "--vars", f'{{"datasmith_db": "{db}"}}', "--target-path", str(tmp_path / "target"),
             "--log-path", str(tmp_path / "logs")],
            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300,
        )  # fmt: skip

    fresh = freshness()
    assert fresh.returncode == 0, fresh.stdout[-2000:]
    assert "PASS freshness of dashboards.dashboard_files" in fresh.stdout
    con = duckdb.connect(str(db))
    con.execute("update raw.dashboard_files set fetched_at = fetched_at - interval 8 day")
    con.close()
    stale = freshness()
    assert stale.returncode == 1
    assert "ERROR STALE" in stale.stdout


def test_the_refresh_schedule_refreshes_github_discovery_and_each_known_repository(tmp_path):
    sources = write_sources(tmp_path, {"github": {"discover": False, "repos": ["django/django-asv"]}})
    repository = definitions(sources, tmp_path / "w.duckdb").get_repository_def()
    schedule = repository.get_schedule_def("refresh_public_sources")
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("github_repos", ["django/django", "astropy/astropy"])
        context = dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=datetime.datetime(2026, 12, 7, 4, 0),
            repository_def=repository,
        )
        requests = schedule.evaluate_tick(context).run_requests
    by_partition = {r.partition_key: set(r.asset_selection) for r in requests}
    assert set(by_partition) == {None, "django/django", "astropy/astropy"}
    assert dg.AssetKey(["raw", "github_candidates"]) in by_partition[None]
    assert by_partition["django/django"] == {
        dg.AssetKey(["raw", t])
        for t in ("github_pull_pages", "github_pull_crawls", "github_commit_files", "github_commit_diffs")
    }
    assert len({r.run_key for r in requests}) == 3

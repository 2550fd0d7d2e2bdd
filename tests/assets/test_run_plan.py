"""`datasmith materialize` orders its runs by the asset graph and finds dynamic partitions as it goes."""

import dagster as dg

from assets.cli import _steps
from assets.partitions import DynamicPartitions

REPOS_FILE_NAME = "repos.txt"
PARTITIONS = DynamicPartitions({"test_repos": lambda db: _read_keys(db.parent / REPOS_FILE_NAME)})


def _graph(tmp_path):
    """discover -> per_repo (dynamic, keys read from a file discover writes) -> summary; other is free."""
    repos = PARTITIONS.definition("test_repos")

    @dg.asset
    def discover():
        (tmp_path / REPOS_FILE_NAME).write_text("a/one\nb/two\n")

    @dg.asset(deps=[discover], partitions_def=repos)
    def per_repo(context: dg.AssetExecutionContext):
        with (tmp_path / "visited.txt").open("a") as out:
            out.write(context.partition_key + "\n")

    @dg.asset(deps=[per_repo])
    def summary():
        return None

    @dg.asset
    def other():
        return None

    return dg.Definitions(assets=[discover, per_repo, summary, other])


def _read_keys(file):
    return file.read_text().split() if file.exists() else []


def test_steps_follow_the_graph_with_partitioned_assets_in_between(tmp_path):
    defs = _graph(tmp_path)
    graph = defs.resolve_asset_graph()
    steps = list(_steps(graph, list(defs.assets), set(graph.get_all_asset_keys())))
    names = [(sorted(k.to_user_string() for k in keys), definition is not None) for keys, definition in steps]
    assert names == [(["discover", "other"], False), (["per_repo"], True), (["summary"], False)]


def test_dynamic_keys_are_read_when_their_step_comes(tmp_path):
    defs = _graph(tmp_path)
    graph = defs.resolve_asset_graph()
    instance = dg.DagsterInstance.ephemeral()
    db = tmp_path / "warehouse.duckdb"
    runs = []
    for keys, definition in _steps(graph, list(defs.assets), set(graph.get_all_asset_keys())):
        for partition in PARTITIONS.partition_keys(definition, instance, db) if definition else [None]:
            result = dg.materialize(
                list(defs.assets),
                selection=dg.AssetSelection.assets(*keys),
                partition_key=partition,
                instance=instance,
            )
            assert result.success
            runs.append(partition)
    assert runs == [None, "a/one", "b/two", None]
    assert (tmp_path / "visited.txt").read_text().split() == ["a/one", "b/two"]
    # keys are only ever added: a second sync with one more repository keeps the first two
    (tmp_path / REPOS_FILE_NAME).write_text("c/three\n")
    assert sorted(PARTITIONS.partition_keys(defs.assets[1], instance, db)) == ["a/one", "b/two", "c/three"]


def test_the_dev_instance_holds_every_pool_to_one_step(tmp_path, monkeypatch):
    """`make dev` runs with deploy/local/dagster.yaml: duckdb_writer and benchmark_cores take one step at a time."""
    from pathlib import Path

    home = tmp_path / "dagster_home"
    home.mkdir()
    config = Path(__file__).resolve().parents[2] / "deploy" / "local" / "dagster.yaml"
    (home / "dagster.yaml").write_text(config.read_text())
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    instance = dg.DagsterInstance.get()
    try:
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
        storage = instance.event_log_storage
        for pool in ("duckdb_writer", "benchmark_cores"):
            # what Dagster does the first time a step claims a pool without an explicit limit
            storage.initialize_concurrency_limit_to_default(pool)
            assert storage.get_concurrency_info(pool).slot_count == 1
    finally:
        instance.dispose()

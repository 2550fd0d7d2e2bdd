"""The Dagster code location: `dagster dev` loads `defs` from here (see pyproject's [tool.dagster])."""

from __future__ import annotations

import sys
from pathlib import Path

import dagster as dg

from assets import benchmark_runner, github
from assets.automation import build_automation
from assets.benchmark_runner import build_benchmark_definitions
from assets.dashboards import build_dashboard_ingest
from assets.dataset import build_dataset_definitions
from assets.dbt_project import dbt_project, load_manifest
from assets.detection import build_detection_definitions
from assets.github import build_github_definitions
from assets.partitions import DynamicPartitions
from assets.profiles import build_profile_definitions
from assets.resources import WarehouseDbtCli, WarehouseResource
from assets.results import build_results_ingest
from assets.sources import build_source_registry
from ingest.sources import Sources, db_path_from_env, load_sources, sources_file_from_env


def build_partitions(sources: Sources) -> DynamicPartitions:
    """The code location's dynamic partitions (GitHub's projects, the runner's targets) with their key
    functions, built in this one place and handed to the stages, the sensor and the CLI."""
    return DynamicPartitions({**github.partition_keys(sources), **benchmark_runner.partition_keys(sources)})


def build_definitions(
    sources_file: Path | None = None, db_path: Path | None = None, automation: bool | None = None
) -> dg.Definitions:
    """The whole code location; `automation` True starts the schedules and sensors RUNNING (a deployment),
    None leaves it to DATASMITH_AUTOMATION (off unless set: the demo and `datasmith materialize`)."""
    sources = load_sources(sources_file or sources_file_from_env())
    db_path = Path(db_path or db_path_from_env()).resolve()
    db_path.parent.mkdir(parents=True, exist_ok=True)
    # dbt gets the warehouse path from the `warehouse` resource (WarehouseResource.database, which the dbt
    # asset hands to its subprocess) and the sources file from WarehouseResource.sources_file.
    partitions = build_partitions(sources)

    if not Path(dbt_project.manifest_path).exists():
        raise FileNotFoundError(
            f"no dbt manifest at {dbt_project.manifest_path}: run `make manifest` (or `datasmith materialize`, "
            "which builds it) before `dagster dev`"
        )
    from assets.dbt_assets import unwritten_source_specs, warehouse_dbt_models  # needs the manifest

    raw_results_files, raw_results_check = build_results_ingest(sources)
    core = dg.Definitions(
        assets=[
            build_source_registry(sources),
            raw_results_files,
            build_dashboard_ingest(sources),
            warehouse_dbt_models,
        ],
        asset_checks=[raw_results_check],
        sensors=[partitions.sensor(db_path)],
        resources={
            "warehouse": WarehouseResource(database=str(db_path), sources_file=str(sources.file)),
            "dbt": WarehouseDbtCli(project_dir=dbt_project, dbt_executable=_dbt_executable()),
        },
    )
    # Each stage's module adds its own assets, checks, sensors and schedules; they share the
    # resources above (`warehouse`, `dbt`) and add any others under their own keys.
    merged = dg.Definitions.merge(
        core,
        build_detection_definitions(),
        build_github_definitions(sources, db_path, partitions),
        build_benchmark_definitions(sources, db_path, partitions),
        build_dataset_definitions(sources, db_path),
        build_profile_definitions(sources, db_path),
    )
    manifest = load_manifest()
    written = {key for asset in merged.assets or () for key in asset.keys}
    # As external assets, not bare specs: everything in defs.assets has .keys (the CLI's loop needs it).
    unwritten = [dg.AssetsDefinition(specs=[spec]) for spec in unwritten_source_specs(manifest, written)]
    merged = dg.Definitions.merge(merged, dg.Definitions(assets=unwritten))
    # Stage jobs, the refresh schedule, automation conditions and sensors, freshness checks (all stopped
    # unless DATASMITH_AUTOMATION=on): assets/automation.py.
    return build_automation(sources, merged, manifest, running=automation)


def _dbt_executable() -> str:
    """The dbt installed beside this Python, so a non-activated virtualenv still finds it."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else "dbt"


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()

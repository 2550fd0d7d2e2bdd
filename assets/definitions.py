"""The Dagster code location: `dagster dev` loads `defs` from here (see pyproject's [tool.dagster])."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource

from assets.benchmark_assets import build_benchmark_definitions
from assets.dataset_assets import build_dataset_definitions
from assets.dbt_project import dbt_project
from assets.detection_assets import detect_breakpoints, replication_plots
from assets.github_assets import build_github_definitions
from assets.ingest_assets import build_dashboard_ingest, build_results_ingest, build_source_registry
from assets.partitions import partitions_sensor
from assets.resources import WarehouseResource
from ingest.sources import db_path_from_env, load_sources, sources_file_from_env


def build_definitions(sources_file: Path | None = None, db_path: Path | None = None) -> dg.Definitions:
    sources = load_sources(sources_file or sources_file_from_env())
    db_path = Path(db_path or db_path_from_env()).resolve()
    db_path.parent.mkdir(parents=True, exist_ok=True)
    os.environ["DATASMITH_SOURCES"] = str(sources.file)  # read by the dbt asset for its vars

    if not Path(dbt_project.manifest_path).exists():
        raise FileNotFoundError(
            f"no dbt manifest at {dbt_project.manifest_path}: run `make manifest` (or `datasmith materialize`, "
            "which builds it) before `dagster dev`"
        )
    from assets.dbt_assets import warehouse_dbt_models  # needs the manifest

    raw_results_files, raw_results_check = build_results_ingest(sources)
    core = dg.Definitions(
        assets=[
            build_source_registry(sources),
            raw_results_files,
            build_dashboard_ingest(sources),
            warehouse_dbt_models,
            detect_breakpoints,
            replication_plots,
        ],
        asset_checks=[raw_results_check],
        sensors=[partitions_sensor(db_path)],
        resources={
            "warehouse": WarehouseResource(database=str(db_path)),
            "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=_dbt_executable()),
        },
    )
    # Each stage's module adds its own assets, checks, sensors and schedules; they share the
    # resources above (`warehouse`, `dbt`) and add any others under their own keys.
    return dg.Definitions.merge(
        core,
        build_github_definitions(sources, db_path),
        build_benchmark_definitions(sources, db_path),
        build_dataset_definitions(sources, db_path),
    )


def _dbt_executable() -> str:
    """The dbt installed beside this Python, so a non-activated virtualenv still finds it."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else "dbt"


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()

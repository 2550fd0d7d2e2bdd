"""The code location for Kubernetes: the project's definitions plus `benchmark_k8s_job`, whose steps run in
their own pods (dagster-k8s's k8s_job_executor). Needs the optional extra: `uv sync --extra k8s`.

    dagster dev -f deploy/k8s/definitions.py           # or point the Helm chart's user deployment at it

Its schedules and sensors (the daily refresh of dashboards and GitHub, the eager-automation sensor, the
results-folder sensor, the freshness checks) start RUNNING, unlike the demo's. Launch one run per repository partition (`benchmark_repos`) with deploy/k8s/run_config.yaml; the assets
are the same ones `datasmith materialize` runs in-process.
"""

from pathlib import Path

import dagster as dg
import yaml
from dagster_k8s import k8s_job_executor

from assets.definitions import build_definitions

RUN_CONFIG = Path(__file__).with_name("run_config.yaml")


def benchmark_k8s_job(partitions_def):
    executor_config = yaml.safe_load(RUN_CONFIG.read_text())["execution"]["config"]
    return dg.define_asset_job(
        "benchmark_k8s_job",
        selection=dg.AssetSelection.assets("benchmark_results", ["raw", "benchmark_runs"]),
        partitions_def=partitions_def,
        executor_def=k8s_job_executor.configured(executor_config),
        description="Measure one repository's commits in its own pod (guaranteed CPUs), then load the results.",
    )


@dg.definitions
def defs() -> dg.Definitions:
    # The shipped deployment refreshes the public sources and follows new raw data by itself: its schedules
    # and sensors start RUNNING (the demo's stay stopped; assets/automation.py).
    base = build_definitions(automation=True)
    results = next(a for a in base.assets if dg.AssetKey("benchmark_results") in getattr(a, "keys", ()))
    return dg.Definitions.merge(base, dg.Definitions(jobs=[benchmark_k8s_job(results.partitions_def)]))

"""Automation and freshness (issue 16): one job per stage, a schedule that refreshes the public sources,
`eager` automation conditions so the models, detection and the dataset follow new raw data, a sensor on
the local results folders, and per-source freshness checks on the raw tables.

Everything that starts work by itself (the refresh schedule, the automation sensor, the results-folder
sensor, the freshness-check schedule) is STOPPED by default, so `make dev` on the demo does nothing the
user did not ask for; `DATASMITH_AUTOMATION=on` starts them all, or each is turned on in the UI
(docs/operations.md#automation-and-freshness).
"""

import datetime
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path

import dagster as dg
import yaml
from dagster._utils.warnings import disable_dagster_warnings

from ingest.results import ResultsSourceError, discover_files
from ingest.sources import Sources

STAGES = (
    "sources",
    "results",
    "dashboards",
    "measurements",
    "github",
    "benchmark_runner",
    "detection",
    "dataset",
)
AUTOMATION_ENV = "DATASMITH_AUTOMATION"  # on/1/true: the schedules and sensors below start RUNNING
REFRESH_CRON_ENV = "DATASMITH_REFRESH_CRON"
DEFAULT_REFRESH_CRON = "0 4 * * *"  # daily, 04:00 UTC
FRESHNESS_CRON = "0 * * * *"  # the freshness checks, hourly
GROUPS_FILE = Path(__file__).resolve().parent.parent / "models" / "groups.yml"

# Assets no step of the code location writes (the dbt sources of a stage the sources file lacks, such as
# raw/benchmark_runs in the demo): they are never materialised, so plain `eager()` would wait on them
# for ever (its `~any_deps_missing`) and nothing reading raw/asv_result_files would ever follow.
with disable_dagster_warnings():  # include_sources is marked beta
    UNWRITTEN = dg.AssetSelection.all(include_sources=True) - dg.AssetSelection.all()
FOLLOW_UPSTREAM = dg.AutomationCondition.eager().ignore(UNWRITTEN)

RAW_RESULTS_KEYS = [
    dg.AssetKey(["raw", t])
    for t in ("asv_result_files", "asv_benchmark_files", "asv_machine_files", "asv_config_files")
] + [dg.AssetKey(["raw", "results_quarantine"])]
RAW_DASHBOARD_KEYS = [dg.AssetKey(["raw", "dashboard_files"]), dg.AssetKey(["raw", "dashboard_missing"])]
# The GitHub stage's Python assets (assets/github.py): discovery, then per repository its pull requests
# and changed files.
GITHUB_DISCOVERY_KEYS = [
    dg.AssetKey(["raw", t]) for t in ("github_discovery_responses", "github_candidates", "github_repo_facts")
]
GITHUB_REPO_KEYS = [
    dg.AssetKey(["raw", t])
    for t in ("github_pull_pages", "github_pull_crawls", "github_commit_files", "github_commit_diffs")
]
GITHUB_PARTITIONS = "github_repos"
# The raw tables whose freshness is checked, each with the dbt source table that declares its thresholds.
FRESHNESS_TABLES = {
    dg.AssetKey(["raw", "dashboard_files"]): ("dashboards", "dashboard_files"),
    dg.AssetKey(["raw", "asv_result_files"]): ("results", "asv_result_files"),
}


def automation_on(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether `DATASMITH_AUTOMATION` asks for the schedules and sensors to start RUNNING."""
    value = environ.get(AUTOMATION_ENV, "").strip().lower()
    if value in ("", "0", "off", "false", "no"):
        return False
    if value in ("1", "on", "true", "yes"):
        return True
    raise ValueError(f"{AUTOMATION_ENV}={value!r}: expected on or off")


def refresh_cron(environ: Mapping[str, str] = os.environ) -> str:
    """The refresh schedule's cron: `DATASMITH_REFRESH_CRON`, else daily at 04:00 UTC."""
    from dagster._utils.schedules import is_valid_cron_string

    cron = environ.get(REFRESH_CRON_ENV, "").strip() or DEFAULT_REFRESH_CRON
    if not is_valid_cron_string(cron):
        raise ValueError(f"{REFRESH_CRON_ENV}={cron!r} is not a cron schedule (e.g. '0 4 * * *')")
    return cron


def stage_owners(groups_file: Path = GROUPS_FILE) -> dict[str, str]:
    """Each stage's owner as Dagster spells it (`team:<name>`), from the dbt group's owner in models/groups.yml."""
    groups = yaml.safe_load(groups_file.read_text())["groups"]
    return {g["name"]: f"team:{g['owner']['name']}" for g in groups if g.get("owner", {}).get("name")}


def _is_dbt(spec: dg.AssetSpec) -> bool:
    return "dbt" in (spec.kinds or set())


def with_stage_owners(defs: dg.Definitions) -> dg.Definitions:
    """The Python assets (and the unwritten dbt sources) of each stage get its owner and `stage` tag;
    the dbt models keep theirs from dbt."""
    owners = stage_owners()

    def tag(spec: dg.AssetSpec) -> dg.AssetSpec:
        stage = spec.group_name
        if _is_dbt(spec) or stage not in owners:
            return spec
        return spec.merge_attributes(owners=[owners[stage]], tags={"stage": stage})

    return _map_specs(defs, tag)


def with_follow_upstream(defs: dg.Definitions) -> dg.Definitions:
    """Detection's and the dataset's Python assets that read the warehouse (not the raw loaders) follow
    new upstream data like the dbt models (whose condition comes from the dbt translator)."""

    def follow(spec: dg.AssetSpec) -> dg.AssetSpec:
        if spec.group_name in ("detection", "dataset") and spec.key.path[0] != "raw" and not _is_dbt(spec):
            return spec.replace_attributes(automation_condition=FOLLOW_UPSTREAM)
        return spec

    return _map_specs(defs, follow)


def _map_specs(defs: dg.Definitions, func) -> dg.Definitions:
    """`defs` with `func` applied to every asset's spec, each AssetsDefinition kept one (what the CLI
    iterates); Definitions.map_asset_specs would hand external assets back as bare AssetSpecs."""
    with disable_dagster_warnings():  # AssetsDefinition.map_asset_specs is marked preview
        assets = [
            asset.map_asset_specs(func) if isinstance(asset, dg.AssetsDefinition) else asset
            for asset in defs.assets or ()
        ]
    return dg.Definitions(
        assets=assets,
        asset_checks=defs.asset_checks,
        jobs=defs.jobs,
        schedules=defs.schedules,
        sensors=defs.sensors,
        resources=defs.resources,
        executor=defs.executor,
        loggers=defs.loggers,
        metadata=defs.metadata,
    )


def stage_jobs(defs: dg.Definitions) -> list:
    """`<stage>_job` for each stage that has assets to run: its group, nothing else (what a stage needs
    upstream must already be built, as with `--select group:<stage>`)."""
    groups = {
        spec.group_name
        for asset in defs.assets or ()
        if isinstance(asset, dg.AssetsDefinition) and asset.is_executable
        for spec in asset.specs
    }
    return [
        dg.define_asset_job(
            f"{stage}_job",
            selection=dg.AssetSelection.groups(stage),
            description=f"The {stage} stage's assets (Dagster group `{stage}`).",
            tags={"stage": stage},
        )
        for stage in STAGES
        if stage in groups
    ]


def public_sources_schedule(
    sources: Sources, status: dg.DefaultScheduleStatus
) -> dg.ScheduleDefinition | None:
    """The daily refresh of what is public and changes upstream: every `dashboards:` source (one run per
    source) and the GitHub stage (discovery, and each known repository's pull requests and changed
    files). Downstream (dbt, detection, the dataset) follows through the automation conditions once
    the automation sensor runs; `DATASMITH_AUTOMATION=on` starts both."""
    dashboards = [s.name for s in sources.dashboards]
    github = sources.github is not None
    if not dashboards and not github:
        return None
    selection = dg.AssetSelection.assets(
        *(RAW_DASHBOARD_KEYS if dashboards else []),
        *(GITHUB_DISCOVERY_KEYS + GITHUB_REPO_KEYS if github else []),
    )

    @dg.schedule(
        name="refresh_public_sources",
        cron_schedule=refresh_cron(),
        execution_timezone="UTC",
        target=selection,
        default_status=status,
        description="Crawl the dashboards again and refresh the GitHub stage; downstream follows (eager).",
    )
    def refresh(context: dg.ScheduleEvaluationContext):
        tick = context.scheduled_execution_time.strftime("%Y-%m-%dT%H:%M")
        for name in dashboards:
            yield dg.RunRequest(
                run_key=f"dashboards:{name}:{tick}",
                partition_key=name,
                asset_selection=RAW_DASHBOARD_KEYS,
                tags={"stage": "dashboards"},
            )
        if github:
            yield dg.RunRequest(
                run_key=f"github:discovery:{tick}",
                asset_selection=GITHUB_DISCOVERY_KEYS,
                tags={"stage": "github"},
            )
            for repo in context.instance.get_dynamic_partitions(GITHUB_PARTITIONS):
                yield dg.RunRequest(
                    run_key=f"github:{repo}:{tick}",
                    partition_key=repo,
                    asset_selection=GITHUB_REPO_KEYS,
                    tags={"stage": "github"},
                )

    return refresh


def folder_state(root: Path) -> tuple[str, int]:
    """A digest of the (path, mtime, size) of every file the results loader would read under ``root``
    (ingest.results.discover_files), and how many there are."""
    digest = hashlib.sha256()
    files = discover_files(root)
    for entry in sorted(files, key=lambda f: f.relative_path):
        stat = (root / entry.relative_path).stat()
        digest.update(f"{entry.relative_path}\0{stat.st_mtime_ns}\0{stat.st_size}\n".encode())
    return digest.hexdigest(), len(files)


def results_folder_sensor(sources: Sources, status: dg.DefaultSensorStatus) -> dg.SensorDefinition | None:
    """Requests a load of a `results:` source's partition when a file in its tree is new or its mtime or
    size changed. The cursor keeps one digest per source; the first tick only records them, except for a
    source never loaded on this instance, which it requests at once."""
    names = {s.name: s.path for s in sources.results}
    if not names:
        return None

    @dg.sensor(
        name="results_folders",
        target=dg.AssetSelection.assets(*RAW_RESULTS_KEYS),
        minimum_interval_seconds=60,
        default_status=status,
        description="Load a results source again when its folder changed (new or changed files, by mtime and size).",
    )
    def watch(context: dg.SensorEvaluationContext):
        previous = json.loads(context.cursor) if context.cursor else None
        loaded = (
            set()
            if previous is not None
            else context.instance.get_materialized_partitions(RAW_RESULTS_KEYS[0])
        )
        state, requests = {}, []
        for name, root in names.items():
            try:
                digest, count = folder_state(Path(root))
            except (ResultsSourceError, OSError) as exc:
                context.log.warning(f"results source {name}: {exc}")
                continue
            state[name] = digest
            changed = previous.get(name) != digest if previous is not None else name not in loaded
            if changed:
                requests.append(
                    dg.RunRequest(
                        run_key=f"{name}:{digest[:16]}",
                        partition_key=name,
                        asset_selection=RAW_RESULTS_KEYS,
                        tags={"stage": "results"},
                    )
                )
                context.log.info(f"results source {name}: {count} files, changed since the last tick")
        return dg.SensorResult(run_requests=requests, cursor=json.dumps(state, sort_keys=True))

    return watch


_PERIODS = {"minute": 60, "hour": 3600, "day": 86400}


def source_freshness(manifest: Mapping, source: str, table: str) -> dict[str, datetime.timedelta]:
    """The dbt source table's `freshness` thresholds (warn_after, error_after) from the manifest."""
    for node in manifest.get("sources", {}).values():
        if node.get("source_name") == source and node.get("name") == table:
            freshness = node.get("freshness") or {}
            return {
                level: datetime.timedelta(seconds=rule["count"] * _PERIODS[rule["period"]])
                for level in ("warn_after", "error_after")
                if (rule := freshness.get(level)) and rule.get("count")
            }
    return {}


def freshness_checks(sources: Sources, manifest: Mapping) -> list[dg.AssetChecksDefinition]:
    """One `source_freshness` check per raw table of FRESHNESS_TABLES whose stage has sources: each source
    (partition) last loaded longer ago than the dbt source's `warn_after` fails it (severity WARN), longer
    than `error_after`, severity ERROR; its metadata names each source's last load. A source never loaded
    on this instance is listed, not judged (a first `datasmith materialize` loads them one by one)."""
    present = {"dashboards": bool(sources.dashboards), "results": bool(sources.results)}
    checks = []
    for key, (stage, table) in FRESHNESS_TABLES.items():
        thresholds = source_freshness(manifest, stage, table)
        if not present[stage] or not thresholds:
            continue
        checks.append(_freshness_check(key, thresholds))
    return checks


def _freshness_check(key: dg.AssetKey, thresholds: dict[str, datetime.timedelta]) -> dg.AssetChecksDefinition:
    warn = thresholds.get("warn_after") or thresholds["error_after"]
    error = thresholds.get("error_after")

    @dg.asset_check(
        asset=key,
        name="source_freshness",
        description=(
            f"Every source of {key.to_user_string()} loaded within {warn} (WARN)"
            + (f" and {error} (ERROR)" if error else "")
            + " (the dbt source's freshness)."
        ),
    )
    def check(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        from dagster._core.event_api import AssetRecordsFilter
        from dagster._time import get_current_timestamp  # Dagster's clock (freeze_time in tests)

        now = get_current_timestamp()
        partitions = context.instance.get_materialized_partitions(key)
        last: dict[str, float] = {}
        for partition in sorted(partitions):
            records = context.instance.fetch_materializations(
                AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1
            ).records
            if records:
                last[partition] = records[0].timestamp
        stale_warn = sorted(p for p, t in last.items() if now - t > warn.total_seconds())
        stale_error = sorted(p for p, t in last.items() if error and now - t > error.total_seconds())
        severity = dg.AssetCheckSeverity.ERROR if stale_error else dg.AssetCheckSeverity.WARN
        if stale_warn:
            worst = min(last[p] for p in stale_warn)
            description = (
                f"{len(stale_warn)} of {len(last)} sources stale ({', '.join(stale_warn)}); oldest load "
                f"{datetime.timedelta(seconds=int(now - worst))} ago"
            )
        else:
            description = f"all {len(last)} loaded sources within {warn}"
        return dg.AssetCheckResult(
            passed=not stale_warn,
            severity=severity,
            description=description,
            metadata={
                "last_loaded": dg.MetadataValue.json(
                    {p: datetime.datetime.fromtimestamp(t, datetime.UTC).isoformat() for p, t in last.items()}
                ),
                "stale_sources": ", ".join(stale_warn) or "none",
                "warn_after_seconds": int(warn.total_seconds()),
                "error_after_seconds": int(error.total_seconds()) if error else 0,
            },
        )

    return check


def build_automation(
    sources: Sources, defs: dg.Definitions, manifest: Mapping, running: bool | None = None
) -> dg.Definitions:
    """`defs` with the stage owners and tags, the automation conditions, and the jobs, schedules,
    sensors and freshness checks of this module: RUNNING when `running` says so (a deployment's code
    location, deploy/k8s/definitions.py), else as DATASMITH_AUTOMATION says (default STOPPED: the demo)."""
    on = automation_on() if running is None else running
    schedule_status = dg.DefaultScheduleStatus.RUNNING if on else dg.DefaultScheduleStatus.STOPPED
    sensor_status = dg.DefaultSensorStatus.RUNNING if on else dg.DefaultSensorStatus.STOPPED
    defs = with_follow_upstream(with_stage_owners(defs))
    checks = freshness_checks(sources, manifest)
    schedules = [s for s in [public_sources_schedule(sources, schedule_status)] if s is not None]
    if checks:
        schedules.append(
            dg.ScheduleDefinition(
                name="freshness_checks",
                cron_schedule=FRESHNESS_CRON,
                execution_timezone="UTC",
                target=dg.AssetSelection.checks(*checks),
                default_status=schedule_status,
                description="Evaluate the raw tables' source_freshness checks.",
            )
        )
    sensors = [
        dg.AutomationConditionSensorDefinition(
            "follow_upstream",
            target=dg.AssetSelection.all(),
            default_status=sensor_status,
            minimum_interval_seconds=30,
            description="Evaluates the eager conditions of the dbt models, detection and the dataset.",
        ),
        *[s for s in [results_folder_sensor(sources, sensor_status)] if s is not None],
    ]
    return dg.Definitions.merge(
        defs,
        dg.Definitions(jobs=stage_jobs(defs), schedules=schedules, sensors=sensors, asset_checks=checks),
    )

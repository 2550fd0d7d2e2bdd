"""`datasmith`: headless runs of the asset graph.

    datasmith materialize [--select SELECTION] [--sources FILE] [--db PATH] [--partition NAME ...]
    datasmith score ...   (see `datasmith score --help`)

materialises in-process (no Dagster daemon or webserver needed), prints progress, and exits
non-zero when any asset or check fails.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

from ingest.sources import SourcesError, db_path_from_env, load_sources, sources_file_from_env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="datasmith", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("materialize", help="materialise assets into the warehouse")
    run.add_argument(
        "--select", help="Dagster asset selection, e.g. 'raw_results_files' or '*fct_measurements'"
    )
    run.add_argument("--sources", type=Path, help="sources file (default: $DATASMITH_SOURCES or sources.yml)")
    run.add_argument(
        "--db", type=Path, help="warehouse file (default: $DATASMITH_DB or artifacts/warehouse.duckdb)"
    )
    run.add_argument(
        "--partition", action="append", help="only these partitions (source names) of partitioned assets"
    )
    score = commands.add_parser("score", help="an optimizer's speed-ups against the human's (see datasmith.score)")
    from datasmith.score import add_score_arguments

    add_score_arguments(score)
    args = parser.parse_args(argv)
    if args.command == "score":
        from datasmith.score import run_score

        try:
            return run_score(args)
        except (SourcesError, FileNotFoundError) as exc:
            print(f"datasmith: {exc}", file=sys.stderr)
            return 2

    # Our own progress lines only; the libraries' INFO logs (alembic, dagster) stay quiet.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("  %(message)s"))
    progress = logging.getLogger("datasmith")
    progress.addHandler(handler)
    progress.setLevel(logging.INFO)
    progress.propagate = False
    try:
        return materialize(args.select, args.sources, args.db, args.partition)
    except (SourcesError, FileNotFoundError) as exc:
        print(f"datasmith: {exc}", file=sys.stderr)
        return 2


def materialize(
    select: str | None, sources_file: Path | None, db_path: Path | None, partitions: list[str] | None = None
) -> int:
    import dagster as dg

    sources_file = (sources_file or sources_file_from_env()).resolve()
    db_path = (db_path or db_path_from_env()).resolve()
    load_sources(sources_file)  # fail early, with the line, on a bad sources file
    os.environ["DATASMITH_SOURCES"] = str(sources_file)
    os.environ["DATASMITH_DB"] = str(db_path)

    from assets.dbt_project import ensure_manifest

    ensure_manifest()
    from assets.definitions import build_definitions

    defs = build_definitions(sources_file, db_path)
    graph = defs.resolve_asset_graph()
    try:
        selected = (dg.AssetSelection.from_string(select) if select else dg.AssetSelection.all()).resolve(
            graph
        )
    except dg.DagsterError as exc:
        print(f"datasmith: bad selection {select!r}: {exc}", file=sys.stderr)
        return 2
    if not selected:
        print(f"datasmith: the selection {select!r} matches no asset", file=sys.stderr)
        return 2
    assets = [*(defs.assets or []), *(defs.asset_checks or [])]
    resources = defs.resources or {}
    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}

    known = {p for d in defs.assets or [] if d.partitions_def for p in d.partitions_def.get_partition_keys()}
    unknown = sorted(set(partitions or ()) - known)
    if unknown:
        print(
            f"datasmith: no partition {', '.join(unknown)}; known: {', '.join(sorted(known))}",
            file=sys.stderr,
        )
        return 2

    # Partitioned ingest assets run once per partition, then everything unpartitioned in one run.
    steps: list[tuple[set, str | None]] = []
    # A multi-asset cannot be split, so a partitioned step takes every key of its definition.
    partitioned: set = set()
    for definition in defs.assets or []:
        if definition.partitions_def is None or not (set(definition.keys) & selected):
            continue
        partitioned |= set(definition.keys)
        for partition in definition.partitions_def.get_partition_keys():
            if partitions is None or partition in partitions:
                steps.append((set(definition.keys), partition))
    if selected - partitioned:
        steps.append((selected - partitioned, None))

    print(f"datasmith: {len(selected)} assets, {len(steps)} runs -> {db_path}", file=sys.stderr)
    failed = 0
    for number, (keys, partition) in enumerate(steps, start=1):
        names = (
            ", ".join(sorted(k.to_user_string() for k in keys)) if len(keys) < 4 else f"{len(keys)} assets"
        )
        label = f"{names}" + (f" [{partition}]" if partition else "")
        print(f"[{number}/{len(steps)}] {label} ...", file=sys.stderr, flush=True)
        started = time.monotonic()
        result = dg.materialize(
            assets,
            selection=dg.AssetSelection.assets(*keys),
            partition_key=partition,
            resources=resources,
            instance=instance,
            run_config=quiet,
            raise_on_error=False,
        )
        _report(result, time.monotonic() - started)
        failed += 0 if result.success else 1
    print(
        f"datasmith: {'done' if not failed else f'{failed} of {len(steps)} runs failed'}; warehouse {db_path}",
        file=sys.stderr,
    )
    return 0 if not failed else 1


def _report(result, seconds: float) -> None:
    materialized = result.get_asset_materialization_events()
    checks = result.get_asset_check_evaluations()
    failed_checks = [c for c in checks if not c.passed]
    status = "ok" if result.success else "FAILED"
    print(
        f"      {status} in {seconds:.1f} s: {len(materialized)} assets materialised, "
        f"{len(checks) - len(failed_checks)}/{len(checks)} checks passed",
        file=sys.stderr,
    )
    for check in failed_checks:
        print(f"      check failed: {check.asset_key.to_user_string()} {check.check_name}", file=sys.stderr)
    if not result.success:
        for event in result.all_events:
            if event.is_failure and event.event_specific_data is not None:
                error = getattr(event.event_specific_data, "error", None)
                if error is not None:
                    print(f"      {event.step_key}: {error.message.strip()}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())

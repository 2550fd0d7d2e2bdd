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
    score = commands.add_parser(
        "score", help="an optimizer's speed-ups against the human's (see datasmith.score)"
    )
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

    from assets.partitions import partition_keys

    definitions = list(defs.assets or [])
    dynamic = [d for d in definitions if isinstance(d.partitions_def, dg.DynamicPartitionsDefinition)]
    static_known = {
        p
        for d in definitions
        if d.partitions_def and d not in dynamic
        for p in d.partitions_def.get_partition_keys()
    }
    unknown = sorted(set(partitions or ()) - static_known)
    if unknown and not dynamic:  # dynamic keys appear while the run goes, so they are checked later
        print(
            f"datasmith: no partition {', '.join(unknown)}; known: {', '.join(sorted(static_known))}",
            file=sys.stderr,
        )
        return 2

    print(f"datasmith: {len(selected)} assets -> {db_path}", file=sys.stderr)
    failed = runs = 0
    seen_partitions: set[str] = set()
    for keys, definition in _steps(graph, definitions, selected):
        if definition is None:
            runs += 1
            failed += _run(dg, assets, keys, None, resources, instance, quiet, runs)
            continue
        wanted = partition_keys(definition, instance, db_path)
        seen_partitions |= set(wanted)
        wanted = [p for p in wanted if partitions is None or p in partitions]
        if not wanted:
            print(f"      {_label(keys)}: no partitions to run", file=sys.stderr)
        for partition in wanted:
            runs += 1
            failed += _run(dg, assets, keys, partition, resources, instance, quiet, runs)
    unknown = sorted(set(partitions or ()) - static_known - seen_partitions)
    if unknown:
        print(f"datasmith: no partition {', '.join(unknown)} was found", file=sys.stderr)
        failed += 1
    print(
        f"datasmith: {'done' if not failed else f'{failed} of {runs} runs failed'}; warehouse {db_path}",
        file=sys.stderr,
    )
    return 0 if not failed else 1


def _steps(graph, definitions: list, selected: set):
    """The runs, in dependency order: each partitioned definition once its upstream assets are done
    (one run per partition; a multi-asset cannot be split, so it takes all its keys), and in between
    one run of every unpartitioned asset that does not wait on a partitioned one. Yields
    (keys, partitioned definition or None)."""
    pending_defs = [d for d in definitions if d.partitions_def is not None and set(d.keys) & selected]
    remaining = set(selected).union(*(set(d.keys) for d in pending_defs))
    upstream = {key: _ancestors(graph, key) & remaining for key in remaining}
    while remaining:
        partitioned_keys = set().union(*(set(d.keys) for d in pending_defs))
        ready = [
            d
            for d in pending_defs
            if not (set().union(*(upstream[k] for k in d.keys if k in upstream)) - set(d.keys)) & remaining
        ]
        if ready:
            for definition in ready:
                pending_defs.remove(definition)
                remaining -= set(definition.keys)
                yield set(definition.keys), definition
            continue
        free = {k for k in remaining - partitioned_keys if not upstream[k] & partitioned_keys}
        if not free:  # cannot happen in a DAG; run the rest rather than loop
            free = remaining - partitioned_keys
            if not free:
                return
        remaining -= free
        yield free, None


def _ancestors(graph, key) -> set:
    seen: set = set()
    stack = [key]
    while stack:
        for parent in graph.get(stack.pop()).parent_keys:
            if parent not in seen and graph.has(parent):
                seen.add(parent)
                stack.append(parent)
    return seen


def _label(keys: set) -> str:
    return ", ".join(sorted(k.to_user_string() for k in keys)) if len(keys) < 4 else f"{len(keys)} assets"


def _run(dg, assets, keys, partition, resources, instance, quiet, number: int) -> int:
    """One Dagster run; 1 when it failed."""
    print(
        f"[{number}] {_label(keys)}" + (f" [{partition}]" if partition else "") + " ...",
        file=sys.stderr,
        flush=True,
    )
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
    return 0 if result.success else 1


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

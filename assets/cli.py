"""`datasmith`: headless runs of the asset graph.

    datasmith materialize [--select SELECTION] [--sources FILE] [--db PATH] [--partition NAME ...]
                          [--dagster-home DIR] [--verbose]
    datasmith score ...   (see `datasmith score --help`)

materialises in-process (no Dagster daemon or webserver needed) on a persistent Dagster instance, the
one `make dev` opens (--dagster-home, else $DAGSTER_HOME, else `dagster_home/` beside the warehouse), so
its runs, materialisations and check results show in the UI. It prints one progress line per step and a
summary; dbt's own log goes to `logs/dbt.log` beside the warehouse (its end is printed when a step
fails; --verbose prints it as it comes). It exits
non-zero when any asset or check fails: 1, with each failure's cause in one line
(`datasmith: <step>: <cause>`; --verbose adds Dagster's tracebacks), 2 for a usage error, and
128 + the signal's number (143, 130) when SIGTERM or SIGINT stopped it: a signal ends the run.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path

from ingest.sources import SourcesError, db_path_from_env, load_sources, sources_file_from_env

# Selections shown in `datasmith materialize --help`; tests/test_cli.py resolves each against the real
# Definitions, so every example here works.
SELECTION_EXAMPLES = (
    ("key:raw/source_registry", "only the sources registry"),
    ("key:raw/asv_result_files", "the results ingest (its five raw/* tables run together)"),
    ("+key:fct_measurements", "fct_measurements and everything upstream of it"),
    ("key:fct_measurements+", "fct_measurements and everything downstream of it"),
    ("group:measurements", "the measurements stage's dbt models (upstream models must already exist)"),
    ("kind:dbt", "every dbt model"),
)


def _epilog() -> str:
    width = max(len(s) for s, _ in SELECTION_EXAMPLES)
    lines = [
        f"  datasmith materialize --select '{s}'{' ' * (width - len(s))}  {what}"
        for s, what in SELECTION_EXAMPLES
    ]
    return "selection examples:\n" + "\n".join(lines)


# A key named by its table alone: `key:<name>` in Dagster's selection syntax, or the whole selection in
# the legacy form (`fct_measurements`, `*fct_measurements`, `fct_measurements+`).
_KEY_TOKEN = re.compile(r"(?<![\w/:])(key:)([A-Za-z0-9_]+)(?![\w/])")
_LEGACY_SELECTION = re.compile(r"([*+]*)([A-Za-z0-9_]+)([*+]*)")


def resolve_bare_names(select: str, keys) -> str:
    """The selection with each bare table name (`fct_measurements`) written as the full key of the one asset
    whose last key part it is (`main/fct_measurements`), as selections were written before keys were
    [schema, table]. A name that is a whole key, or the last part of no key or of several, stays as written."""
    by_name: dict[str, list] = {}
    for key in keys:
        by_name.setdefault(key.path[-1], []).append(key)
    whole = {"/".join(key.path) for key in keys}

    def full(name: str) -> str:
        if name in whole or len(by_name.get(name, ())) != 1:
            return name
        return "/".join(by_name[name][0].path)

    resolved = _KEY_TOKEN.sub(lambda m: m.group(1) + full(m.group(2)), select)
    legacy = _LEGACY_SELECTION.fullmatch(resolved.strip())
    if legacy:
        resolved = legacy.group(1) + full(legacy.group(2)) + legacy.group(3)
    return resolved


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("datasmith")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="datasmith", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"datasmith {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "materialize",
        help="materialise assets into the warehouse",
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("--select", help="Dagster asset selection (examples below; default: every asset)")
    run.add_argument("--sources", type=Path, help="sources file (default: $DATASMITH_SOURCES or sources.yml)")
    run.add_argument(
        "--db", type=Path, help="warehouse file (default: $DATASMITH_DB or artifacts/warehouse.duckdb)"
    )
    run.add_argument(
        "--partition", action="append", help="only these partitions (source names) of partitioned assets"
    )
    run.add_argument(
        "--dagster-home",
        type=Path,
        help="Dagster instance folder (default: $DAGSTER_HOME, else dagster_home/ beside the warehouse)",
    )
    run.add_argument(
        "--verbose",
        action="store_true",
        help="also print dbt's log as it runs and Dagster's errors with their tracebacks",
    )
    score = commands.add_parser(
        "score", help="an optimizer's speed-ups against the human's (see dataset.score)"
    )
    from dataset.score import add_score_arguments

    add_score_arguments(score)
    args = parser.parse_args(argv)
    if args.command == "score":
        from dataset.score import run_score

        try:
            return run_score(args)
        except (SourcesError, FileNotFoundError) as exc:
            print(f"datasmith: {exc}", file=sys.stderr)
            return 2

    # Our own progress lines only; the libraries' INFO logs (alembic, dagster) stay quiet.
    # One handler, writing to whatever sys.stderr is when a line is logged: a second main() in the same
    # process (tests, the Python API) neither doubles the lines nor writes to a stream closed since.
    progress = logging.getLogger("datasmith")
    for old in [h for h in progress.handlers if isinstance(h, _CurrentStderr)]:
        progress.removeHandler(old)
    handler = _CurrentStderr()
    handler.setFormatter(logging.Formatter("  %(message)s"))
    level, propagate = progress.level, progress.propagate
    progress.addHandler(handler)
    progress.setLevel(logging.INFO)
    progress.propagate = False
    try:
        return materialize(
            args.select,
            args.sources,
            args.db,
            args.partition,
            verbose=args.verbose,
            dagster_home=args.dagster_home,
        )
    except (SourcesError, FileNotFoundError) as exc:
        print(f"datasmith: {exc}", file=sys.stderr)
        return 2
    finally:
        # Leave logging as it was found: a later command in the same process (`score`, the Python API)
        # must not print materialize's progress lines.
        progress.removeHandler(handler)
        progress.setLevel(level)
        progress.propagate = propagate


class _CurrentStderr(logging.StreamHandler):
    """A StreamHandler on sys.stderr as it is at each line, not as it was when the handler was made."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def materialize(
    select: str | None,
    sources_file: Path | None,
    db_path: Path | None,
    partitions: list[str] | None = None,
    verbose: bool = False,
    dagster_home: Path | None = None,
) -> int:
    import dagster as dg

    sources_file = (sources_file or sources_file_from_env()).resolve()
    db_path = (db_path or db_path_from_env()).resolve()
    sources = load_sources(sources_file)  # fail early, with the line, on a bad sources file
    # dbt gets the warehouse and sources paths from the `warehouse` resource (WarehouseResource.database and
    # .sources_file, set by build_definitions below), not from this process's environment.

    from assets.dbt_project import ensure_manifest

    ensure_manifest()
    from assets.definitions import build_definitions, build_partitions

    defs = build_definitions(sources_file, db_path)
    graph = defs.resolve_asset_graph()
    if select:
        select = resolve_bare_names(select, graph.get_all_asset_keys())
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
    home = dagster_home_for(db_path, dagster_home)
    with RunHistoryWrites(home):
        instance = open_instance(home)
        try:
            partition_sets = build_partitions(sources)
            return _materialize_on(
                dg, defs, graph, selected, instance, db_path, partitions, verbose, home, partition_sets
            )
        finally:
            instance.dispose()


class RunHistoryWrites:
    """While active, the Dagster instance's SQLite files under ``home`` (runs, the event log's index and
    each run's shard) are written without two costs Dagster pays on every event it stores:

    - Dagster opens a new SQLite connection for every event and closes it again. When the last connection
      to a WAL database closes, SQLite checkpoints the log into the database and deletes it, with fsyncs,
      so every event paid a checkpoint. One extra connection per file is held open here until the end,
      so Dagster's are never the last one; SQLite still checkpoints every 1,000 pages.
    - SQLite's default `synchronous=FULL` fsyncs the log on every commit; in WAL mode `NORMAL` (SQLite's
      recommendation for WAL) does not, and a crash of this process still loses nothing committed; only
      a power cut can roll back the last commits of the run history (never the warehouse, which is DuckDB).

    Measured on the shared build machine (load about 12 on 2 cores): 300 bare sqlite3 connect-insert-
    commit-close cycles took 9.1 s, 0.07 s held and NORMAL; 200 events stored Dagster's way (a new
    SQLAlchemy engine per event) 5.4 s, 3.3 s with this: the rest is SQLAlchemy's own cost per engine,
    which only fewer events remove. Nothing else in the process is changed (the listener only touches
    SQLite files under ``home``) and it is removed on exit."""

    def __init__(self, home: Path) -> None:
        self.home = str(Path(home).resolve())
        self.held: dict[str, object] = {}
        self._lock = threading.Lock()

    def _on_connect(self, dbapi_connection, _record) -> None:
        import sqlite3

        if not isinstance(dbapi_connection, sqlite3.Connection):
            return
        row = dbapi_connection.execute("pragma database_list").fetchone()
        file = row[2] if row else ""
        if not file or not file.startswith(self.home + os.sep):
            return
        dbapi_connection.execute("pragma synchronous=NORMAL")
        with self._lock:
            if file not in self.held:
                self.held[file] = sqlite3.connect(file, check_same_thread=False)

    def __enter__(self) -> RunHistoryWrites:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        event.listen(Engine, "connect", self._on_connect)
        return self

    def __exit__(self, *exc) -> None:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        event.remove(Engine, "connect", self._on_connect)
        with self._lock:
            for connection in self.held.values():
                connection.close()
            self.held.clear()


def _materialize_on(
    dg, defs, graph, selected, instance, db_path, partitions, verbose, home, partition_sets
) -> int:
    assets = [*(defs.assets or []), *(defs.asset_checks or [])]
    resources = defs.resources or {}
    # Without --verbose, a failure is told by its cause line (_report), not by Dagster's traceback.
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING" if verbose else "CRITICAL"}}}}

    # the assets that run (AssetSpecs of raw tables no asset here writes are lineage only)
    definitions = [d for d in defs.assets or [] if isinstance(d, dg.AssetsDefinition) and d.is_executable]
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
    selected = _whole_multi_assets(definitions, selected)

    def _partitions_to_run(definition, keys) -> list[str]:
        wanted = partition_sets.partition_keys(definition, instance, db_path)
        seen_partitions.update(wanted)
        wanted = [p for p in wanted if partitions is None or p in partitions]
        if not wanted:
            print(f"      {_label(keys)}: no partitions to run", file=sys.stderr)
        return wanted

    print(f"datasmith: {len(selected)} assets -> {db_path} (Dagster instance {home})", file=sys.stderr)
    failed = runs = steps = 0  # a step: an unpartitioned run, or one partition of a run
    seen_partitions: set[str] = set()
    step = ""
    log = _StdoutToFile(db_path.parent / "logs" / "dbt.log", active=not verbose)
    with _SignalWatch() as signals, log:
        try:
            for keys, definition in _steps(graph, definitions, selected):
                if definition is None:
                    batches: list[list[str] | None] = [None]
                else:
                    batches = _batches(definition, _partitions_to_run(definition, keys))
                for batch in batches:
                    runs += 1
                    steps += len(batch or [None])
                    step = f"[{runs}] {_label(keys)}" + (f" [{_partitions_label(batch)}]" if batch else "")
                    failed += _run(dg, assets, keys, batch, resources, instance, quiet, step, log)
                    if signals.received():
                        break
                if signals.received():
                    break
        except Stopped:
            pass
        stopped_by = signals.received()
    if stopped_by:
        name = signal.Signals(stopped_by).name
        print(
            f"datasmith: stopped by {name} during {step or 'the start'}; no further steps run; warehouse {db_path}",
            file=sys.stderr,
        )
        return 128 + stopped_by
    unknown = sorted(set(partitions or ()) - static_known - seen_partitions)
    if unknown:
        print(f"datasmith: no partition {', '.join(unknown)} was found", file=sys.stderr)
        failed += 1
    print(
        f"datasmith: {'done' if not failed else f'{failed} of {steps} steps failed'}; warehouse {db_path}",
        file=sys.stderr,
    )
    if failed and not verbose:
        print("datasmith: --verbose prints Dagster's errors with their tracebacks", file=sys.stderr)
    return 0 if not failed else 1


def dagster_home_for(db_path: Path, flag: Path | None = None) -> Path:
    """The Dagster instance folder: --dagster-home, else $DAGSTER_HOME, else `dagster_home/` beside the
    warehouse (artifacts/dagster_home for the demo, the folder `make dev` opens)."""
    chosen = flag or (Path(os.environ["DAGSTER_HOME"]) if os.environ.get("DAGSTER_HOME") else None)
    return (chosen or db_path.parent / "dagster_home").resolve()


SHIPPED_INSTANCE_CONFIG = Path(__file__).resolve().parent.parent / "deploy" / "local" / "dagster.yaml"


def open_instance(home: Path):
    """The persistent Dagster instance in `home`; a new home gets the shipped deploy/local/dagster.yaml
    (pools, telemetry off), an existing dagster.yaml is kept. This process enforces pools per run, not
    per step: its steps run one after another already, other processes wait on the warehouse's writer
    lock (and say so), and a step's pool slot is only given back by the process that claimed it, so a
    `datasmith` killed with SIGKILL would leave `duckdb_writer` taken for every later run, in `make dev`
    too, with no daemon here to free it."""
    import dagster as dg
    import yaml
    from dagster._core.instance.ref import InstanceRef

    home.mkdir(parents=True, exist_ok=True)
    config_file = home / "dagster.yaml"
    if not config_file.exists():
        config_file.write_text(SHIPPED_INSTANCE_CONFIG.read_text())
    concurrency = (yaml.safe_load(config_file.read_text()) or {}).get("concurrency") or {}
    pools = {**(concurrency.get("pools") or {}), "granularity": "run"}
    ref = InstanceRef.from_dir(str(home), overrides={"concurrency": {**concurrency, "pools": pools}})
    # Opening a new home creates its SQLite storages; two `datasmith` started at the same moment on one home
    # would both create the same tables ("table secondary_indexes already exists"): one at a time.
    import fcntl

    with open(home / ".datasmith-open.lock", "a+") as lock:
        fcntl.lockf(lock, fcntl.LOCK_EX)
        try:
            instance = dg.DagsterInstance.from_ref(ref)
            instance.get_runs(limit=1)  # the run, event log and schedule storages exist past here
            instance.schedule_storage  # noqa: B018 (created on access)
            return instance
        finally:
            fcntl.lockf(lock, fcntl.LOCK_UN)


class Stopped(BaseException):
    """SIGTERM or SIGINT arrived between runs (see _SignalWatch)."""


class _SignalWatch:
    """Notices SIGTERM and SIGINT whoever handles them. While a run executes, Dagster swaps in its own
    handlers: it turns the signal into a failed step and then forgets it, so the loop would start the
    next step. A wakeup fd gets the number of every signal that arrives (Python's C-level handler writes
    it, whichever Python handler runs), and between runs our handler raises Stopped. received() is the
    first stop signal seen, or None."""

    STOP = (signal.SIGTERM, signal.SIGINT)

    def __enter__(self) -> _SignalWatch:
        self._first: int | None = None
        self._fds: tuple[int, int] | None = None
        self._previous: dict = {}
        try:
            read_fd, write_fd = os.pipe()
            os.set_blocking(read_fd, False)
            os.set_blocking(write_fd, False)
            self._old_wakeup = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
            self._fds = (read_fd, write_fd)
            for signum in self.STOP:
                self._previous[signum] = signal.signal(signum, self._handler)
        except ValueError:  # not the main thread: signals cannot reach us here anyway
            pass
        return self

    def _handler(self, signum: int, _frame) -> None:
        self._first = self._first or signum
        raise Stopped(signum)

    def received(self) -> int | None:
        if self._fds is not None:
            try:
                data = os.read(self._fds[0], 512)
            except BlockingIOError:
                data = b""
            for signum in data:
                if signum in self.STOP and self._first is None:
                    self._first = signum
        return self._first

    def __exit__(self, *exc) -> None:
        self.received()
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        if self._fds is not None:
            signal.set_wakeup_fd(self._old_wakeup)
            for fd in self._fds:
                os.close(fd)


def _whole_multi_assets(definitions: list, selected: set) -> set:
    """The selection, with every multi-asset that cannot run in part taken whole (Dagster refuses a
    subset of one), saying which assets come along."""
    widened = set(selected)
    for definition in definitions:
        keys = set(definition.keys)
        if keys & selected and not keys <= selected and not definition.can_subset:
            added = sorted(k.to_user_string() for k in keys - selected)
            print(
                f"datasmith: {definition.node_def.name} writes its assets together; also running {', '.join(added)}",
                file=sys.stderr,
            )
            widened |= keys
    return widened


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
        roots = _whole_roots(graph, definitions, free, {k: upstream[k] & remaining for k in free})
        if roots and roots != free:
            free = roots
        remaining -= free
        yield free, None


def _whole_roots(graph, definitions: list, free: set, upstream: dict) -> set:
    """The definitions among ``free`` that wait on nothing left to run and feed a multi-asset that Dagster
    may split (one that can subset: the dbt models), such as the sources registry and the agent results:
    they run first, on their own. In one run with the dbt models they feed, Dagster splits the dbt
    multi-asset at them (it colours the graph by node crossings, asset_job._attempt_resolve_node_cycles),
    so the models downstream of them became one more `dbt build`: several seconds of dbt start-up and
    parsing, against about a second for the extra run."""
    splittable = {k for d in definitions if d.can_subset and len(d.keys) > 1 for k in d.keys} & free
    roots: set = set()
    for definition in definitions:
        keys = set(definition.keys) & free
        if not keys or definition.can_subset or any(upstream[k] for k in keys):
            continue
        if any(child in splittable for k in keys for child in graph.get(k).child_keys):
            roots |= keys
    return roots


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


def _batches(definition, partitions: list[str]) -> list[list[str]]:
    """The runs of a partitioned definition: one per partition, or, for a definition that loads a range
    of its partitions in one run (BackfillPolicy.single_run, see assets.partitions.
    materialize_each_partition), one per contiguous range of the partitions asked for (all of them in one
    run unless --partition picks some apart). A run of Dagster costs about a second of fixed cost."""
    from dagster._core.definitions.backfill_policy import BackfillPolicyType

    policy = definition.backfill_policy
    if policy is None or policy.policy_type != BackfillPolicyType.SINGLE_RUN or len(partitions) < 2:
        return [[p] for p in partitions]
    order = {key: i for i, key in enumerate(definition.partitions_def.get_partition_keys())}
    if not all(p in order for p in partitions):  # dynamic keys added since: one run each
        return [[p] for p in partitions]
    ranges: list[list[str]] = []
    for partition in sorted(partitions, key=order.__getitem__):
        if ranges and order[ranges[-1][-1]] == order[partition] - 1:
            ranges[-1].append(partition)
        else:
            ranges.append([partition])
    return ranges


def _partitions_label(batch: list[str]) -> str:
    return ", ".join(batch) if len(batch) <= 3 else f"{len(batch)} partitions: {batch[0]} ... {batch[-1]}"


def _run(dg, assets, keys, batch, resources, instance, quiet, step: str, log: _StdoutToFile) -> int:
    """One Dagster run, of one partition, a range of partitions (``batch``) or none; the number of steps
    (partitions, or 1 for an unpartitioned run) that failed. When some did, the end of what the run wrote
    to the log is printed."""
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    print(f"{step} ...", file=sys.stderr, flush=True)
    started = time.monotonic()
    offset = log.offset()
    single = batch[0] if batch and len(batch) == 1 else None
    tags = (
        {ASSET_PARTITION_RANGE_START_TAG: batch[0], ASSET_PARTITION_RANGE_END_TAG: batch[-1]}
        if batch and len(batch) > 1
        else None
    )
    result = dg.materialize(
        assets,
        selection=dg.AssetSelection.assets(*keys),
        partition_key=single,
        tags=tags,
        resources=resources,
        instance=instance,
        run_config=quiet,
        raise_on_error=False,
    )
    failed = _report(result, time.monotonic() - started, batch)
    if not result.success:
        written = log.lines_since(offset)
        if written:
            print(f"datasmith: the last lines of {log.path}:", file=sys.stderr)
            for line in written[-20:]:
                print(f"  | {line}", file=sys.stderr)
    return failed


class _StdoutToFile:
    """While active, standard output (the fd, which subprocesses and Dagster's log capture share, and
    sys.stdout, where dagster-dbt re-emits dbt's log) goes to `path`, started afresh each run; our own
    lines go to stderr. Inactive (--verbose), it changes nothing."""

    def __init__(self, path: Path, active: bool) -> None:
        self.path = path
        self.active = active
        self._file = None

    def __enter__(self) -> _StdoutToFile:
        if not self.active:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        sys.stdout.flush()
        self._file = open(self.path, "w", encoding="utf-8", errors="replace")
        self._saved_fd = os.dup(1)
        self._saved_stdout = sys.stdout
        os.dup2(self._file.fileno(), 1)
        sys.stdout = self._file
        return self

    def offset(self) -> int:
        if self._file is None:
            return 0
        self._file.flush()
        return os.fstat(self._file.fileno()).st_size

    def lines_since(self, offset: int) -> list[str]:
        if self._file is None:
            return []
        self._file.flush()
        with open(self.path, "rb") as f:
            f.seek(offset)
            text = f.read().decode("utf-8", errors="replace")
        return [line for line in text.splitlines() if line.strip()]

    def __exit__(self, *exc) -> None:
        if self._file is None:
            return
        self._file.flush()
        sys.stdout = self._saved_stdout
        os.dup2(self._saved_fd, 1)
        os.close(self._saved_fd)
        self._file.close()
        self._file = None


def _report(result, seconds: float, batch: list[str] | None = None) -> int:
    """The run's outcome in a line, a line per failed check, and a cause line per failed step: per failed
    partition when the step names them (assets.partitions.FAILED_PARTITIONS). Returns how many steps
    (partitions of the run, or the run) failed."""
    from assets.partitions import FAILED_PARTITIONS

    materialized = [e for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION"]
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
    if result.success:
        return 0
    failures = [e for e in result.all_events if e.is_step_failure] or [
        e for e in result.all_events if e.is_failure
    ]
    failed_partitions: set[str] = set()
    for event in failures:
        data = event.event_specific_data
        user = getattr(data, "user_failure_data", None)
        by_partition = user.metadata.get(FAILED_PARTITIONS) if user is not None and user.metadata else None
        if by_partition is not None:
            for partition, cause in by_partition.value.items():
                failed_partitions.add(partition)
                print(f"datasmith: {event.step_key or 'run'} [{partition}]: {cause}", file=sys.stderr)
            continue
        error = getattr(data, "error", None)
        cause = cause_line(error) if error is not None else "failed (--verbose for Dagster's log)"
        where = f" [{_partitions_label(batch)}]" if batch else ""
        print(f"datasmith: {event.step_key or 'run'}{where}: {cause}", file=sys.stderr)
        failed_partitions.update(batch or [])
    return max(1, len(failed_partitions))


# Dagster's wrappers around the exception the asset's own code raised.
_WRAPPERS = (
    "DagsterExecutionStepExecutionError",
    "DagsterUserCodeExecutionError",
    "DagsterResourceFunctionError",
)


def cause_line(error, limit: int = 500) -> str:
    """The user code's own error in one line: Dagster's wrapper errors are unwrapped to their cause, the
    module path is dropped from the class name (a builtin's name is kept: `KeyError: 'x'`)."""
    while error.cause is not None and error.cls_name in _WRAPPERS:
        error = error.cause
    text = " ".join(error.message.split())
    if error.cls_name:
        qualified = re.match(rf"^[\w.]*\.{re.escape(error.cls_name)}: ", text)
        if qualified:
            text = text[qualified.end() :]
    return text if len(text) <= limit else text[: limit - 3] + "..."


if __name__ == "__main__":
    sys.exit(main())

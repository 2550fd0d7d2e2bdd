"""Raw ingestion of asv results trees (the files `asv run` writes) into the warehouse's raw schema.

Each file lands once per distinct content (source, relative path, sha256), with its provenance, in one
of four append-only tables; a file that cannot be used goes to ``raw.results_quarantine`` with the reason, and
the rest of the source still loads. Files are committed in batches, one transaction each, so a run
killed half-way leaves only whole files behind and the next run loads exactly what is missing.

Parsing is left to DuckDB: the JSON is stored as it is (validated here, in at most three parses per
file) and the dbt models unnest it. That is not faster than asv's own loader: `python -m bench.run`
measured ingest + collation at 0.48-0.77x asv's loader before issue 14, and at 0.2-0.8x in issue 14's
runs on a machine shared by seven engineers, where DuckDB's bare read_json over the same files ran at
2.0-3.3x (docs/performance.md, "Ingest and collation throughput").
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

import duckdb
import pyarrow as pa

from ingest.asvconf import config_as_json as _config_as_json
from ingest.identifiers import COMMIT_HASH_CHARS
from ingest.sources import ResultsSource
from ingest.warehouse import BATCH_BYTES

# The largest file read into memory, as the dashboards' 50 MiB response cap (ingest/http.py): a bigger
# file is quarantined with the reason and without its bytes (a 150 MB result file took 1.7 GB RSS).
DEFAULT_MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_FILE_BYTES_ENV = "DATASMITH_RESULTS_MAX_FILE_BYTES"
MAX_TREE_DEPTH = 4
# Folders that never hold results but can be huge (asv's environments, a published site, VCS data).
SKIPPED_DIRS = {".git", "env", "html", "node_modules", "__pycache__", "site-packages", ".tox", ".venv"}

Progress = Callable[[str], None]


@dataclass(frozen=True)
class SourceFile:
    kind: str  # 'result', 'benchmarks', 'machine' or 'config'
    relative_path: str
    tree_path: str
    machine_dir: str


@dataclass
class IngestReport:
    source_name: str
    files_seen: int = 0
    files_unchanged: int = 0
    files_loaded: dict[str, int] = field(default_factory=dict)
    files_quarantined: int = 0
    bytes_loaded: int = 0
    quarantine_reasons: list[tuple[str, str]] = field(default_factory=list)

    @property
    def total_loaded(self) -> int:
        return sum(self.files_loaded.values())

    def summary(self) -> str:
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(self.files_loaded.items())) or "nothing new"
        return (
            f"{self.source_name}: {self.files_seen} files seen, loaded {kinds}, "
            f"{self.files_unchanged} unchanged, {self.files_quarantined} quarantined"
        )


class ResultsSourceError(RuntimeError):
    """A results source that cannot be read at all (its folder is missing): the message is one line
    naming the source, the path and the sources file that lists it."""

    def __init__(
        self,
        message: str,
        source_name: str | None = None,
        path: Path | None = None,
        sources_file: Path | None = None,
    ) -> None:
        super().__init__(message)
        self.source_name = source_name
        self.path = path
        self.sources_file = sources_file


def max_file_bytes() -> int:
    """The results file size cap in bytes: $DATASMITH_RESULTS_MAX_FILE_BYTES, else 50 MiB."""
    return int(os.environ.get(MAX_FILE_BYTES_ENV, DEFAULT_MAX_FILE_BYTES))


def discover_files(root: Path) -> list[SourceFile]:
    """Every asv file under ``root``: asv.conf.json, and each results tree (a folder holding
    benchmarks.json or machine folders) with its machine.json and result files."""
    if not root.is_dir():
        raise ResultsSourceError(f"results path {root} does not exist or is not a folder")
    files: list[SourceFile] = []
    if (root / "asv.conf.json").is_file():
        files.append(SourceFile("config", "asv.conf.json", "", ""))
    for tree in _result_trees(root):
        tree_rel = _rel(tree, root)
        if (tree / "benchmarks.json").is_file():
            files.append(SourceFile("benchmarks", _join(tree_rel, "benchmarks.json"), tree_rel, ""))
        for machine in sorted(p for p in tree.iterdir() if p.is_dir() and p.name not in SKIPPED_DIRS):
            for path in sorted(machine.iterdir()):
                if not path.is_file() or path.suffix != ".json":
                    continue  # e.g. a helper script kept beside the results
                kind = "machine" if path.name == "machine.json" else "result"
                files.append(SourceFile(kind, _rel(path, root), tree_rel, machine.name))
    return files


def _result_trees(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        depth = len(here.relative_to(root).parts)
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS and depth < MAX_TREE_DEPTH)
        has_machines = any((here / d / "machine.json").is_file() for d in dirnames)
        if "benchmarks.json" in filenames or has_machines:
            yield here
            dirnames[:] = []  # a results tree does not nest another


def _rel(path: Path, root: Path) -> str:
    rel = path.relative_to(root).as_posix()
    return "" if rel == "." else rel


def _join(tree_rel: str, name: str) -> str:
    return str(PurePosixPath(tree_rel) / name) if tree_rel else name


def _known_versions(con: duckdb.DuckDBPyConnection, source_name: str) -> set[tuple[str, str]]:
    rows = con.execute(
        """select relative_path, sha256 from raw.asv_result_files where source_name = $s
           union all select relative_path, sha256 from raw.asv_benchmark_files where source_name = $s
           union all select relative_path, sha256 from raw.asv_machine_files where source_name = $s
           union all select relative_path, sha256 from raw.asv_config_files where source_name = $s
           union all select relative_path, sha256 from raw.results_quarantine where source_name = $s""",
        {"s": source_name},
    ).fetchall()
    return set(rows)


def ingest_results_source(
    con: duckdb.DuckDBPyConnection,
    source: ResultsSource,
    progress: Progress | None = None,
    sources_file: Path | None = None,
) -> IngestReport:
    """Load every new or changed file of one results source; returns what happened.

    Raises ResultsSourceError (one line: source, path, sources file) when the source's folder is missing."""
    say = progress or (lambda _msg: None)
    now = datetime.now(UTC).replace(tzinfo=None)
    report = IngestReport(source.name)
    if not source.path.is_dir():
        listed = f" (listed in {sources_file})" if sources_file else ""
        what = "is not a folder" if source.path.exists() else "does not exist"
        raise ResultsSourceError(
            f"results source {source.name!r}: path {source.path} {what}{listed}",
            source_name=source.name,
            path=source.path,
            sources_file=sources_file,
        )
    files = discover_files(source.path)
    report.files_seen = len(files)
    known = _known_versions(con, source.name)
    # Checkpoint when the connection closes (or past 1 GB of log), not after every batch. With
    # DuckDB's default of 16 MiB every batch of big files forced a checkpoint, and they got slower as
    # the table grew (0.03 s to 1.3 s each): 4.0 s of the 8x bench's 8 s ingest, against 1.0 s of
    # commits plus 1.4 s for the one checkpoint at close.
    # Commits still go to the write-ahead log, so a killed run keeps exactly its committed batches.
    # The setting is the database's, so it holds for the rest of `con`.
    con.execute("set checkpoint_threshold = '1GB'")

    pending: list[tuple[SourceFile, FileRead]] = []
    pending_bytes = 0
    for done, (entry, read) in enumerate(_read_all(source.path, files, max_file_bytes()), start=1):
        if (entry.relative_path, read.sha256) in known:
            report.files_unchanged += 1
        else:
            pending.append((entry, read))
            pending_bytes += len(read.data or b"")
        if pending_bytes >= BATCH_BYTES:
            _load_batch(con, source.name, pending, now, report)
            pending, pending_bytes = [], 0
        if done % 500 == 0:
            say(f"{source.name}: {done}/{len(files)} files read, {report.total_loaded} loaded so far")
    if pending:
        _load_batch(con, source.name, pending, now, report)
    return report


@dataclass(frozen=True)
class FileRead:
    """What was read of one file: its bytes, or None when they must not be (or could not be) read,
    then with the problem that sends the file to the quarantine."""

    data: bytes | None
    sha256: str | None
    size_bytes: int | None
    problem: str | None = None


def _read_all(root: Path, files: list[SourceFile], max_bytes: int) -> Iterator[tuple[SourceFile, FileRead]]:
    real_root = root.resolve()
    for entry in files:
        yield entry, _read_one(root / entry.relative_path, real_root, max_bytes)


def _read_one(path: Path, real_root: Path, max_bytes: int) -> FileRead:
    try:
        # Symlinks are resolved and the file kept inside its source root: a link out of the folder is
        # not read at all (its target's bytes would land in the warehouse); a link inside is fine.
        real = path.resolve(strict=True)
        if not real.is_relative_to(real_root):
            return FileRead(None, None, None, f"a symlink to {real}, outside the source folder: not read")
        with real.open("rb") as handle:
            # At most one byte past the cap is read, even if the file grows after listing.
            data = handle.read(max_bytes + 1)
            if len(data) > max_bytes:
                # Hashed in chunks, never held in memory: the hash keeps the next run from re-quarantining it.
                digest, size = hashlib.sha256(data), len(data)
                del data
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
                    size += len(chunk)
                reason = f"too large: {size} bytes exceeds the {max_bytes}-byte cap ({MAX_FILE_BYTES_ENV}): not loaded"
                return FileRead(None, digest.hexdigest(), size, reason)
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop on older Pythons
        # Vanished or unreadable between listing and reading: a quarantine row says so.
        return FileRead(
            b"",
            hashlib.sha256(b"").hexdigest(),
            0,
            f"cannot read the file: {getattr(exc, 'strerror', None) or exc}",
        )
    return FileRead(data, hashlib.sha256(data).hexdigest(), len(data))


INCOMING_SCHEMA = pa.schema(
    [
        ("kind", pa.string()),
        ("relative_path", pa.string()),
        ("tree_path", pa.string()),
        ("machine_dir", pa.string()),
        ("sha256", pa.string()),
        ("size_bytes", pa.int64()),
        ("content", pa.string()),
        ("problem", pa.string()),
    ]
)

# Why a file is unusable, decided by DuckDB's own JSON reader (which accepts asv's bare NaN tokens).
# Each document is parsed at most three times, each parse answering several questions at once: the
# JSON types of the top-level fields (one json_type over a list of paths; null when the text is not
# JSON), the small fields whose values are checked (one json_extract over a list of paths), and, for
# schema 2 only, the type of every result row. The earlier form (json_valid, then json_type, a
# json_transform and json_type again, each a parse, inside a CASE that repeated some of them) took
# 3.3-5.2 s for two copies of the fixture sets' result files where this takes 1.2-1.3 s (measured in
# the same runs, 2 threads, on a machine shared by seven engineers).
TYPE_PATHS = (
    "$",
    "$.results",
    "$.commit_hash",
    "$.version",
    "$.result_columns",
    "$.date",
    "$.env_name",
    "$.started_at",
    "$.benchmark_version",
)
VALUE_PATHS = ("$.commit_hash", "$.version", "$.result_columns")
PARSED_SQL = f"""
select
    *,
    -- try: json_type raises on text that is not JSON; null then means exactly that.
    case when problem is null then try(json_type(content, [{", ".join(f"'{p}'" for p in TYPE_PATHS)}])) end as types,
    case when problem is null and kind = 'result'
         then try(json_extract(content, [{", ".join(f"'{p}'" for p in VALUE_PATHS)}])) end as vals
from incoming_arrow
"""
# types[1] the document, [2] results, [3] commit_hash, [4] version, [5] result_columns, [6] date,
# [7] env_name, [8] started_at, [9] benchmark_version; vals[1] commit_hash, [2] version, [3] result_columns.
PROBLEM_SQL = f"""
case
  when problem is not null then problem
  when types is null or types[1] is null then 'not valid JSON (truncated or corrupt file)'
  when types[1] <> 'OBJECT' then 'top level is a JSON ' || lower(types[1]) || ', not an object'
  when kind <> 'result' then null
  when types[2] is distinct from 'OBJECT' then 'no "results" object: not an asv result file'
  when types[3] is distinct from 'VARCHAR' then 'no "commit_hash": not an asv result file'
  -- The identifier rule of ingest/identifiers.py, at the raw boundary: a hash git could take as an
  -- option or a path never reaches the warehouse.
  when not regexp_full_match(vals[1] ->> '$', '{COMMIT_HASH_CHARS}')
    then '"commit_hash" is not 4 to 64 hex digits'
  when coalesce(vals[2]::varchar, '1') not in ('1', '2')
    then 'unsupported asv result schema version ' || vals[2]::varchar
  when vals[2]::varchar = '2' and types[5] is distinct from 'ARRAY'
    then 'schema version 2 without "result_columns"'
  when vals[2]::varchar = '2'
       and not coalesce(list_bool_and(list_transform(json_type(vals[3], '$[*]'), lambda t: t = 'VARCHAR')), true)
    then '"result_columns" is not a list of names'
  -- Fields the models read by type: a file that gives them another type is not asv's schema.
  when coalesce(types[6], 'NULL') not in ('NULL', 'BIGINT', 'UBIGINT', 'DOUBLE')
    then '"date" is a JSON ' || lower(types[6]) || ', not a number'
  when coalesce(types[7], 'NULL') not in ('NULL', 'VARCHAR')
    then '"env_name" is a JSON ' || lower(types[7]) || ', not a string'
  when coalesce(types[8], 'NULL') not in ('NULL', 'OBJECT')
    then '"started_at" is a JSON ' || lower(types[8]) || ', not an object'
  when coalesce(types[9], 'NULL') not in ('NULL', 'OBJECT')
    then '"benchmark_version" is a JSON ' || lower(types[9]) || ', not an object'
  -- The types of the rows, not the rows as JSON[]: transforming them copied every row's elements
  -- (about a third of the load's DuckDB time); the types are one parse.
  when vals[2]::varchar = '2'
       and not list_bool_and(list_transform(json_type(content, '$.results.*'), lambda t: t = 'ARRAY'))
    then 'a schema version 2 result row is not a list'
end
"""


def _load_batch(
    con: duckdb.DuckDBPyConnection,
    source_name: str,
    batch: list[tuple[SourceFile, FileRead]],
    now: datetime,
    report: IngestReport,
) -> None:
    rows = [_incoming_row(*item) for item in batch]
    columns = {name: [row[name] for row in rows] for name in INCOMING_SCHEMA.names}
    # Small record batches let DuckDB spread the validation of one batch of files over all cores.
    table = pa.Table.from_pydict(columns, schema=INCOMING_SCHEMA)
    con.register(
        "incoming_arrow", pa.Table.from_batches(table.to_batches(max_chunksize=4), schema=INCOMING_SCHEMA)
    )
    con.execute("begin transaction")
    try:
        # Only the verdicts are materialised; the contents are read straight from the Arrow batch.
        con.execute(
            f"""create or replace temp table verdict as
                select relative_path, kind as file_kind, size_bytes as file_size, {PROBLEM_SQL} as reason
                from ({PARSED_SQL})"""
        )
        for kind, table, extra in (
            ("result", "asv_result_files", "tree_path, machine_dir,"),
            ("benchmarks", "asv_benchmark_files", "tree_path,"),
            ("machine", "asv_machine_files", "tree_path, machine_dir,"),
            ("config", "asv_config_files", ""),
        ):
            con.execute(
                f"""insert into raw.{table}
                    select $source, relative_path, {extra} sha256, size_bytes, $now, content
                    from incoming_arrow join verdict using (relative_path)
                    where incoming_arrow.kind = $kind and verdict.reason is null""",
                {"source": source_name, "now": now, "kind": kind},
            )
        con.execute(
            """insert into raw.results_quarantine
               select $source, relative_path, sha256, size_bytes, $now, reason, content
               from incoming_arrow join verdict using (relative_path)
               where verdict.reason is not null""",
            {"source": source_name, "now": now},
        )
        counts = con.execute(
            "select file_kind, reason, relative_path, file_size from verdict order by relative_path"
        ).fetchall()
        con.execute("drop table verdict")
        con.execute("commit")
        con.unregister("incoming_arrow")
    except BaseException:
        con.execute("rollback")
        raise
    for kind, reason, path, size in counts:
        if reason is None:
            report.files_loaded[kind] = report.files_loaded.get(kind, 0) + 1
            report.bytes_loaded += size
        else:
            report.files_quarantined += 1
            report.quarantine_reasons.append((path, reason))


def _incoming_row(entry: SourceFile, read: FileRead) -> dict:
    row = {
        "kind": entry.kind,
        "relative_path": entry.relative_path,
        "tree_path": entry.tree_path,
        "machine_dir": entry.machine_dir,
        "sha256": read.sha256,
        "size_bytes": read.size_bytes,
        "content": None,
        "problem": read.problem,
    }
    data, problem = read.data, read.problem
    if data is None:
        return row  # not read: quarantined with its reason and no content
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        row["content"] = data.decode("utf-8", errors="replace")
        row["problem"] = f"not UTF-8 text (byte {exc.start})"
        return row
    row["content"] = text
    if entry.kind == "config" and problem is None:
        row["content"], row["problem"] = _config_as_json(text)
    return row

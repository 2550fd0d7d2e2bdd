"""asv profiles into the raw layer: every profile in a result file, one row per function, with provenance.

Two inputs, one set of tables: the result files already in ``raw.asv_result_files`` (anyone's asv output:
read incrementally, only file versions not read before, recorded in ``raw.asv_profile_reads``), and the
result files of the runner's profiling pass (benchmark_runner/profiling.py), read from its own store so
that their timings never reach fct_measurements. A profile that does not decode goes to
``raw.asv_profile_quarantine`` with the reason and its text; the file's other profiles still load.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from ingest.results.profiles import ProfileError, decode_profile, profiles_in_document

PROFILES_DDL = """
create schema if not exists raw;

-- One row per function of each profile (result file version x benchmark), as pstats reads it.
create table if not exists raw.asv_profiles (
    origin          varchar   not null,  -- 'results' (raw.asv_result_files) or 'profile_run' (the runner's pass)
    source_name     varchar   not null,  -- the source the result file belongs to
    relative_path   varchar   not null,  -- the result file, '/'-separated, inside the source folder
    file_sha256     varchar   not null,  -- the version of the file read
    repo            varchar,             -- owner/name when the origin knows it (profile runs)
    machine         varchar,             -- asv's machine name (the file's folder)
    commit_hash     varchar,
    env_name        varchar,
    benchmark       varchar   not null,
    profile_sha256  varchar   not null,  -- of the stored (base64) profile text
    file            varchar   not null,  -- pstats key: source file ('~' for built-ins)
    line            integer   not null,
    function        varchar   not null,
    primitive_calls bigint    not null,
    total_calls     bigint    not null,
    total_time      double    not null,  -- seconds in the function itself
    cumulative_time double    not null,  -- seconds in it and its callees
    loaded_at       timestamp not null
);
-- A profile that could not be decoded, with why and the text as stored.
create table if not exists raw.asv_profile_quarantine (
    origin varchar not null, source_name varchar not null, relative_path varchar not null,
    file_sha256 varchar not null, benchmark varchar, loaded_at timestamp not null,
    reason varchar not null, content varchar
);
-- Every result file version the profiles loader has read (with or without profiles): read once.
create table if not exists raw.asv_profile_reads (
    origin varchar not null, source_name varchar not null, relative_path varchar not null,
    file_sha256 varchar not null, profiles_found integer not null, profiles_loaded integer not null,
    profiles_quarantined integer not null, read_at timestamp not null
);
"""

ROW_SCHEMA = pa.schema(
    [
        ("origin", pa.string()), ("source_name", pa.string()), ("relative_path", pa.string()),
        ("file_sha256", pa.string()), ("repo", pa.string()), ("machine", pa.string()),
        ("commit_hash", pa.string()), ("env_name", pa.string()), ("benchmark", pa.string()),
        ("profile_sha256", pa.string()), ("file", pa.string()), ("line", pa.int32()),
        ("function", pa.string()), ("primitive_calls", pa.int64()), ("total_calls", pa.int64()),
        ("total_time", pa.float64()), ("cumulative_time", pa.float64()), ("loaded_at", pa.timestamp("us")),
    ]
)  # fmt: skip
# Files read per transaction: a killed run leaves whole files behind, and the next run reads the rest.
BATCH_FILES = 200

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ResultText:
    """One result file version to read: its provenance and its JSON text."""

    origin: str
    source_name: str
    relative_path: str
    file_sha256: str
    machine: str | None
    content: str
    repo: str | None = None


@dataclass
class ProfileLoadReport:
    files_read: int = 0
    files_with_profiles: int = 0
    profiles_loaded: int = 0
    functions_loaded: int = 0
    quarantined: list[tuple[str, str, str]] = field(default_factory=list)  # (path, benchmark, reason)

    def add(self, other: ProfileLoadReport) -> None:
        self.files_read += other.files_read
        self.files_with_profiles += other.files_with_profiles
        self.profiles_loaded += other.profiles_loaded
        self.functions_loaded += other.functions_loaded
        self.quarantined += other.quarantined

    def summary(self) -> str:
        return (
            f"profiles: {self.files_read} result files read, {self.files_with_profiles} with profiles, "
            f"{self.profiles_loaded} profiles ({self.functions_loaded} function rows) loaded, "
            f"{len(self.quarantined)} quarantined"
        )


def load_result_texts(con: duckdb.DuckDBPyConnection, texts: Iterable[ResultText]) -> ProfileLoadReport:
    """Decode and store the profiles of ``texts`` (the caller has left out versions already read), then
    record each file as read, in one transaction."""
    report = ProfileLoadReport()
    now = datetime.now(UTC).replace(tzinfo=None)
    columns: dict[str, list] = {name: [] for name in ROW_SCHEMA.names}
    quarantine: list[tuple] = []
    reads: list[tuple] = []
    for item in texts:
        report.files_read += 1
        try:
            doc = json.loads(item.content)
        except ValueError as exc:  # the runner's own files are not validated by the results load
            reason = f"not valid JSON ({exc})"
            quarantine.append((item.origin, item.source_name, item.relative_path, item.file_sha256, None, now, reason, item.content))  # fmt: skip
            report.quarantined.append((item.relative_path, "", reason))
            reads.append((item.origin, item.source_name, item.relative_path, item.file_sha256, 0, 0, 1, now))
            continue
        found = profiles_in_document(doc)
        loaded = bad = 0
        for encoded in found:
            try:
                functions = decode_profile(encoded.text)
            except ProfileError as exc:
                bad += 1
                text = encoded.text if isinstance(encoded.text, str) else json.dumps(encoded.text)
                quarantine.append((item.origin, item.source_name, item.relative_path, item.file_sha256, encoded.benchmark, now, str(exc), text))  # fmt: skip
                report.quarantined.append((item.relative_path, encoded.benchmark, str(exc)))
                continue
            loaded += 1
            digest = hashlib.sha256(str(encoded.text).encode()).hexdigest()
            fixed = (
                item.origin, item.source_name, item.relative_path, item.file_sha256, item.repo, item.machine,
                _str(doc.get("commit_hash")), _str(doc.get("env_name")), encoded.benchmark, digest,
            )  # fmt: skip
            for f in functions:
                for name, value in zip(ROW_SCHEMA.names[:10], fixed, strict=True):
                    columns[name].append(value)
                columns["file"].append(f.file)
                columns["line"].append(f.line)
                columns["function"].append(f.function)
                columns["primitive_calls"].append(f.primitive_calls)
                columns["total_calls"].append(f.total_calls)
                columns["total_time"].append(f.total_time)
                columns["cumulative_time"].append(f.cumulative_time)
                columns["loaded_at"].append(now)
            report.functions_loaded += len(functions)
        report.profiles_loaded += loaded
        report.files_with_profiles += bool(found)
        reads.append((item.origin, item.source_name, item.relative_path, item.file_sha256, len(found), loaded, bad, now))  # fmt: skip
    rows = pa.table(columns, schema=ROW_SCHEMA)
    con.execute("begin transaction")
    try:
        if rows.num_rows:
            con.execute(f"insert into raw.asv_profiles select {', '.join(ROW_SCHEMA.names)} from rows")
        if quarantine:
            con.executemany(
                "insert into raw.asv_profile_quarantine values (?, ?, ?, ?, ?, ?, ?, ?)", quarantine
            )
        if reads:
            con.executemany("insert into raw.asv_profile_reads values (?, ?, ?, ?, ?, ?, ?, ?)", reads)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return report


def load_result_file_profiles(
    con: duckdb.DuckDBPyConnection, progress: Progress | None = None
) -> ProfileLoadReport:
    """The profiles of every version of raw.asv_result_files not read before. A version without a
    profile (the prefilter: no ``"profile`` in its text, or no non-null one) is recorded as read without
    being decoded in Python."""
    say = progress or (lambda _m: None)
    unread = """
        from raw.asv_result_files f
        where not exists (select 1 from raw.asv_profile_reads r
                          where r.origin = 'results' and r.source_name = f.source_name
                            and r.relative_path = f.relative_path and r.file_sha256 = f.sha256)
    """
    con.execute(
        f"""insert into raw.asv_profile_reads
            select 'results', source_name, relative_path, sha256, 0, 0, 0, now()::timestamp
            {unread} and not contains(content, '"profile')"""
    )
    keys = con.execute(
        f"select rowid, source_name, relative_path, sha256, machine_dir {unread} order by source_name, relative_path, sha256"
    ).fetchall()
    report = ProfileLoadReport()
    for start in range(0, len(keys), BATCH_FILES):
        batch = keys[start : start + BATCH_FILES]
        # One query per batch (the table is append-only, so a row id stays that row's within this read).
        contents = dict(
            con.execute(
                "select rowid, content from raw.asv_result_files where rowid in (select unnest($ids))",
                {"ids": [key[0] for key in batch]},
            ).fetchall()
        )
        texts = [
            ResultText("results", source_name, relative_path, sha256, machine_dir, contents[rowid])
            for rowid, source_name, relative_path, sha256, machine_dir in batch
        ]
        report.add(load_result_texts(con, texts))
        if len(keys) > BATCH_FILES:  # a line per batch of a long read
            done = min(start + BATCH_FILES, len(keys))
            say(f"profiles: read {done}/{len(keys)} result files with a profile column")
    return report


def load_profile_files(
    con: duckdb.DuckDBPyConnection, source_name: str, files: Iterable[tuple[str, Path]], repo: str | None
) -> ProfileLoadReport:
    """The profiles of result files on disk, (relative path, path) pairs, not read before, under
    ``source_name`` with origin 'profile_run' (the runner's profiling pass; its machine is the folder)."""
    read = set(
        con.execute(
            "select relative_path, file_sha256 from raw.asv_profile_reads where origin = 'profile_run' and source_name = ?",
            [source_name],
        ).fetchall()
    )
    texts = []
    for relative, path in files:
        data = path.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        if (relative, sha) in read:
            continue
        texts.append(
            ResultText(
                "profile_run", source_name, relative, sha, path.parent.name,
                data.decode("utf-8", errors="replace"), repo=repo,
            )
        )  # fmt: skip
    return load_result_texts(con, texts)


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None

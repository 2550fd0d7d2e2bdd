"""Loading a published asv dashboard (what ``asv publish`` writes) into the warehouse's raw schema.

``ingest_dashboard_source`` crawls one dashboard (``crawl.py``) and loads each file into
``raw.dashboard_files`` -- or, when it cannot be had, a row in ``raw.dashboard_missing`` with why.
Like the results loader the raw tables are append-only, every row carries its provenance, rows are
committed in batches, and a re-run loads nothing twice: it sends conditional requests with the
validators stored from the last run, and a file whose content did not change is not stored again.
A crawl counts as complete only when no file failed transiently (``FetchResult.transient``), so a
re-run asks again for those. A dashboard of which no usable ``index.json`` was obtained raises
``DashboardUnreadable`` (one line: the source and the cause) once what it recorded is committed.
Credentials that earlier versions stored inside URLs are scrubbed on every run.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

import duckdb
import pyarrow as pa

from ingest.dashboards.crawl import CrawlProgress, DashboardFile, crawl_dashboard
from ingest.dashboards.ddl import DASHBOARD_DDL
from ingest.http import (
    MISSING,
    NOT_MODIFIED,
    Fetcher,
    FetchPolicy,
    Validators,
    base_url,
    fetcher_for,
    join_url,
)
from ingest.identifiers import URL_CREDENTIALS
from ingest.sources import DashboardSource
from ingest.warehouse import BATCH_BYTES

BATCH_FILES = int(os.environ.get("DATASMITH_DASHBOARD_BATCH_FILES", 256))


def count_points(doc: list) -> int:
    return sum(len(y) if isinstance(y, list) else 1 for _x, y in doc)


# --- loading into the warehouse ---------------------------------------------------------------------


@dataclass
class DashboardReport:
    source_name: str
    dialect: str | None = None
    files_promised: int = 0
    files_loaded: dict[str, int] = field(default_factory=dict)
    files_unchanged: int = 0
    series_fetched: int = 0  # obtained this run, new or unchanged
    points_loaded: int = 0  # in the series loaded this run
    missing: int = 0  # promised files not obtained this run
    missing_recorded: int = 0  # of those, new rows in raw.dashboard_missing
    missing_reasons: Counter = field(default_factory=Counter)
    absent_configs: int = 0
    requests: int = 0
    retries: int = 0
    bytes_downloaded: int = 0
    site_unchanged: bool = False  # index.json and info.json unchanged: nothing else was asked
    failed_transiently: int = 0  # of the missing, those worth asking again: the crawl is incomplete
    unreadable: str | None = None  # why no usable index.json was obtained (the source was not read)

    @property
    def total_loaded(self) -> int:
        return sum(self.files_loaded.values())

    @property
    def complete(self) -> bool:
        return self.unreadable is None and self.failed_transiently == 0

    def summary(self) -> str:
        if self.site_unchanged:
            return f"{self.source_name}: not re-published since the last run (index.json and info.json unchanged)"
        reasons = ", ".join(f"{n} {r}" for r, n in self.missing_reasons.most_common(3))
        again = (
            f"; {self.failed_transiently} failed transiently and are asked again next run"
            if self.failed_transiently
            else ""
        )
        return (
            f"{self.source_name}: {self.series_fetched} series fetched "
            f"({self.files_loaded.get('series', 0)} new), {self.points_loaded} points loaded, "
            f"{self.missing} files missing" + (f" ({reasons})" if reasons else "") + again
        )


class DashboardUnreadable(RuntimeError):
    """A dashboard of which nothing could be read (no usable index.json): the message is one line
    naming the source, its location and the cause. Whatever was recorded is committed first."""

    def __init__(self, message: str, report: DashboardReport) -> None:
        super().__init__(message)
        self.report = report


FILES_SCHEMA = pa.schema(
    [
        ("source_name", pa.string()),
        ("url", pa.string()),
        ("relative_path", pa.string()),
        ("kind", pa.string()),
        ("config_path", pa.string()),
        ("config", pa.string()),
        ("machine", pa.string()),
        ("env_name", pa.string()),
        ("benchmark", pa.string()),
        ("http_status", pa.int32()),
        ("etag", pa.string()),
        ("last_modified", pa.string()),
        ("sha256", pa.string()),
        ("size_bytes", pa.int64()),
        ("fetched_at", pa.timestamp("us")),
        ("content", pa.string()),
    ]
)
MISSING_SCHEMA = pa.schema(
    [
        ("source_name", pa.string()),
        ("url", pa.string()),
        ("relative_path", pa.string()),
        ("kind", pa.string()),
        ("http_status", pa.int32()),
        ("reason", pa.string()),
        ("attempts", pa.int32()),
        ("fetched_at", pa.timestamp("us")),
    ]
)


class _Stored:
    """What the warehouse already holds for a source: each path's latest state (a file version or a
    missing verdict), the validators of its current files and the stored index/info bodies."""

    def __init__(self, con: duckdb.DuckDBPyConnection, source_name: str, base: str) -> None:
        latest = con.execute(
            """select relative_path, state, sha256, reason, http_status, url, etag, last_modified
               from (select relative_path, 'file' as state, sha256, null as reason, http_status,
                            url, etag, last_modified, fetched_at
                     from raw.dashboard_files where source_name = $s
                     union all
                     select relative_path, 'missing', null, reason, http_status, url, null, null,
                            fetched_at
                     from raw.dashboard_missing where source_name = $s)
               qualify row_number() over (partition by relative_path order by fetched_at desc) = 1""",
            {"s": source_name},
        ).fetchall()
        self.state: dict[str, tuple] = {}
        self.validators: dict[str, Validators] = {}
        for path, state, sha, reason, status, url, etag, modified in latest:
            self.state[path] = ("file", sha) if state == "file" else ("missing", reason, status)
            if state == "file":  # a file that went missing is fetched whole when it comes back
                self.validators[url] = Validators(etag, modified, sha)
        self.bodies: dict[str, bytes] = {}
        for name in ("index.json", "info.json"):
            url = join_url(base, name)
            if url in self.validators:
                row = con.execute(
                    """select content from raw.dashboard_files where source_name = $s and url = $u
                       order by fetched_at desc limit 1""",
                    {"s": source_name, "u": url},
                ).fetchone()
                self.bodies[url] = row[0].encode("utf-8")


class _Loader:
    """Turns crawl outcomes into raw rows, committed one batch per transaction."""

    def __init__(self, con, source_name, stored: _Stored, report: DashboardReport, batch_files: int) -> None:
        self.con, self.source_name, self.stored, self.report = con, source_name, stored, report
        self.batch_files = batch_files
        self.files: list[dict] = []
        self.missing: list[dict] = []
        self.pending_bytes = 0

    def add(self, item: DashboardFile) -> None:
        if item.usable or item.result.status == NOT_MODIFIED:
            self._obtained(item)
        else:
            self._missing(item)

    def _obtained(self, item: DashboardFile) -> None:
        file, result, report = item.file, item.result, self.report
        report.series_fetched += file.kind == "series"
        if result.status == NOT_MODIFIED or self.stored.state.get(file.relative_path) == (
            "file",
            result.sha256,
        ):
            report.files_unchanged += 1
            return
        report.files_loaded[file.kind] = report.files_loaded.get(file.kind, 0) + 1
        if file.kind == "series":
            report.points_loaded += count_points(item.document)
        self.files.append(self._file_row(item))
        self.pending_bytes += len(result.body)

    def _missing(self, item: DashboardFile) -> None:
        file, result, report = item.file, item.result, self.report
        reason = item.reason or f"not obtained ({result.status})"
        report.missing += 1
        report.failed_transiently += result.transient
        report.missing_reasons[_reason_class(reason)] += 1
        if self.stored.state.get(file.relative_path) == ("missing", reason, result.http_status):
            return  # already recorded, and nothing changed since
        report.missing_recorded += 1
        self.missing.append(
            {
                "source_name": self.source_name,
                "url": result.url,
                "relative_path": file.relative_path,
                "kind": file.kind,
                "http_status": result.http_status,
                "reason": reason,
                "attempts": result.attempts,
                "fetched_at": result.fetched_at,
            }
        )

    def _file_row(self, item: DashboardFile) -> dict:
        file, result = item.file, item.result
        return {
            "source_name": self.source_name,
            "url": result.url,
            "relative_path": file.relative_path,
            "kind": file.kind,
            "config_path": file.config_path,
            "config": file.config,
            "machine": file.machine,
            "env_name": file.env_name,
            "benchmark": file.benchmark,
            "http_status": result.http_status,
            "etag": result.etag,
            "last_modified": result.last_modified,
            "sha256": result.sha256,
            "size_bytes": len(result.body),
            "fetched_at": result.fetched_at,
            "content": result.body.decode("utf-8"),
        }

    @property
    def full(self) -> bool:
        return len(self.files) + len(self.missing) >= self.batch_files or self.pending_bytes >= BATCH_BYTES

    def commit(self) -> None:
        if not self.files and not self.missing:
            return
        files = pa.Table.from_pylist(self.files, schema=FILES_SCHEMA)
        missing = pa.Table.from_pylist(self.missing, schema=MISSING_SCHEMA)
        self.con.execute("begin transaction")
        try:
            self.con.register("incoming_files", files)
            self.con.register("incoming_missing", missing)
            self.con.execute("insert into raw.dashboard_files by name select * from incoming_files")
            self.con.execute("insert into raw.dashboard_missing by name select * from incoming_missing")
            self.con.execute("commit")
        except BaseException:
            self.con.execute("rollback")
            raise
        finally:
            self.con.unregister("incoming_files")
            self.con.unregister("incoming_missing")
        self.files, self.missing, self.pending_bytes = [], [], 0


def _reason_class(reason: str) -> str:
    """A short label for the summary line: 'HTTP 404', 'not valid JSON', ..."""
    head = reason.split(" (")[0].split(":")[0]
    return head.strip()


def ingest_dashboard_source(
    con: duckdb.DuckDBPyConnection,
    source: DashboardSource,
    fetcher: Fetcher | None = None,
    progress: Callable[[str], None] | None = None,
    *,
    policy: FetchPolicy | None = None,
    batch_files: int | None = None,
    revalidate_all: bool = False,
) -> DashboardReport:
    """Load every new or changed file of one dashboard; returns what happened. ``fetcher`` defaults
    to the one for the source's location (``HttpFetcher`` or ``LocalFetcher``, with ``policy``).
    Unless ``revalidate_all``, a site whose index.json and info.json did not change since the last
    run is not re-published, and no other file is asked for."""
    say = progress or (lambda _msg: None)
    con.execute(DASHBOARD_DDL)
    scrub_credentials(con)
    fetcher = fetcher or fetcher_for(source.url, policy, source.credentials)
    base = base_url(source.url)
    stored = _Stored(con, source.name, base)
    report = DashboardReport(source.name)
    loader = _Loader(con, source.name, stored, report, batch_files or BATCH_FILES)
    latest = [CrawlProgress()]
    before = (fetcher.stats.requests, fetcher.stats.retries, fetcher.stats.bytes_downloaded)

    def note(p: CrawlProgress) -> None:
        latest[0] = p  # called on the crawl's thread; read here between batches

    last = con.execute(
        """select index_sha256, info_sha256, coalesce(files_failed_transiently, 0)
           from raw.dashboard_crawls where source_name = ? order by completed_at desc limit 1""",
        [source.name],
    ).fetchone()
    # Only a complete crawl (nothing failed transiently) lets an unchanged site stop early.
    complete = (last[0], last[1]) if last is not None and last[2] == 0 else None
    seen: dict[str, str | None] = {}
    index: DashboardFile | None = None
    crawl = crawl_dashboard(
        fetcher, base, stored.validators, stored.bodies.get, note, revalidate_all, complete
    )
    for item in crawl:
        if item.file.kind in ("index", "info"):
            seen[item.file.kind] = item.result.sha256
        if item.file.kind == "index":
            index = item
        loader.add(item)
        if loader.full:
            loader.commit()
            p = latest[0]
            say(
                f"{source.name}: {p.files_done}/{p.files_total} files fetched, "
                f"{report.total_loaded} loaded, {report.missing} missing, {p.retries} retries"
            )
    loader.commit()
    p = latest[0]
    if index is None or index.document is None:
        report.unreadable = _unreadable_cause(base, index)
    else:  # the crawl went through to the end (an exception would have left above)
        con.execute(
            """insert into raw.dashboard_crawls (source_name, completed_at, index_sha256, info_sha256,
                   files_promised, files_failed_transiently) values (?, ?, ?, ?, ?, ?)""",
            [
                source.name,
                datetime.now(UTC).replace(tzinfo=None),
                seen["index"],
                seen.get("info"),
                p.files_total,
                report.failed_transiently,
            ],
        )
    report.dialect, report.files_promised, report.absent_configs = p.dialect, p.files_total, p.absent_configs
    report.site_unchanged = p.site_unchanged
    stats = fetcher.stats  # a fetcher can serve several runs: count this run's share
    report.requests = stats.requests - before[0]
    report.retries = stats.retries - before[1]
    report.bytes_downloaded = stats.bytes_downloaded - before[2]
    if report.unreadable is not None:
        raise DashboardUnreadable(
            f"dashboard {source.name!r} could not be read from {source.url}: {report.unreadable}", report
        )
    say(report.summary())
    return report


def scrub_credentials(con: duckdb.DuckDBPyConnection) -> int:
    """Take credentials out of URLs stored before they were kept apart (a warehouse that earlier
    versions wrote); returns how many rows changed. A no-op on a clean warehouse."""
    changed = 0
    for table in ("raw.dashboard_files", "raw.dashboard_missing"):
        changed += con.execute(
            f"update {table} set url = regexp_replace(url, $p, '\\1') where regexp_matches(url, $p)",
            {"p": URL_CREDENTIALS},
        ).fetchone()[0]
    return changed


def _unreadable_cause(base: str, index: DashboardFile | None) -> str:
    """One line: why no usable index.json came from ``base``."""
    if base.startswith("file://"):
        folder = Path(url2pathname(urlsplit(base).path))
        if not folder.is_dir():
            return f"the folder {folder} does not exist"
    if index is None:
        return "index.json was not obtained"
    cause = index.reason or f"not obtained ({index.result.status})"
    if index.result.status == MISSING:
        cause = f"{cause}: there is no index.json"
    return " ".join(f"index.json: {cause}".split())

"""Published asv dashboards (what ``asv publish`` writes) into the warehouse's raw schema.

A dashboard is a static site: ``index.json`` lists the benchmarks and the graph configurations, and
every other file's path follows from it. This module works out every file the index promises (the
series ``graphs/<config>/<benchmark>.json``, the summaries and ``regressions.json``), fetches them
through a ``Fetcher`` (an http(s) site and a local folder go through the same code), and loads each
into ``raw.dashboard_files`` -- or, when it cannot be had, a row in ``raw.dashboard_missing`` with why.

Like ``ingest/results.py`` the raw tables are append-only, every row carries its provenance, rows are
committed in batches, and a re-run loads nothing twice: it sends conditional requests with the
validators stored from the last run, and a file whose content did not change is not stored again.
A crawl counts as complete only when no file failed transiently (``FetchResult.transient``), so a
re-run asks again for those. A dashboard of which no usable ``index.json`` was obtained raises
``DashboardUnreadable`` (one line: the source and the cause) once what it recorded is committed.

Three generations of sites are handled (the "dialects" of the graph paths):

* ``asv``: asv >= 0.3-ish, with ``info.json``. Paths come from asv's own ``Graph.get_file_path``.
* ``asv-0.2``: revision-based sites without ``info.json`` (dask 2017). The same rule but unsanitised,
  so a value holding ``//`` became nested folders on disk.
* ``asv-0.1``: date-based sites (``date_to_hash``, photutils 2016). No ``graph_param_list``: the
  configurations are derived from ``params`` and ``machines`` and probed, None renders as the bare key.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import os
import queue
import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

import duckdb
import pyarrow as pa
from asv.environment import get_env_name
from asv.graph import Graph

from ingest.http import (
    FAILED,
    MISSING,
    NOT_MODIFIED,
    OK,
    Fetcher,
    FetchPolicy,
    FetchResult,
    Validators,
    base_url,
    fetcher_for,
    join_url,
)
from ingest.results import BATCH_BYTES
from ingest.sources import DashboardSource

DIALECT_ASV, DIALECT_0_2, DIALECT_0_1 = "asv", "asv-0.2", "asv-0.1"
KINDS = ("index", "info", "series", "summary_series", "config_summary", "regressions")
BATCH_FILES = int(os.environ.get("DATASMITH_DASHBOARD_BATCH_FILES", 256))
WINDOW = 64  # files in flight at once; the fetcher's per-host caps decide how many are on the wire
PROBE_LIMIT = 3  # a guessed (asv 0.1) configuration is absent after this many missing series
UNIX_EPOCH = datetime(1970, 1, 1)

DASHBOARD_DDL = """
create schema if not exists raw;

-- One row per distinct version of each file of a published asv dashboard (append-only): a new row
-- only when the file's content differs from its latest stored version.
create table if not exists raw.dashboard_files (
    source_name   varchar   not null,  -- the sources-file entry
    url           varchar   not null,  -- what was fetched (http(s) or file://)
    relative_path varchar   not null,  -- path inside the site, '/'-separated, not percent-encoded
    kind          varchar   not null,  -- index | info | series | summary_series | config_summary | regressions
    config_path   varchar,             -- series and config_summary: the config folder under graphs/
    config        varchar,             -- series and config_summary: the configuration, as JSON
    machine       varchar,             -- series and config_summary: the configuration's machine
    env_name      varchar,             -- series and config_summary: asv's environment name (no tool)
    benchmark     varchar,             -- series and summary_series: the benchmark name
    http_status   integer,             -- 200 (a local folder reports the same codes)
    etag          varchar,             -- validators kept for the next run's conditional request
    last_modified varchar,
    sha256        varchar   not null,
    size_bytes    bigint    not null,
    fetched_at    timestamp not null,
    content       varchar   not null   -- the JSON text as served, validated at load
);
-- One row per crawl that went through to the end, with the index.json and info.json it saw and how
-- many files failed transiently (retries used up on 429/5xx/timeouts/truncated bodies, robots.txt
-- unreachable). An unchanged pair lets the next run stop early only when the latest such crawl was
-- complete: nothing failed transiently (never after a crash either).
create table if not exists raw.dashboard_crawls (
    source_name    varchar   not null,
    completed_at   timestamp not null,
    index_sha256   varchar,
    info_sha256    varchar,
    files_promised integer
);
alter table raw.dashboard_crawls add column if not exists files_failed_transiently integer;
-- Promised files that could not be had, with why (404, bad JSON, truncated, refused redirect,
-- too large, robots.txt), and graph_param_list entries that are no configuration (kind 'config',
-- relative_path 'index.json#graph_param_list[i]'). A new row only when a file's state changes.
create table if not exists raw.dashboard_missing (
    source_name   varchar   not null,
    url           varchar   not null,
    relative_path varchar   not null,
    kind          varchar   not null,
    http_status   integer,
    reason        varchar   not null,
    attempts      integer   not null,
    fetched_at    timestamp not null
);
"""


# --- graph paths ---------------------------------------------------------------------------------


def _collapse(path: str) -> str:
    """As the file system stored it: an empty segment (a value holding '//') is no folder."""
    return "/".join(part for part in path.split("/") if part)


def _legacy_file(params: Mapping[str, Any], name: str, dialect: str) -> str:
    # asv 0.1/0.2 (graph.py of the time): items sorted by key, nothing sanitised;
    # 0.1 wrote None as the bare key and "" as "key-", 0.2 None as "key-null" and "" as the bare key.
    parts = []
    for key, value in sorted(params.items(), key=lambda item: item[0]):
        if value is None:
            parts.append(key if dialect == DIALECT_0_1 else f"{key}-null")
        elif value == "" and dialect == DIALECT_0_2:
            parts.append(key)
        else:
            parts.append(f"{key}-{value}")
    return "/".join(["graphs", *parts, name])


def _graph_file(params: Mapping[str, Any], name: str, dialect: str) -> str:
    """'graphs/<config parts>/<name>' without '.json', as the site's asv wrote it."""
    if dialect == DIALECT_ASV:
        # asv's own rule, the oracle: sanitised parts sorted as strings (matches asv.js).
        return _collapse(Graph.get_file_path(dict(params), name))
    return _collapse(_legacy_file(params, name, dialect))


def graph_path(params: Mapping[str, Any], dialect: str = DIALECT_ASV) -> str:
    """The config folder under ``graphs/`` for one ``graph_param_list`` entry, e.g.
    ``branch-main/machine-macos-12/python-3.10`` (asv's ``Graph.get_file_path`` for ``asv``)."""
    folder = _graph_file(params, "x", dialect).rpartition("/")[0]
    return folder.removeprefix("graphs").lstrip("/")


def series_path(params: Mapping[str, Any], benchmark: str, dialect: str = DIALECT_ASV) -> str:
    return _graph_file(params, benchmark, dialect) + ".json"


def summary_series_path(benchmark: str, dialect: str = DIALECT_ASV) -> str:
    # asv publishes a benchmark's summary as the graph of the pseudo-config {"summary": ""}.
    return _graph_file({"summary": ""}, benchmark, dialect) + ".json"


def config_summary_path(params: Mapping[str, Any], dialect: str = DIALECT_ASV) -> str:
    # summarylist writes Graph.get_file_path(params, "summary") + ".json" beside the series.
    return _graph_file(params, "summary", dialect) + ".json"


# --- what an index.json promises --------------------------------------------------------------


@dataclass(frozen=True)
class PromisedFile:
    relative_path: str
    kind: str
    config_path: str | None = None
    benchmark: str | None = None
    # For files of one configuration: the configuration (JSON), its machine and environment name,
    # kept with the file so the warehouse can label its points without the index at hand.
    config: str | None = None
    machine: str | None = None
    env_name: str | None = None


@dataclass(frozen=True)
class SiteLayout:
    dialect: str
    configs: tuple[dict, ...]
    benchmarks: tuple[str, ...]
    machines: Mapping  # index.json's machine facts, which name environments
    probe_configs: bool  # configs are guesses (asv 0.1): absent ones are skipped, not reported
    summaries: bool  # graphs/summary/<benchmark>.json
    config_summaries: bool  # graphs/<config>/summary.json
    regressions: bool
    # graph_param_list entries that cannot be a configuration: (where in index.json, e.g.
    # 'graph_param_list[3]', and why). Their files are not asked for; each becomes one
    # raw.dashboard_missing row, and the rest of the site loads.
    bad_configs: tuple[tuple[str, str], ...] = ()


def config_problem(entry: Any) -> str | None:
    """Why a ``graph_param_list`` entry cannot be a configuration, or None. asv writes an object of
    parameter names to text or null (numbers and booleans pass too); the machine, when named, is text."""
    if not isinstance(entry, dict):
        return f"is {_JSON_TYPES.get(type(entry), 'a number')} ({json.dumps(entry)[:80]}), not an object of parameters"
    nested = sorted(key for key, value in entry.items() if isinstance(value, dict | list))
    if nested:
        return f"has a value that is not a single text, number or null: {', '.join(map(repr, nested))}"
    if "machine" in entry and not isinstance(entry["machine"], str):
        return f"names its machine with {_JSON_TYPES.get(type(entry['machine']), 'a number')}, not text"
    return None


def site_dialect(index: Mapping, has_info: bool) -> str:
    if "revision_to_hash" not in index and "date_to_hash" in index:
        return DIALECT_0_1
    return DIALECT_ASV if has_info else DIALECT_0_2


def legacy_configs(index: Mapping) -> list[dict]:
    """asv 0.1 sites list no configurations. A configuration is one machine (its facts fixed) with
    one value of every other parameter, so the candidates are the product per machine; facts a
    machine lacks are None, as asv 0.1 filled them in."""
    params = index.get("params") or {}
    machines = index.get("machines") or {}
    machine_keys = {key for facts in machines.values() for key in facts} | {"machine"}
    free = sorted(key for key in params if key not in machine_keys)
    configs = []
    for name, facts in sorted(machines.items()):
        fixed = {key: name if key == "machine" else facts.get(key) for key in params if key in machine_keys}
        for combo in itertools.product(*((params[key] or [None]) for key in free)):
            configs.append({**fixed, **dict(zip(free, combo, strict=True))})
    return configs


def site_layout(index: Mapping, has_info: bool) -> SiteLayout:
    dialect = site_dialect(index, has_info)
    pages = {page[0] for page in index.get("pages", []) if page}
    listed = "pages" in index
    modern = dialect != DIALECT_0_1
    listed_configs = (index.get("graph_param_list") or []) if modern else []
    if isinstance(listed_configs, list):
        problems = [
            (
                f"graph_param_list[{i}]",
                why and f"graph_param_list entry {i} {why}: its configuration is skipped",
            )
            for i, why in enumerate(map(config_problem, listed_configs))
        ]
    else:
        found = _JSON_TYPES.get(type(listed_configs), "a number")
        problems = [
            ("graph_param_list", f"graph_param_list is {found}, not a list: no configuration is known")
        ]
        listed_configs = [None]
    return SiteLayout(
        dialect=dialect,
        configs=(
            tuple(entry for entry, (_at, why) in zip(listed_configs, problems, strict=True) if why is None)
            if modern
            else tuple(legacy_configs(index))
        ),
        bad_configs=tuple((at, why) for at, why in problems if why is not None),
        benchmarks=tuple(sorted(index.get("benchmarks") or {})),
        machines=index.get("machines") or {},
        probe_configs=not modern,
        summaries=modern,
        config_summaries=modern and (not listed or "summarylist" in pages),
        regressions=modern and (not listed or "regressions" in pages),
    )


def _labels(layout: SiteLayout, config: Mapping) -> dict:
    return {
        "config": json.dumps(config, sort_keys=True),
        "machine": config.get("machine"),
        "env_name": env_name({"machines": layout.machines}, config),
    }


def config_series(layout: SiteLayout, config: Mapping) -> list[PromisedFile]:
    folder = graph_path(config, layout.dialect)
    labels = _labels(layout, config)
    return [
        PromisedFile(series_path(config, b, layout.dialect), "series", folder, b, **labels)
        for b in layout.benchmarks
    ]


def promised_files(layout: SiteLayout, configs: tuple[dict, ...] | None = None) -> list[PromisedFile]:
    """Every file but index.json and info.json that the site's index promises."""
    files = []
    for config in layout.configs if configs is None else configs:
        files += config_series(layout, config)
        if layout.config_summaries:
            path = config_summary_path(config, layout.dialect)
            files.append(
                PromisedFile(
                    path, "config_summary", graph_path(config, layout.dialect), **_labels(layout, config)
                )
            )
    if layout.summaries:
        files += [
            PromisedFile(summary_series_path(b, layout.dialect), "summary_series", None, b)
            for b in layout.benchmarks
        ]
    if layout.regressions:
        files.append(PromisedFile("regressions.json", "regressions"))
    return files


# --- checking a fetched document ---------------------------------------------------------------

_EXPECTED = {"index": dict, "info": dict, "regressions": dict}  # every other kind: a JSON array
_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}


def check_document(kind: str, body: bytes) -> tuple[Any, str | None]:
    """The parsed document, or None and why it is unusable. Python's parser accepts asv's bare NaN."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8 text (byte {exc.start})"
    try:
        doc = json.loads(text)
    except ValueError as exc:
        return None, f"not valid JSON (truncated or corrupt file): {getattr(exc, 'msg', exc)}"
    expected = _EXPECTED.get(kind, list)
    if not isinstance(doc, expected):
        found = _JSON_TYPES.get(type(doc), "a number")
        return None, f"top level is {found}, expected {_JSON_TYPES[expected]}"
    if kind == "index" and not (
        isinstance(doc.get("benchmarks"), dict)
        and isinstance(doc.get("revision_to_hash", doc.get("date_to_hash")), dict)
    ):
        return None, "index.json without 'benchmarks' and 'revision_to_hash' (or 'date_to_hash')"
    if kind in ("series", "summary_series"):
        # Every point must be [x, y] with a numeric x (the commit's revision or date): a point that is not
        # cannot be tied to a commit. A y of the wrong type is judged per value in the models ('invalid').
        for position, point in enumerate(doc):
            if not (
                isinstance(point, list)
                and len(point) == 2
                and isinstance(point[0], int | float)
                and not isinstance(point[0], bool)
            ):
                return None, f"point {position} is {_point_text(point)}, not [x, y] with a numeric x"
    return doc, None


def _point_text(point: Any) -> str:
    text = json.dumps(point)
    return text if len(text) <= 40 else text[:37] + "..."


# --- crawling ------------------------------------------------------------------------------------


@dataclass
class DashboardFile:
    """One promised file and what fetching it gave."""

    file: PromisedFile
    result: FetchResult
    problem: str | None = None  # why an obtained body is unusable (bad JSON, wrong shape)
    document: Any = None  # the parsed JSON when usable (also for an unchanged index.json)

    @property
    def usable(self) -> bool:
        return self.result.status == OK and self.problem is None

    @property
    def reason(self) -> str | None:
        return self.problem or self.result.reason


@dataclass
class CrawlProgress:
    files_done: int = 0
    files_total: int = 0
    bytes_downloaded: int = 0
    retries: int = 0
    absent_configs: int = 0  # guessed asv 0.1 configurations that the site does not have
    dialect: str | None = None
    site_unchanged: bool = False  # index.json and info.json unchanged: the rest was not asked


Cached = Callable[[str], bytes | None]


class _Crawl:
    def __init__(self, fetcher, base, known, cached, on_progress, revalidate_all=True, complete=None) -> None:
        self.revalidate_all = revalidate_all
        self.complete = complete  # (index sha256, info sha256) of the last complete crawl
        self.fetcher: Fetcher = fetcher
        self.base = base
        self.known: Mapping[str, Validators] = known or {}
        self.cached: Cached = cached or (lambda _url: None)
        self.on_progress = on_progress
        self.progress = CrawlProgress()

    async def get(self, file: PromisedFile) -> DashboardFile:
        url = join_url(self.base, file.relative_path)
        result = await self.fetcher.fetch(url, self.known.get(url))
        document = problem = None
        if result.status == NOT_MODIFIED and file.kind == "index":
            # The crawl needs the index's content: the caller's stored copy, else fetch it whole.
            body = self.cached(url)
            if body is None:
                result = await self.fetcher.fetch(url, None)
            else:
                document, problem = check_document(file.kind, body)
        if result.status == OK:
            document, problem = check_document(file.kind, result.body)
        return DashboardFile(file, result, problem, document)

    def tick(self) -> None:
        p = self.progress
        p.files_done += 1
        p.bytes_downloaded = self.fetcher.stats.bytes_downloaded
        p.retries = self.fetcher.stats.retries
        if self.on_progress:
            self.on_progress(CrawlProgress(**vars(p)))

    async def run(self) -> AsyncIterator[DashboardFile]:
        self.progress.files_total = 2
        index, info = await asyncio.gather(
            self.get(PromisedFile("index.json", "index")), self.get(PromisedFile("info.json", "info"))
        )
        for item in (index, info):
            self.tick()
            if not (item.file.kind == "info" and item.result.status == MISSING):  # info.json is optional
                yield item
        if index.document is None:
            return  # without the index nothing else is known
        unchanged = NOT_MODIFIED == index.result.status == info.result.status
        if (
            not self.revalidate_all
            and unchanged
            and (index.result.sha256, info.result.sha256) == self.complete
        ):
            # asv publish rewrites info.json (its timestamp) on every publish: both unchanged means
            # the site was not published again, so its other files are as stored.
            self.progress.site_unchanged = True
            self.progress.files_total -= 1
            self.progress.files_done -= 1
            self.tick()  # report the verdict
            return
        layout = site_layout(index.document, has_info=info.result.status != MISSING)
        self.progress.dialect = layout.dialect
        for where, why in layout.bad_configs:
            # Not a file: the index entry that would have named a folder of them.
            self.progress.files_total += 1
            self.tick()
            yield DashboardFile(
                PromisedFile(f"index.json#{where}", "config"),
                FetchResult(index.result.url, FAILED),
                problem=why,
            )
        configs = layout.configs
        if layout.probe_configs:
            configs, probed = await self.probe(layout)
            for item in probed:
                yield item
        else:
            probed = []
        seen = {item.file.relative_path for item in probed}
        files = [f for f in promised_files(layout, configs) if f.relative_path not in seen]
        self.progress.files_total += len(files)
        async with contextlib.aclosing(self.fetch_all(files)) as items:
            async for item in items:
                yield item

    async def probe(self, layout: SiteLayout) -> tuple[tuple[dict, ...], list[DashboardFile]]:
        """Which guessed configurations exist: fetch series one by one until one is there."""

        async def probe_one(config: dict) -> list[DashboardFile] | None:
            tried = []
            for file in config_series(layout, config)[:PROBE_LIMIT]:
                tried.append(await self.get(file))
                if tried[-1].result.status != MISSING:
                    return tried
            return None

        outcomes = await asyncio.gather(*(probe_one(config) for config in layout.configs))
        present = tuple(c for c, tried in zip(layout.configs, outcomes, strict=True) if tried is not None)
        probed = [item for tried in outcomes if tried for item in tried]
        self.progress.absent_configs = len(layout.configs) - len(present)
        self.progress.files_total += len(probed)
        for _ in probed:
            self.tick()
        return present, probed

    async def fetch_all(self, files: list[PromisedFile]) -> AsyncIterator[DashboardFile]:
        todo = iter(files)
        pending: set[asyncio.Task] = set()
        try:
            while True:
                for file in itertools.islice(todo, WINDOW - len(pending)):
                    pending.add(asyncio.create_task(self.get(file)))
                if not pending:
                    return
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    self.tick()
                    yield task.result()
        finally:
            for task in pending:
                task.cancel()


async def acrawl_dashboard(
    fetcher: Fetcher,
    base: str,
    known_validators: Mapping[str, Validators] | None = None,
    cached: Cached | None = None,
    on_progress: Callable[[CrawlProgress], None] | None = None,
    revalidate_all: bool = True,
    complete: tuple[str | None, str | None] | None = None,
) -> AsyncIterator[DashboardFile]:
    """Fetch index.json, info.json and every file the index promises, concurrently; yields each
    file's outcome as it completes (in no particular order). ``known_validators`` maps a URL to
    what the caller stored of it, for conditional requests; ``cached(url)`` returns the stored bytes
    of an index.json that answers "not modified". With ``revalidate_all`` false, a site whose
    index.json and info.json are both unchanged since ``complete`` (their sha256 at the last crawl
    that went through to the end) is taken as not re-published: nothing else is asked."""
    crawl = _Crawl(fetcher, base_url(base), known_validators, cached, on_progress, revalidate_all, complete)
    try:
        # aclosing: an early stop cancels the fetches in flight before the client is closed.
        async with contextlib.aclosing(crawl.run()) as items:
            async for item in items:
                yield item
    finally:
        await fetcher.aclose()


_DONE = object()


def crawl_dashboard(
    fetcher: Fetcher,
    base: str,
    known_validators: Mapping[str, Validators] | None = None,
    cached: Cached | None = None,
    on_progress: Callable[[CrawlProgress], None] | None = None,
    revalidate_all: bool = True,
    complete: tuple[str | None, str | None] | None = None,
) -> Iterator[DashboardFile]:
    """``acrawl_dashboard`` for synchronous callers: the crawl runs on its own event loop in a
    thread, so fetching continues while the caller writes what it has (a bounded queue keeps the
    two in step). Closing the iterator early stops the crawl."""
    out: queue.Queue = queue.Queue(maxsize=WINDOW)
    stop = threading.Event()
    failure: list[BaseException] = []

    async def pump() -> None:
        crawl = acrawl_dashboard(
            fetcher, base, known_validators, cached, on_progress, revalidate_all, complete
        )
        try:
            async for item in crawl:
                await asyncio.to_thread(out.put, item)
                if stop.is_set():
                    break
        finally:
            await crawl.aclose()

    def run() -> None:
        try:
            asyncio.run(pump())
        except BaseException as exc:
            failure.append(exc)
        finally:
            out.put(_DONE)

    thread = threading.Thread(target=run, name="dashboard-crawl", daemon=True)
    thread.start()
    try:
        while (item := out.get()) is not _DONE:
            yield item
        if failure:
            raise failure[0]
    finally:
        stop.set()
        while thread.is_alive():  # unblock the crawl's pending put so it can see the stop
            with contextlib.suppress(queue.Empty):
                out.get(timeout=0.05)
        thread.join()


# --- parsing documents into rows (pure) -------------------------------------------------------------


def _from_ms(ms: float | None) -> datetime | None:
    return None if ms is None else UNIX_EPOCH + timedelta(milliseconds=ms)


def _key(x: Any) -> str:
    # index.json maps str(revision) or str(date ms); a float x that is whole must look like an int.
    return str(int(x)) if isinstance(x, float) and x.is_integer() else str(x)


def param_texts(spec: Mapping) -> list[str]:
    """``name=value, ...`` for every parameter combination, in asv's order (itertools.product, the last
    parameter varying fastest); names are param1, param2, ... when param_names does not fit."""
    params = spec.get("params") or []
    names = spec.get("param_names") or []
    if len(names) != len(params):
        names = [f"param{j + 1}" for j in range(len(params))]
    return [
        ", ".join(f"{name}={value}" for name, value in zip(names, combo, strict=True))
        for combo in itertools.product(*params)
    ]


def env_name(index: Mapping, config: Mapping) -> str:
    """asv's environment name without the tool (a dashboard does not record it): the python version
    and every config key that is neither a machine fact nor the branch, e.g. 'py3.7-numpy'."""
    facts = (index.get("machines") or {}).get(config.get("machine"), {})
    skip = set(facts) | {"machine", "branch", "python"}
    requirements = {k: "" if v is None else str(v) for k, v in config.items() if k not in skip}
    return get_env_name(None, config.get("python", ""), requirements, {})


def series_points(index: Mapping, config: Mapping, benchmark: str, doc: list) -> list[dict]:
    """One row per point and parameter combination of a series file ``[[x, y], ...]``."""
    by_date = "revision_to_hash" not in index and "date_to_hash" in index
    hashes = index.get("date_to_hash" if by_date else "revision_to_hash") or {}
    dates = index.get("revision_to_date") or {}
    texts = param_texts((index.get("benchmarks") or {}).get(benchmark, {}))
    machine, env = config.get("machine"), env_name(index, config)
    rows = []
    for x, y in doc:
        key = _key(x)
        values = y if isinstance(y, list) else [y]
        for i, value in enumerate(values):
            nan = isinstance(value, float) and math.isnan(value)
            rows.append(
                {
                    "machine": machine,
                    "env_name": env,
                    "config": dict(config),
                    "benchmark": benchmark,
                    "revision": None if by_date else int(x),
                    "commit_hash": hashes.get(key),
                    "commit_date": _from_ms(x if by_date else dates.get(key)),
                    "param_index": i,
                    # A vector whose length does not fit the grid cannot be labelled.
                    "params": texts[i] if len(texts) == len(values) else None,
                    "value": value,
                    "status": "failed" if value is None else "skipped" if nan else "ok",
                }
            )
    return rows


def count_points(doc: list) -> int:
    return sum(len(y) if isinstance(y, list) else 1 for _x, y in doc)


def regressions_rows(doc: Mapping) -> list[dict]:
    """One row per jump of every regressions.json entry, in either layout:
    asv >= 0.4 ``[name, graph, cfg, idx, last, best, [[rev_before|null, rev_after, before, after]]]``,
    2017 ``[name, graph, cfg, idx, [jumps, last, best]]``."""
    rows = []
    for entry in doc.get("regressions") or []:
        if len(entry) == 7:
            name, graph, config, idx, last, best, jumps = entry
        elif len(entry) == 5:
            name, graph, config, idx, (jumps, last, best) = entry
        else:
            raise ValueError(f"unknown regressions.json entry layout ({len(entry)} fields): {entry!r:.200}")
        folder, _, _file = graph.removeprefix("graphs/").rpartition("/")
        for rev_before, rev_after, before, after in jumps:
            rows.append(
                {
                    "benchmark": name.partition("(")[0],  # as asv's feed does: the name before '('
                    "entry_name": name,
                    "graph_path": graph,
                    "config_path": folder,
                    "config": dict(config or {}),
                    "param_index": idx,
                    "revision_before": rev_before,
                    "revision_after": rev_after,
                    "value_before": before,
                    "value_after": after,
                    "last_value": last,
                    "best_value": best,
                }
            )
    return rows


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


# user:password@ (or user@) after a URL's scheme, as earlier versions stored a URL given with them.
URL_CREDENTIALS = r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#@]*@"


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

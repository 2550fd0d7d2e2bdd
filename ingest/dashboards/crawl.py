"""Fetching one dashboard: ``index.json`` and ``info.json`` first, then every file the index promises,
concurrently through a ``Fetcher`` (an http(s) site and a local folder go through the same code).

``acrawl_dashboard`` yields each file's outcome (a ``DashboardFile``: the fetch result and, when
usable, the parsed document) as it completes; ``crawl_dashboard`` runs it on its own event loop in a
thread for synchronous callers. Guessed asv 0.1 configurations are probed first. With validators from
an earlier run the requests are conditional, and an unchanged index/info pair can end the crawl early.
Nothing here writes to the warehouse.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from ingest.dashboards.layout import (
    PromisedFile,
    SiteLayout,
    check_document,
    config_series,
    promised_files,
    site_layout,
)
from ingest.http import (
    FAILED,
    MISSING,
    NOT_MODIFIED,
    OK,
    Fetcher,
    FetchResult,
    Validators,
    base_url,
    join_url,
)
from ingest.progress import ProgressBar

WINDOW = 64  # files in flight at once; the fetcher's per-host caps decide how many are on the wire
PROBE_LIMIT = 3  # a guessed (asv 0.1) configuration is absent after this many missing series


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
    def __init__(
        self, fetcher, base, known, cached, on_progress, revalidate_all=True, complete=None, bar=None
    ) -> None:
        self.bar: ProgressBar | None = bar
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
        if self.bar is not None:
            self.bar.update(p.files_done, p.files_total)
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
    progress_stream: TextIO | None = None,
) -> AsyncIterator[DashboardFile]:
    """Fetch index.json, info.json and every file the index promises, concurrently; yields each
    file's outcome as it completes (in no particular order). ``known_validators`` maps a URL to
    what the caller stored of it, for conditional requests; ``cached(url)`` returns the stored bytes
    of an index.json that answers "not modified". With ``revalidate_all`` false, a site whose
    index.json and info.json are both unchanged since ``complete`` (their sha256 at the last crawl
    that went through to the end) is taken as not re-published: nothing else is asked. In a terminal
    (``progress_stream``, default ``sys.stderr``) outside a Dagster run, a bar shows files fetched of
    those known so far, the rate and the ETA (``ingest.progress``)."""
    bar = ProgressBar("dashboard crawl", unit="files", stream=progress_stream)
    async with contextlib.aclosing(
        _acrawl(fetcher, base, known_validators, cached, on_progress, revalidate_all, complete, bar)
    ) as items:
        async for item in items:
            yield item


async def _acrawl(
    fetcher, base, known_validators, cached, on_progress, revalidate_all, complete, bar: ProgressBar
) -> AsyncIterator[DashboardFile]:
    crawl = _Crawl(
        fetcher, base_url(base), known_validators, cached, on_progress, revalidate_all, complete, bar
    )
    try:
        # aclosing: an early stop cancels the fetches in flight before the client is closed.
        async with contextlib.aclosing(crawl.run()) as items:
            async for item in items:
                yield item
    finally:
        bar.close()
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
    progress_stream: TextIO | None = None,
) -> Iterator[DashboardFile]:
    """``acrawl_dashboard`` for synchronous callers: the crawl runs on its own event loop in a
    thread, so fetching continues while the caller writes what it has (a bounded queue keeps the
    two in step). Closing the iterator early stops the crawl. The bar (see ``acrawl_dashboard``) is
    set up here, on the caller's thread, where a Dagster run is seen."""
    bar = ProgressBar("dashboard crawl", unit="files", stream=progress_stream)
    out: queue.Queue = queue.Queue(maxsize=WINDOW)
    stop = threading.Event()
    failure: list[BaseException] = []

    async def pump() -> None:
        crawl = _acrawl(fetcher, base, known_validators, cached, on_progress, revalidate_all, complete, bar)
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

"""Dashboard ingestion: every promised file loaded or recorded missing, polite and fault-tolerant fetching,
conditional re-runs, legacy sites, asv's own graph paths, the series points model
(``int_dashboards__measurements``) and the regressions model (``stg_dashboards__regressions``) checked
against the raw files, and a kill mid-crawl followed by a re-run ending where an uninterrupted run ends.

Every HTTP test runs against ``tests/dashboard_server.py`` on 127.0.0.1, serving the real dashboards from
the fixtures folder (``dashboards/<set>``), with faults injected per path.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from email.utils import formatdate
from pathlib import Path

import duckdb
import pytest
from asv.graph import Graph

from ingest.dashboards import (
    DashboardUnreadable,
    crawl_dashboard,
    ingest_dashboard_source,
    promised_files,
    site_layout,
)
from ingest.dashboards.layout import DIALECT_0_1, DIALECT_0_2, DIALECT_ASV, check_document, graph_path
from ingest.dashboards.load import count_points
from ingest.http import FAILED, MISSING, OK, FetchPolicy, HttpFetcher, LocalFetcher
from ingest.sources import DashboardSource
from tests.support.common import PROJECT_ROOT, fixture_path, read_records
from tests.support.dashboard_server import (
    DashboardServer,
    deleted,
    oversized,
    redirect,
    replaced_body,
    reset,
    retry_after,
    slow,
    truncated,
    unavailable,
)
from tests.support.warehouse import create_raw_schema

# Tests do not need to be polite to their own server; back-off is shortened, not skipped.
FAST = FetchPolicy(requests_per_second=None, backoff_base_s=0.02, backoff_max_s=0.2)
MODERN = ("django", "sympy", "numpy-trimmed", "scipy-trimmed")
LEGACY = ("photutils-2016", "dask-2017/dask", "dask-2017/distributed")


def site(name: str) -> Path:
    return fixture_path("dashboards", *name.split("/"))


def load_index(name: str) -> dict:
    return json.loads((site(name) / "index.json").read_text())


def layout_of(name: str):
    return site_layout(load_index(name), has_info=(site(name) / "info.json").is_file())


def series_on_disk(root: Path) -> set[str]:
    """Series files of a site: graphs/**.json minus graphs/summary/* and per-config summary.json."""
    graphs = root / "graphs"
    return {
        p.relative_to(root).as_posix()
        for p in graphs.rglob("*.json")
        if p.name != "summary.json" and p.relative_to(graphs).parts[0] != "summary"
    }


def config_folders_on_disk(root: Path) -> set[str]:
    return {path.rpartition("/")[0].removeprefix("graphs/") for path in series_on_disk(root)}


def ingest(db: Path, name: str, url: str, fetcher=None, **kwargs):
    con = duckdb.connect(str(db))
    try:
        return ingest_dashboard_source(
            con, DashboardSource(name, url), fetcher or HttpFetcher(FAST), **kwargs
        )
    finally:
        con.close()


def rows(db: Path, table: str, drop: tuple[str, ...] = ("fetched_at",)) -> list[tuple]:
    """A raw table's rows, sorted, without the columns that differ by design (content as its md5)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        columns = [c[0] for c in con.execute(f"select * from raw.{table} limit 0").description]
        shown = [("md5(content)" if c == "content" else c) for c in columns if c not in drop]
        return sorted(con.execute(f"select {', '.join(shown)} from raw.{table}").fetchall(), key=repr)
    finally:
        con.close()


def query(db: Path, sql: str, *params) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


@pytest.fixture
def server():
    with DashboardServer(fixture_path("dashboards")) as running:
        yield running


def fetch_one(url: str, policy: FetchPolicy = FAST):
    async def run():
        async with HttpFetcher(policy) as fetcher:
            return await fetcher.fetch(url), fetcher.stats

    return asyncio.run(run())


# --- graph paths --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", MODERN)
def test_graph_path_is_asvs_own_and_names_the_folders_on_disk(name):
    """For every config of a modern site, graph_path equals asv's Graph.get_file_path (the oracle) and the
    set of config folders holding series on disk is exactly the set of graph paths."""
    index, root = load_index(name), site(name)
    configs = index["graph_param_list"]
    for config in configs:
        asv_folder = os.path.dirname(Graph.get_file_path(config, "bench")).removeprefix("graphs/")
        assert graph_path(config) == asv_folder
    assert config_folders_on_disk(root) == {graph_path(c) for c in configs}
    # Every series file on disk is one the index promises (none is reached only by listing folders).
    promised = {f.relative_path for f in promised_files(layout_of(name))}
    assert series_on_disk(root) <= promised


def test_graph_paths_of_legacy_sites_follow_the_asv_of_their_time():
    """asv 0.2 did not sanitise (a '//' in a value became nested folders; today's asv writes '___'),
    asv 0.1 wrote None as the bare key and listed no configs: the candidates that exist are on disk."""
    dask = load_index("dask-2017/distributed")
    configs = dask["graph_param_list"]
    assert layout_of("dask-2017/distributed").dialect == DIALECT_0_2
    on_disk = config_folders_on_disk(site("dask-2017/distributed"))
    assert on_disk == {graph_path(c, DIALECT_0_2) for c in configs}
    assert all("pip+git+https:/github.com/dask/dask.git/" in folder for folder in on_disk)
    assert not on_disk & {graph_path(c, DIALECT_ASV) for c in configs}  # today's rule would miss them
    assert config_folders_on_disk(site("dask-2017/dask")) == {
        graph_path(c, DIALECT_0_2) for c in load_index("dask-2017/dask")["graph_param_list"]
    }

    photutils = layout_of("photutils-2016")
    assert photutils.dialect == DIALECT_0_1 and photutils.probe_configs
    candidates = {graph_path(c, DIALECT_0_1) for c in photutils.configs}
    on_disk = config_folders_on_disk(site("photutils-2016"))
    assert len(candidates) == 4 and len(on_disk) == 2 and on_disk <= candidates
    assert all(folder.startswith("Cython/arch-x86_64/") for folder in on_disk)  # None -> bare key
    assert series_on_disk(site("photutils-2016")) <= {f.relative_path for f in promised_files(photutils)}


# --- one full crawl over HTTP -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def django_run(tmp_path_factory):
    """dashboards/django served over HTTP and ingested once: (server, db, report)."""
    db = tmp_path_factory.mktemp("django") / "w.duckdb"
    with DashboardServer(fixture_path("dashboards")) as running:
        report = ingest(db, "django", running.url("django/"))
        yield running, db, report


def test_every_promised_file_is_loaded_or_recorded_missing_with_its_reason(django_run):
    _server, db, report = django_run
    root = site("django")
    promised = {f.relative_path for f in promised_files(layout_of("django"))} | {"index.json", "info.json"}
    loaded = dict(query(db, "select relative_path, sha256 from raw.dashboard_files"))
    missing = dict(query(db, "select relative_path, reason from raw.dashboard_missing"))
    assert set(loaded) | set(missing) == promised and not set(loaded) & set(missing)
    for path, digest in loaded.items():  # byte for byte what is on disk
        assert hashlib.sha256((root / path).read_bytes()).hexdigest() == digest, path
    # The index promises 65 benchmarks x 11 configs; 545 series were published, the rest are 404s.
    kinds = dict(query(db, "select kind, count(*) from raw.dashboard_files group by kind"))
    assert kinds == {
        "index": 1,
        "info": 1,
        "series": 545,
        "summary_series": 65,
        "config_summary": 11,
        "regressions": 1,
    }
    assert set(missing.values()) == {"HTTP 404"} and len(missing) == 65 * 11 - 545
    assert not any((root / path).exists() for path in missing)
    assert set(loaded) >= series_on_disk(root)
    assert report.summary().startswith("django: 545 series fetched (545 new), ")
    assert "170 files missing (170 HTTP 404)" in report.summary()


def test_a_second_run_sends_conditional_requests_and_downloads_nothing_unchanged(django_run, tmp_path):
    server, db, _first = django_run
    before = {t: rows(db, t) for t in ("dashboard_files", "dashboard_missing")}
    server.clear()
    second = ingest(db, "django", server.url("django/"), revalidate_all=True)
    log = [r for r in server.log if r.path != "/robots.txt"]
    present = [r for r in log if r.status != 404]
    assert len(present) == 624 and all("if-none-match" in r.headers for r in present)
    assert server.statuses() == {304: 624, 404: 170 + 1}  # + robots.txt, read by the new fetcher
    assert second.total_loaded == 0 and second.missing_recorded == 0 and second.bytes_downloaded == 0
    assert second.files_unchanged == 624 and second.series_fetched == 545
    assert {t: rows(db, t) for t in before} == before

    # A file that changes is stored once more; when it changes back, the original is the latest again.
    series = next(p for p in series_on_disk(site("django")))
    server.clear()
    server.inject("/django/" + series, replaced_body(b"[[1, 0.5]]"))
    assert ingest(db, "django", server.url("django/"), revalidate_all=True).files_loaded == {"series": 1}
    server.clear()
    assert ingest(db, "django", server.url("django/"), revalidate_all=True).files_loaded == {"series": 1}
    versions = query(
        db,
        "select content from raw.dashboard_files where relative_path = ? order by fetched_at",
        series,
    )
    original = (site("django") / series).read_text()
    assert [v[0] for v in versions] == [original, "[[1, 0.5]]", original]


def test_an_unchanged_site_is_not_crawled_again_and_a_republished_one_is(django_run):
    """asv publish rewrites info.json on every publish, so index.json and info.json both answering
    304 means nothing else changed: only those two are asked. A new info.json revalidates all."""
    server, db, _first = django_run
    server.clear()
    quiet = ingest(db, "django", server.url("django/"))
    assert quiet.site_unchanged and quiet.total_loaded == 0 and quiet.missing_recorded == 0
    assert sorted(r.path for r in server.log if r.path != "/robots.txt") == [
        "/django/index.json",
        "/django/info.json",
    ]
    assert "not re-published" in quiet.summary()

    server.clear()
    server.inject("/django/info.json", replaced_body(b'{"asv-version": "0.6.3", "timestamp": 1}'))
    republished = ingest(db, "django", server.url("django/"))
    assert not republished.site_unchanged and republished.files_loaded == {"info": 1}
    assert server.statuses()[304] == 624 - 1  # every other file was asked again (conditionally)


def test_a_local_folder_and_the_http_server_give_identical_rows(server, tmp_path):
    http_db, local_db = tmp_path / "http.duckdb", tmp_path / "local.duckdb"
    via_http = ingest(http_db, "sympy", server.url("sympy/"))
    via_folder = ingest(local_db, "sympy", str(site("sympy")), LocalFetcher(site("sympy"), FAST))
    # url and fetch time differ by nature; etag is the server's (a folder has none).
    drop = ("url", "fetched_at", "etag")
    assert rows(http_db, "dashboard_files", drop) == rows(local_db, "dashboard_files", drop)
    assert rows(http_db, "dashboard_missing", drop) == rows(local_db, "dashboard_missing", drop)
    assert len(rows(local_db, "dashboard_files")) == 276
    assert via_http.summary() == via_folder.summary()
    again = ingest(
        local_db, "sympy", str(site("sympy")), LocalFetcher(site("sympy"), FAST), revalidate_all=True
    )
    assert again.total_loaded == 0 and again.files_unchanged == 276
    quiet = ingest(local_db, "sympy", str(site("sympy")), LocalFetcher(site("sympy"), FAST))
    assert quiet.site_unchanged and quiet.total_loaded == 0


# --- the fetcher under faults ---------------------------------------------------------------------

INDEX = "/dask-2017/distributed/index.json"


@pytest.mark.parametrize("value", [1, "date"])
def test_retry_after_is_honoured_and_counted(server, value):
    """429 with Retry-After (seconds, or an HTTP date) -> the retry comes no sooner than asked."""
    # An HTTP date has whole seconds: ask for 3 s ahead so at least 2 s remain after truncation.
    header = formatdate(time.time() + 3, usegmt=True) if value == "date" else value
    server.inject(INDEX, retry_after(header))
    result, stats = fetch_one(server.url(INDEX))
    assert result.status == OK and result.attempts == 2 and stats.retries == 1
    first, second = [r for r in server.log if r.path == INDEX]
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= 1.0


@pytest.mark.parametrize(
    ("fault", "attempts"),
    [
        (unavailable(times=3), 4),  # a burst of 503s
        (unavailable(times=2, status=502), 3),
        (reset(times=2), 3),  # connection closed without a response
        (truncated(times=1), 2),  # Content-Length larger than the body
        (slow(1.0), 2),  # longer than the read timeout
    ],
    ids=["503x3", "502x2", "reset", "truncated", "timeout"],
)
def test_transient_faults_are_retried_until_the_file_arrives(server, fault, attempts):
    server.inject(INDEX, fault)
    result, stats = fetch_one(server.url(INDEX), FetchPolicy(**{**vars(FAST), "read_timeout_s": 0.5}))
    assert result.status == OK, result.reason
    assert result.body == (site("dask-2017/distributed") / "index.json").read_bytes()
    assert result.attempts == attempts and stats.retries == attempts - 1
    assert server.requests()[INDEX] == attempts


@pytest.mark.parametrize(
    ("fault", "status", "requests", "reason"),
    [
        (truncated(times=None), FAILED, 5, "truncated body: "),
        (unavailable(times=99), FAILED, 5, "HTTP 503 (gave up after 5 attempts)"),
        (deleted(), MISSING, 1, "HTTP 404"),
        (retry_after(3600), FAILED, 1, "HTTP 429: Retry-After 3600 s is longer than the 300 s"),
        (oversized(200_000), FAILED, 1, "too large: Content-Length 200000 exceeds"),
        (oversized(200_000, declare_length=False), FAILED, 1, "too large: more than the 100000-byte cap"),
    ],
    ids=[
        "truncated-always",
        "503-always",
        "deleted",
        "retry-after-too-long",
        "oversized",
        "oversized-undeclared",
    ],
)
def test_permanent_faults_are_reported_with_a_reason(server, fault, status, requests, reason):
    server.inject(INDEX, fault)
    result, _stats = fetch_one(server.url(INDEX), FetchPolicy(**{**vars(FAST), "max_bytes": 100_000}))
    assert result.status == status and result.body is None
    assert reason in result.reason
    assert server.requests()[INDEX] == requests


@pytest.mark.parametrize("connections", [1, 4])
def test_connections_and_requests_per_second_are_capped_per_host(server, connections):
    paths = sorted(series_on_disk(site("sympy")))[:24]
    for path in paths[:8]:  # slow answers make the requests overlap if the fetcher lets them
        server.inject(f"/sympy/{path}", slow(0.15))
    policy = FetchPolicy(**{**vars(FAST), "max_connections_per_host": connections})

    async def fetch_all(policy):
        async with HttpFetcher(policy) as fetcher:
            return await asyncio.gather(*(fetcher.fetch(server.url(f"sympy/{p}")) for p in paths))

    assert all(r.status == OK for r in asyncio.run(fetch_all(policy)))
    assert server.state.max_in_flight == connections

    server.clear()  # 20 requests/s with no burst: 24 requests (and robots.txt) need over a second
    started = time.monotonic()
    asyncio.run(fetch_all(FetchPolicy(**{**vars(policy), "requests_per_second": 20.0, "burst": 1})))
    assert time.monotonic() - started >= 24 / 20
    gaps = [b.at - a.at for a, b in itertools.pairwise(server.log)]
    assert min(gaps) >= 0.025  # 1/20 s apart, less generous scheduling noise


def test_redirects_are_followed_within_the_host_only(server):
    other_host = server.url("elsewhere/index.json", host="localhost")  # same server, another host name
    server.inject(INDEX, redirect(other_host))
    result, _ = fetch_one(server.url(INDEX))
    assert result.status == FAILED and result.http_status == 302
    assert result.reason == f"redirect to another host refused: {other_host}"
    assert server.requests()["/elsewhere/index.json"] == 0

    server.clear()
    server.inject(INDEX, redirect("/dask-2017/dask/index.json", status=301))
    result, _ = fetch_one(server.url(INDEX))
    assert result.status == OK and result.body == (site("dask-2017/dask") / "index.json").read_bytes()


def test_robots_txt_is_read_once_per_host_and_obeyed(server, tmp_path):
    server.set_robots("User-agent: DataSmith\nDisallow: /dask-2017/distributed/graphs/summary/\n")
    report = ingest(tmp_path / "w.duckdb", "distributed", server.url("dask-2017/distributed/"))
    assert server.requests()["/robots.txt"] == 1
    assert not [r for r in server.log if "/graphs/summary/" in r.path]
    missing = query(tmp_path / "w.duckdb", "select kind, reason, attempts from raw.dashboard_missing")
    assert missing == [("summary_series", "disallowed by robots.txt", 0)] * 4
    assert report.series_fetched == 8

    server.clear()  # another agent's rule does not apply; an unreachable robots.txt forbids all
    server.set_robots("User-agent: SomeoneElse\nDisallow: /\n")
    assert fetch_one(server.url(INDEX))[0].status == OK
    server.inject("/robots.txt", unavailable(times=99))
    result, _ = fetch_one(server.url(INDEX))
    assert result.status == FAILED and result.reason.startswith("robots.txt unreachable")
    assert server.requests()[INDEX] == 1  # only the first fetcher, which read the allowing robots.txt


def test_a_crawl_records_each_unobtainable_file_with_its_reason(server, tmp_path):
    name, base = "dask-2017/dask", "/dask-2017/dask/"
    layout = layout_of(name)
    series = sorted(f.relative_path for f in promised_files(layout) if f.kind == "series")
    faults = {
        series[0]: (deleted(), "HTTP 404"),
        series[1]: (redirect(server.url("x.json", host="localhost")), "redirect to another host refused"),
        series[2]: (truncated(times=None), "truncated body"),
        series[3]: (replaced_body(b"[[1, 2], [3, "), "not valid JSON (truncated or corrupt file)"),
        series[4]: (replaced_body(b"{}"), "top level is an object, expected an array"),
        "regressions.json": (oversized(200_000), "too large"),
    }
    for path, (fault, _reason) in faults.items():
        server.inject(base + path, fault)
    server.inject(base + series[5], unavailable(times=2))  # recovers
    db = tmp_path / "w.duckdb"
    report = ingest(
        db, "dask", server.url(name + "/"), HttpFetcher(FetchPolicy(**{**vars(FAST), "max_bytes": 100_000}))
    )
    missing = {
        path: reason for path, reason in query(db, "select relative_path, reason from raw.dashboard_missing")
    }
    assert set(missing) == set(faults)
    for path, (_fault, reason) in faults.items():
        assert missing[path].startswith(reason), (path, missing[path])
    loaded = {p for (p,) in query(db, "select relative_path from raw.dashboard_files")}
    promised = {f.relative_path for f in promised_files(layout)} | {"index.json"}
    assert loaded == promised - set(faults) and series[5] in loaded
    assert report.missing == len(faults) and report.retries >= 2 + 4  # 503 x2, truncated x4 more


def test_an_unusable_index_is_recorded_and_nothing_else_is_fetched(server, tmp_path):
    """The source could not be read: the run fails with the cause in one line, after recording it."""
    db = tmp_path / "w.duckdb"
    server.inject("/sympy/index.json", replaced_body(b"<html>502 Bad Gateway</html>"))
    with pytest.raises(DashboardUnreadable) as failure:
        ingest(db, "sympy", server.url("sympy/"))
    assert str(failure.value) == (
        f"dashboard 'sympy' could not be read from {server.url('sympy/')}: "
        "index.json: not valid JSON (truncated or corrupt file): Expecting value"
    )
    assert query(db, "select relative_path, reason from raw.dashboard_missing") == [
        ("index.json", "not valid JSON (truncated or corrupt file): Expecting value")
    ]
    assert query(db, "select relative_path from raw.dashboard_files") == [("info.json",)]
    assert query(db, "select count(*) from raw.dashboard_crawls") == [(0,)]  # not a crawl
    assert {r.path for r in server.log} == {"/robots.txt", "/sympy/index.json", "/sympy/info.json"}
    assert (
        failure.value.report.summary()
        == "sympy: 0 series fetched (0 new), 0 points loaded, 1 files missing (1 not valid JSON)"
    )
    server.clear()  # the index is good again: the next run loads the site
    again = ingest(db, "sympy", server.url("sympy/"))
    assert again.series_fetched == 136 and again.missing == 0 and again.files_unchanged == 1  # info.json


def test_closing_a_crawl_early_stops_fetching():
    fetcher = LocalFetcher(site("django"), FAST)
    crawl = crawl_dashboard(fetcher, str(site("django")))
    first = list(itertools.islice(crawl, 5))
    crawl.close()
    assert len(first) == 5 and {f.file.kind for f in first[:2]} == {"index", "info"}
    assert fetcher.stats.requests < 794 // 2


# --- legacy sites and the series/regressions models ---------------------------------------------------

MODEL_SITES = ("django", "sympy", *LEGACY)
POINT_COLUMNS = (
    "file_path, machine, env_name, config, benchmark, revision, commit_hash, commit_date, param_index, "
    "params, value, status"
)


def source_of(name: str) -> str:
    return name.replace("/", "-")


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    """One warehouse for the module: the real sites loaded from their folders, then dbt runs only the
    series points model and the regressions model (and the staging models they read)."""
    folder = tmp_path_factory.mktemp("dashboard_models")
    db = folder / "warehouse.duckdb"
    con = duckdb.connect(str(db))
    try:
        create_raw_schema(con)
        for name in MODEL_SITES:
            ingest_dashboard_source(con, DashboardSource(source_of(name), str(site(name))), LocalFetcher())
    finally:
        con.close()
    dbt = [str(PROJECT_ROOT / ".venv" / "bin" / "dbt"), "run", "--quiet"]
    models = ["--select", "+int_dashboards__measurements", "stg_dashboards__regressions"]
    paths = ["--project-dir", str(PROJECT_ROOT), "--profiles-dir", str(PROJECT_ROOT)]
    paths += ["--target-path", str(folder / "target"), "--log-path", str(folder / "logs")]
    run = subprocess.run(
        dbt + models + paths, env={**os.environ, "DATASMITH_DB": str(db)}, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    return db


def model_points(db: Path, name: str, where: str = "true", *params) -> list[dict]:
    return read_records(
        db,
        f"""select {POINT_COLUMNS} from intermediate.int_dashboards__measurements
            where source_name = ? and ({where}) order by file_path, revision, commit_date, param_index""",
        source_of(name),
        *params,
    )


def by_x_then_y(point: tuple) -> tuple:
    x, y = point
    return x, y is None, 0 if y is None else y


def epoch_ms(moment) -> float:
    return (moment - datetime(1970, 1, 1)).total_seconds() * 1000


@pytest.mark.parametrize("name", LEGACY)
def test_legacy_dashboards_load_with_points_having_commit_hashes(server, tmp_path, models, name):
    db = tmp_path / "w.duckdb"
    report = ingest(db, name.replace("/", "-"), server.url(name + "/"))
    layout = layout_of(name)
    assert report.missing == 0 and report.dialect == layout.dialect
    assert report.absent_configs == (2 if name == "photutils-2016" else 0)
    loaded = query(db, "select config_path, benchmark from raw.dashboard_files where kind = 'series'")
    assert {p for p in series_on_disk(site(name))} == {
        f"graphs/{folder}/{bench}.json" for folder, bench in loaded
    }
    points = model_points(models, name)
    on_disk = sum(count_points(json.loads((site(name) / p).read_text())) for p in series_on_disk(site(name)))
    assert len(points) == on_disk > 0
    assert all(p["commit_hash"] for p in points)
    if layout.dialect == DIALECT_0_1:  # x is the commit date; hashes are 8 characters
        assert all(p["revision"] is None and len(p["commit_hash"]) == 8 for p in points)
        assert min(p["commit_date"] for p in points).date().isoformat() == "2014-08-21"
    else:
        assert all(p["revision"] is not None and p["commit_date"] is not None for p in points)


def test_series_points_match_the_raw_graph_files(models):
    """dashboards/django: every point of every series file, read back as rows of the points model."""
    index, root = load_index("django"), site("django")
    files = {f.relative_path: f for f in promised_files(layout_of("django")) if f.kind == "series"}
    configs = {graph_path(c): c for c in index["graph_param_list"]}
    by_file: dict[str, list[dict]] = {}
    for p in model_points(models, "django"):
        by_file.setdefault(p["file_path"], []).append(p)
    assert set(by_file) <= series_on_disk(root)
    total = nulls = empty = 0
    for path in sorted(series_on_disk(root)):
        doc = json.loads((root / path).read_text())
        config, bench = configs[files[path].config_path], files[path].benchmark
        points = by_file.get(path, [])
        assert sorted(((p["revision"], p["value"]) for p in points), key=by_x_then_y) == sorted(
            ((x, y) for x, y in doc), key=by_x_then_y
        ), path
        for p in points:
            x = p["revision"]
            assert p["commit_hash"] == index["revision_to_hash"][str(x)]
            assert epoch_ms(p["commit_date"]) == pytest.approx(index["revision_to_date"][str(x)])
            assert (p["machine"], p["env_name"]) == (config["machine"], f"py{config['python']}")
            assert json.loads(p["config"]) == config and p["benchmark"] == bench
            assert (p["param_index"], p["params"]) == (0, "")
            assert p["status"] == ("failed" if p["value"] is None else "ok")
        total += len(points)
        nulls += sum(y is None for _x, y in doc)
        empty += not doc
    assert (empty, nulls) == (4, 1320)  # fixtures README
    assert total == sum(count_points(json.loads((root / p).read_text())) for p in series_on_disk(root))


def test_series_points_expand_parameters_in_asv_order(models):
    """sympy: parameterised points follow itertools.product over index.json's params, last fastest."""
    index, root = load_index("sympy"), site("sympy")
    config = index["graph_param_list"][0]
    checked = 0
    for bench, spec in index["benchmarks"].items():
        if len(spec["params"]) < 2:
            continue
        relative = f"graphs/{graph_path(config)}/{bench}.json"
        if not (root / relative).is_file() or not json.loads((root / relative).read_text()):
            continue
        doc = json.loads((root / relative).read_text())
        points = model_points(models, "sympy", "file_path = ?", relative)
        combos = list(itertools.product(*spec["params"]))
        assert len(points) == len(doc) * len(combos)
        first = [p for p in points if p["revision"] == doc[0][0]]
        assert [p["param_index"] for p in first] == list(range(len(combos)))
        for p in first:
            expected = ", ".join(
                f"{n}={v}" for n, v in zip(spec["param_names"], combos[p["param_index"]], strict=True)
            )
            assert p["params"] == expected
        assert [p["value"] for p in first] == doc[0][1]
        second_param = spec["params"][1]
        assert first[1]["params"].endswith(f"{spec['param_names'][1]}={second_param[1]}")
        checked += 1
    assert checked >= 1


def regressions(db: Path, name: str) -> list[dict]:
    return read_records(
        db,
        """select benchmark, graph_path, config, param_index, legacy_layout, revision_before, revision_after,
                  value_before, value_after
           from staging.stg_dashboards__regressions where source_name = ?
           order by benchmark, graph_path, param_index, revision_after""",
        source_of(name),
    )


def test_the_regressions_model_reads_both_layouts(models):
    entries = json.loads((site("sympy") / "regressions.json").read_text())["regressions"]
    sympy = regressions(models, "sympy")
    assert len(entries) == 112 and len(sympy) == sum(len(e[6]) for e in entries)
    assert not any(r["legacy_layout"] for r in sympy)
    assert sum(r["revision_before"] is None for r in sympy) == 150  # fixtures README
    assert len({r["benchmark"] for r in sympy if r["param_index"] is not None}) == 69
    index = load_index("sympy")
    assert {r["benchmark"].partition("(")[0] for r in sympy} <= set(index["benchmarks"])
    config_paths = {r["graph_path"].removeprefix("graphs/").rpartition("/")[0] for r in sympy}
    assert config_paths == {graph_path(index["graph_param_list"][0])}

    dask_doc = json.loads((site("dask-2017/dask") / "regressions.json").read_text())
    dask = regressions(models, "dask-2017/dask")  # 2017 layout: [name, graph, cfg, idx, [jumps, last, best]]
    assert [len(e) for e in dask_doc["regressions"]] == [5, 5, 5]
    assert len(dask) == sum(len(e[4][0]) for e in dask_doc["regressions"]) == 4
    assert all(r["legacy_layout"] for r in dask)
    assert {json.loads(r["config"])["python"] for r in dask} == {"3.5", "2.7"}
    first = min((r for r in dask if r["param_index"] == 2), key=lambda r: r["revision_after"])
    assert first["benchmark"].partition("(")[0] == "io.CSV.time_read_csv_meta"
    assert (first["revision_before"], first["revision_after"]) == (4759, 4795)
    assert first["value_before"] < first["value_after"]

    django_doc = json.loads((site("django") / "regressions.json").read_text())
    django = regressions(models, "django")
    assert len(django) == sum(len(e[6]) for e in django_doc["regressions"]) > 0
    assert len({r["graph_path"] for r in django}) <= 49 and all(r["param_index"] is None for r in django)


# --- crash safety ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_crawl_killed_mid_load_then_rerun_ends_identical_to_an_uninterrupted_run(server, tmp_path):
    url = server.url("django/")
    clean, crashed = tmp_path / "clean.duckdb", tmp_path / "crashed.duckdb"
    ingest(clean, "django", url)
    script = (
        "import duckdb\n"
        "from ingest.dashboards import ingest_dashboard_source\n"
        "from ingest.http import FetchPolicy, HttpFetcher\n"
        "from ingest.sources import DashboardSource\n"
        f"con = duckdb.connect({str(crashed)!r})\n"
        f"ingest_dashboard_source(con, DashboardSource('django', {url!r}),\n"
        "    HttpFetcher(FetchPolicy(requests_per_second=150)), batch_files=40,\n"
        "    progress=lambda m: print(m, flush=True))\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=PROJECT_ROOT
    )
    first_line = proc.stdout.readline()  # printed after the first batch is committed
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert "files fetched" in first_line, first_line

    partial = len(rows(crashed, "dashboard_files")) + len(rows(crashed, "dashboard_missing"))
    full = len(rows(clean, "dashboard_files")) + len(rows(clean, "dashboard_missing"))
    assert 0 < partial < full, "the kill should land mid-crawl"
    rerun = ingest(crashed, "django", url)
    assert rerun.total_loaded + rerun.missing_recorded == full - partial
    for table in ("dashboard_files", "dashboard_missing"):
        assert rows(crashed, table) == rows(clean, table)


@pytest.mark.parametrize(
    "body, reason",
    [
        (b'[[1, 0.5], "x"]', 'point 1 is "x", not [x, y] with a numeric x'),
        (b"[[1, 0.5], [2]]", "point 1 is [2], not [x, y] with a numeric x"),
        (b'[["r1", 0.5]]', 'point 0 is ["r1", 0.5], not [x, y] with a numeric x'),
        (b"[[true, 0.5]]", "point 0 is [true, 0.5], not [x, y] with a numeric x"),
    ],
)
def test_a_series_point_that_names_no_commit_makes_the_file_unusable(body, reason):
    """A y of the wrong type is judged per value by the models; a point without a numeric x has no commit."""
    assert check_document("series", body) == (None, reason)
    assert check_document("series", b'[[1, "x"], [2, [0.1, {}]], [3, NaN]]')[1] is None

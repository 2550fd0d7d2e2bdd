"""Issue 13, the dashboard cases: hostile or broken dashboards and sources entries, each on a real
fixture dashboard (served by ``tests/dashboard_server.py`` or a mutated copy in the test's folder).

* transient failures (429/5xx/truncated, retries used up) leave the crawl incomplete, so the next run
  asks again for what failed, while permanent 404s do not;
* a ``graph_param_list`` entry that is no configuration is one ``raw.dashboard_missing`` row, the rest loads;
* credentials in a dashboard URL go to that host as HTTP Basic auth and are stored and printed nowhere;
* a source of which nothing could be read fails its partition with the cause in one line;
* robots.txt wildcards (RFC 9309 ``*`` and ``$``) are honoured;
* a dashboards-only sources file without ``repo:`` materialises, the repo taken from the site.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
from pathlib import Path

import duckdb
import pytest
import yaml

from ingest.dashboards import DashboardUnreadable, ingest_dashboard_source, promised_files, site_layout
from ingest.http import FetchPolicy, HttpFetcher, LocalFetcher
from ingest.registry import register_sources
from ingest.sources import DashboardSource, load_sources
from tests.support.common import fixture_path, materialize, read_rows
from tests.support.dashboard_server import DashboardServer, deleted, retry_after, truncated, unavailable
from tests.support.warehouse import create_raw_schema

# Two attempts per file, short back-off: a fault lasting two requests outlives the run.
POLICY = FetchPolicy(requests_per_second=None, backoff_base_s=0.02, backoff_max_s=0.1, max_attempts=2)


@pytest.fixture
def server():
    with DashboardServer(fixture_path("dashboards")) as running:
        yield running


def ingest(db: Path, source: DashboardSource, fetcher=None, **kwargs):
    con = duckdb.connect(str(db))
    try:
        fetcher = fetcher or (
            LocalFetcher(source.url, POLICY)
            if not source.url.startswith("http")
            else HttpFetcher(POLICY, credentials=source.credentials, site=source.url)
        )
        return ingest_dashboard_source(con, source, fetcher, **kwargs)
    finally:
        con.close()


def sympy_series() -> list[str]:
    index = json.loads((fixture_path("dashboards", "sympy") / "index.json").read_text())
    layout = site_layout(index, has_info=True)
    return sorted(f.relative_path for f in promised_files(layout) if f.kind == "series")


def latest_missing(db: Path) -> dict[str, str]:
    return dict(
        read_rows(
            db,
            """select relative_path, reason from (
                   select relative_path, 'missing' as state, reason, fetched_at from raw.dashboard_missing
                   union all
                   select relative_path, 'file', null, fetched_at from raw.dashboard_files)
               qualify row_number() over (partition by relative_path order by fetched_at desc) = 1
                   and state = 'missing'""",
        )
    )


# --- case 5: transient failures are asked for again --------------------------------------------------


def test_a_crawl_with_transient_failures_is_incomplete_and_the_next_run_asks_again(server, tmp_path):
    db, source = tmp_path / "w.duckdb", DashboardSource("sympy", server.url("sympy/"))
    series = sympy_series()
    transient = {
        series[0]: unavailable(times=2),  # 503, 503: retries used up
        series[1]: truncated(times=2),
        "regressions.json": retry_after(3600),  # longer than the fetcher waits
    }
    for path, fault in transient.items():
        server.inject("/sympy/" + path, fault)
    server.inject("/sympy/" + series[2], deleted())  # permanent: stays missing, the crawl is complete

    first = ingest(db, source)
    assert first.failed_transiently == 3 and not first.complete
    assert "3 failed transiently and are asked again next run" in first.summary()
    missing = latest_missing(db)
    assert set(missing) == {*transient, series[2]}
    assert missing[series[2]] == "HTTP 404"
    assert read_rows(db, "select files_failed_transiently from raw.dashboard_crawls") == [(3,)]

    # index.json and info.json now answer 304, but the last crawl was incomplete: all is asked again
    # (conditionally), and the files that failed arrive.
    server.clear()
    server.inject("/sympy/" + series[2], deleted())
    second = ingest(db, source)
    assert not second.site_unchanged and second.complete
    assert second.files_loaded == {"series": 2, "regressions": 1}
    assert set(latest_missing(db)) == {series[2]}
    assert server.statuses()[304] == 276 - 4  # everything stored was revalidated, not downloaded

    # Complete now (the 404 is a fact, not a failure): an unchanged site is not crawled again.
    server.clear()
    server.inject("/sympy/" + series[2], deleted())
    third = ingest(db, source)
    assert third.site_unchanged
    assert sorted(r.path for r in server.log if r.path != "/robots.txt") == [
        "/sympy/index.json",
        "/sympy/info.json",
    ]


# --- case 9: a bad graph_param_list entry -------------------------------------------------------------


def test_a_bad_graph_param_list_entry_is_recorded_and_the_rest_of_the_site_loads(tmp_path):
    root = tmp_path / "django"
    shutil.copytree(fixture_path("dashboards", "django"), root)
    index = json.loads((root / "index.json").read_text())
    good = index["graph_param_list"]
    assert len(good) == 11
    bad = {1: "branch-main", 4: 42, 7: {**good[7], "machine": 3}, 9: {**good[9], "python": ["3.10"]}}
    for position, entry in bad.items():
        index["graph_param_list"][position] = entry
    (root / "index.json").write_text(json.dumps(index))
    kept = [c for i, c in enumerate(good) if i not in bad]
    layout = site_layout(index, has_info=True)
    expected_series = {
        f.relative_path
        for f in promised_files(layout)
        if f.kind == "series" and (root / f.relative_path).is_file()
    }

    db = tmp_path / "w.duckdb"
    report = ingest(db, DashboardSource("django", str(root)))
    assert list(layout.configs) == kept
    rows = read_rows(
        db, "select relative_path, kind, reason from raw.dashboard_missing where kind = 'config' order by 1"
    )
    assert rows == [
        ("index.json#graph_param_list[1]", "config",
         'graph_param_list entry 1 is a string ("branch-main"), not an object of parameters: '
         "its configuration is skipped"),
        ("index.json#graph_param_list[4]", "config",
         "graph_param_list entry 4 is a number (42), not an object of parameters: its configuration is skipped"),
        ("index.json#graph_param_list[7]", "config",
         "graph_param_list entry 7 names its machine with a number, not text: its configuration is skipped"),
        ("index.json#graph_param_list[9]", "config",
         "graph_param_list entry 9 has a value that is not a single text, number or null: 'python': "
         "its configuration is skipped"),
    ]  # fmt: skip
    loaded = {
        p for (p,) in read_rows(db, "select relative_path from raw.dashboard_files where kind = 'series'")
    }
    assert loaded == expected_series and len(loaded) > 300
    assert report.complete and report.series_fetched == len(expected_series)
    # A re-run records nothing twice.
    again = ingest(db, DashboardSource("django", str(root)), revalidate_all=True)
    assert again.missing_recorded == 0 and again.total_loaded == 0


# --- case 6: credentials in the URL ---------------------------------------------------------------

PASSWORD = "pw-9f3Kq2Zr7"


def test_credentials_are_kept_out_of_the_url_and_sent_to_that_host_only(server):
    source = DashboardSource("sympy", server.url("sympy/").replace("http://", f"http://reader:{PASSWORD}@"))
    assert source.url == server.url("sympy/") and source.location == source.url
    assert source.credentials == ("reader", PASSWORD) and PASSWORD not in repr(source)
    server.require_auth("reader", PASSWORD)

    async def fetch(url: str):
        async with HttpFetcher(POLICY, credentials=source.credentials, site=source.url) as fetcher:
            return await fetcher.fetch(url)

    assert asyncio.run(fetch(server.url("sympy/index.json"))).status == "ok"
    server.clear()
    other = asyncio.run(fetch(server.url("sympy/index.json", host="localhost")))  # another host name
    assert other.http_status == 401
    assert server.log and not any("authorization" in r.headers for r in server.log)


def test_credentials_in_a_dashboard_url_reach_no_table_and_no_output(server, tmp_path, capfd):
    server.require_auth("reader", PASSWORD)
    server.inject("/sympy/" + sympy_series()[0], deleted())  # so raw.dashboard_missing has a row
    url = server.url("sympy/").replace("http://", f"http://reader:{PASSWORD}@")
    sources = tmp_path / "sources.yml"
    sources.write_text(yaml.safe_dump({"dashboards": [{"name": "sympy", "url": url, "repo": "sympy/sympy"}]}))
    db = tmp_path / "w.duckdb"
    selection = "+key:int_dashboards__measurements or +key:stg_sources__source_registry"
    assert materialize(sources, db, "--select", selection) == 0
    output = capfd.readouterr()

    assert all(r.status != 401 for r in server.log)  # every request carried the credentials
    stored = read_rows(
        db,
        """select (select count(*) from raw.dashboard_files), (select count(*) from raw.dashboard_missing),
                  (select count(*) from staging.stg_dashboards__files),
                  (select any_value(location) from staging.stg_sources__source_registry)""",
    )
    assert stored == [(275, 1, 275, server.url("sympy/"))]
    token = "cmVhZGVyOnB3LTlmM0txMlpyNw"  # base64("reader:" + PASSWORD), unpadded prefix
    for file in tmp_path.iterdir():
        if file != sources:
            data = file.read_bytes() if file.is_file() else b""
            assert PASSWORD.encode() not in data and token.encode() not in data, file
    assert PASSWORD not in output.out + output.err


def test_credentials_an_earlier_version_stored_are_taken_out_of_the_warehouse(server, tmp_path):
    """A warehouse written before credentials were kept apart: its rows are cleaned on the next run."""
    db, source = tmp_path / "w.duckdb", DashboardSource("sympy", server.url("sympy/"))
    server.inject("/sympy/" + sympy_series()[0], deleted())
    ingest(db, source)
    con = duckdb.connect(str(db))
    try:  # the rows as the earlier version wrote them, from the URL given with credentials
        for table in ("dashboard_files", "dashboard_missing"):
            con.execute(f"update raw.{table} set url = replace(url, 'http://', 'http://reader:{PASSWORD}@')")
        create_raw_schema(con)
        con.execute(
            "insert into raw.source_registry values ('sympy', 'dashboard', ?, null, now()::timestamp)",
            [source.url.replace("http://", f"http://reader:{PASSWORD}@")],
        )
        register_sources(con, load_sources_for(tmp_path, source))
    finally:
        con.close()
    ingest(db, source)
    urls = read_rows(
        db,
        """select url from raw.dashboard_files union all select url from raw.dashboard_missing
           union all select location from raw.source_registry""",
    )
    assert len(urls) == 275 + 1 + 1 and not [u for (u,) in urls if PASSWORD in u or "reader" in u]
    # (The file's freed blocks may still hold the old bytes until DuckDB reuses them: copying the
    # database, e.g. `COPY FROM DATABASE`, is what clears those.)


def load_sources_for(folder: Path, source: DashboardSource):
    file = folder / "sources.yml"
    file.write_text(yaml.safe_dump({"dashboards": [{"name": source.name, "url": source.url}]}))
    return load_sources(file)


# --- case 11: a source that could not be read at all ------------------------------------------------


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_source_that_cannot_be_read_fails_with_its_cause(tmp_path):
    db = tmp_path / "w.duckdb"
    with pytest.raises(DashboardUnreadable) as absent:
        ingest(db, DashboardSource("absent", str(tmp_path / "no-such-folder")))
    assert str(absent.value) == (
        f"dashboard 'absent' could not be read from {tmp_path / 'no-such-folder'}: "
        f"the folder {tmp_path / 'no-such-folder'} does not exist"
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DashboardUnreadable, match=r"index.json: HTTP 404: there is no index.json$"):
        ingest(db, DashboardSource("empty", str(empty)))

    url = f"http://127.0.0.1:{closed_port()}/bench/"
    with pytest.raises(DashboardUnreadable) as unreachable:
        ingest(db, DashboardSource("gone", url))
    message = str(unreachable.value)
    assert message.startswith(
        f"dashboard 'gone' could not be read from {url}: index.json: robots.txt unreachable, "
        "so nothing may be fetched: connection error (ConnectError"
    )
    assert "\n" not in message
    # What could be recorded was: the index, missing with the reason; no crawl counts as done.
    assert read_rows(db, "select source_name, relative_path from raw.dashboard_missing order by all") == [
        ("absent", "index.json"),
        ("empty", "index.json"),
        ("gone", "index.json"),
        ("gone", "info.json"),
    ]
    assert read_rows(db, "select count(*) from raw.dashboard_crawls") == [(0,)]


def test_materialize_fails_the_unreadable_partitions_in_one_line_and_runs_the_others(tmp_path, capfd):
    port = closed_port()
    sources = tmp_path / "sources.yml"
    sources.write_text(
        yaml.safe_dump(
            {
                "dashboards": [
                    {"name": "dask", "url": str(fixture_path("dashboards", "dask-2017", "dask"))},
                    {"name": "moved", "url": "no-such-folder"},
                    {"name": "gone", "url": f"http://127.0.0.1:{port}/bench/"},
                ]
            }
        )
    )
    moved = tmp_path / "no-such-folder"
    db = tmp_path / "w.duckdb"
    assert materialize(sources, db, "--select", "key:raw/dashboard_files") == 1
    err = capfd.readouterr().err
    assert (
        f"datasmith: raw_dashboard_files [moved]: dashboard 'moved' could not be read "
        f"from {moved}: the folder {moved} does not exist\n"
    ) in err
    assert (
        f"datasmith: raw_dashboard_files [gone]: dashboard 'gone' could not be read from "
        f"http://127.0.0.1:{port}/bench/: index.json: robots.txt unreachable" in err
    )
    assert "datasmith: 2 of 3 steps failed" in err
    assert read_rows(db, "select count(*) from raw.dashboard_files where source_name = 'dask'") == [(43,)]


# --- case 12: robots.txt wildcards ------------------------------------------------------------------------


def test_robots_txt_wildcards_are_honoured(server, tmp_path):
    server.set_robots(
        "User-agent: *\nDisallow: /sympy/graphs/summary/*.json$\nDisallow: /*/regressions.json$\n"
        "Allow: /sympy/graphs/summary/integrate.*Risch*.json$\n"
    )
    db = tmp_path / "w.duckdb"
    report = ingest(db, DashboardSource("sympy", server.url("sympy/")))
    requested = {r.path for r in server.log}
    summaries = {p for p in requested if p.startswith("/sympy/graphs/summary/")}
    assert "/sympy/regressions.json" not in requested
    assert len(summaries) == 6 and all("Risch" in p for p in summaries)  # the longer Allow wins
    missing = read_rows(
        db, "select kind, reason, count(*) from raw.dashboard_missing group by all order by 1"
    )
    assert missing == [
        ("regressions", "disallowed by robots.txt", 1),
        ("summary_series", "disallowed by robots.txt", 136 - len(summaries)),
    ]
    assert report.series_fetched == 136 and report.complete  # a robots.txt rule is no transient failure


# --- case 4: a dashboard without repo -------------------------------------------------------------


@pytest.mark.slow
def test_dashboards_without_repo_materialise_with_the_repo_from_the_site(tmp_path):
    """photutils' index.json names github.com/astropy/photutils in show_commit_url; dask's names no
    project ('#'): its measurements are kept with repo null and make no task."""
    sources = tmp_path / "sources.yml"
    sources.write_text(
        yaml.safe_dump(
            {
                "dashboards": [
                    {"name": "photutils", "url": str(fixture_path("dashboards", "photutils-2016"))},
                    {"name": "dask", "url": str(fixture_path("dashboards", "dask-2017", "dask"))},
                ]
            }
        )
    )
    db = tmp_path / "w.duckdb"
    # as far as the tasks (and all upstream of them): the export and the reports add nothing checked here
    assert materialize(sources, db, "--select", "+key:main/fct_tasks") == 0
    assert read_rows(
        db, "select source_name, repo, count(*) from fct_measurements group by all order by 1"
    ) == [
        ("dask", None, 790),
        ("photutils", "astropy/photutils", 34_668),
    ]
    improvements = dict(
        read_rows(db, "select coalesce(repo, '?'), count(*) from fct_performance_improvements group by all")
    )
    assert improvements.get("?", 0) > 0 and improvements["astropy/photutils"] > 0
    tasks = read_rows(db, "select distinct repo from fct_tasks")
    assert tasks == [("astropy/photutils",)]

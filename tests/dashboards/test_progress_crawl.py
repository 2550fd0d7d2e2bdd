"""The dashboard crawl's terminal bar (ingest/progress.py): files fetched of those known, rate, ETA."""

from __future__ import annotations

import io
import re

import duckdb

from ingest.dashboards import crawl_dashboard
from ingest.dashboards.load import ingest_dashboard_source
from ingest.http import FetchPolicy, LocalFetcher
from ingest.sources import DashboardSource
from tests.project.test_progress_bar import FakeTty, drawn
from tests.support.common import fixture_path

FAST = FetchPolicy(requests_per_second=None, backoff_base_s=0.02, backoff_max_s=0.2)
SITE = fixture_path("dashboards", "photutils-2016")  # a real legacy site, 200-odd files


def test_a_crawl_on_a_terminal_draws_files_done_of_total_with_rate_and_eta():
    stream = FakeTty()
    items = list(crawl_dashboard(LocalFetcher(SITE, FAST), str(SITE), progress_stream=stream))
    last = drawn(stream)[-1]
    done, total = map(int, re.match(r"dashboard crawl: (\d+)/(\d+) files \|", last).groups())
    # every file asked for is counted (a missing info.json, optional, is asked but not yielded), of a
    # total that is the whole crawl at its end
    asked = len(items) + (0 if (SITE / "info.json").is_file() else 1)
    assert done == total == asked > 100
    assert re.search(r"files/s ETA 00:00$", last), last


def test_a_crawl_off_a_terminal_writes_no_bar_and_the_plain_lines_stay(tmp_path):
    stream = io.StringIO()
    items = list(crawl_dashboard(LocalFetcher(SITE, FAST), str(SITE), progress_stream=stream))
    assert items and stream.getvalue() == ""
    lines: list[str] = []
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    try:
        report = ingest_dashboard_source(
            con,
            DashboardSource("photutils", str(SITE)),
            LocalFetcher(SITE, FAST),
            lines.append,
            batch_files=50,
        )
    finally:
        con.close()
    # the loader's own progress lines, as before: one per batch, then the summary
    assert lines[-1] == report.summary()
    assert all(
        re.fullmatch(r"photutils: \d+/\d+ files fetched, \d+ loaded, \d+ missing, \d+ retries", x)
        for x in lines[:-1]
    )
    assert len(lines) > 2

"""Detection's terminal bar (ingest/progress.py): series detected of those to do, rate, ETA."""

from __future__ import annotations

import io
import json
import re

import duckdb
import pyarrow as pa
import pytest

from detection.ddl import DETECTION_DDL
from detection.steps import DetectionConfig
from detection.store import run_detection
from tests.project.test_progress_bar import FakeTty, drawn
from tests.support.common import fixture_path

SITE = fixture_path("dashboards", "photutils-2016")
SERIES = 24


@pytest.fixture
def warehouse(tmp_path):
    """The two tables detection reads, filled with real asv series: the first graphs of a real dashboard
    (each series' points in the order asv published them, no confidence intervals)."""
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    con.execute(DETECTION_DDL)  # the tables detection writes, as a built warehouse has them
    con.execute("create table main.dim_series (series_id varchar, benchmark varchar, benchmark_type varchar)")
    con.execute(
        "create table main.fct_series_points (series_id varchar, position integer, value double,"
        " ci_99_a double, ci_99_b double)"
    )
    graphs = sorted(p for p in (SITE / "graphs").rglob("*.json") if "summary" not in p.parts)
    series: list[tuple[str, str]] = []
    rows: dict[str, list] = {"series_id": [], "position": [], "value": []}
    for path in graphs:
        points = [p for p in json.loads(path.read_text()) if isinstance(p[1], int | float)]
        if len(points) < 10:
            continue
        series_id = path.relative_to(SITE).as_posix()
        series.append((series_id, path.stem))
        for i, (_revision, value) in enumerate(points):
            rows["series_id"].append(series_id)
            rows["position"].append(i)
            rows["value"].append(float(value))
        if len(series) == SERIES:
            break
    assert len(series) == SERIES
    con.executemany("insert into main.dim_series values (?, ?, 'time')", series)
    con.register("points_table", pa.table(rows))  # one insert: row-by-row inserts took seconds
    con.execute(
        "insert into main.fct_series_points select series_id, position, value, null, null from points_table"
    )
    con.unregister("points_table")
    yield con
    con.close()


def test_detection_on_a_terminal_draws_series_done_of_total_with_rate_and_eta(warehouse):
    stream = FakeTty()
    lines: list[str] = []
    report = run_detection(
        warehouse, DetectionConfig(), workers=1, progress=lines.append, progress_stream=stream
    )
    assert report.detected == SERIES
    last = drawn(stream)[-1]
    assert re.fullmatch(
        rf"detection: {SERIES}/{SERIES} series \|#+\| *[0-9.]+(k|M)?(series/s|s/series) ETA 00:00 *", last
    ), last
    # the plain lines are still said (the caller's progress): first the plan, last the summary
    assert lines[0] == f"detection: full run (no earlier state), {SERIES} series"
    assert lines[-1].startswith("detection: ")


def test_detection_off_a_terminal_writes_no_bar(warehouse):
    stream = io.StringIO()
    lines: list[str] = []
    run_detection(warehouse, DetectionConfig(), workers=1, progress=lines.append, progress_stream=stream)
    assert stream.getvalue() == ""
    assert len(lines) == 2 and lines[0] == f"detection: full run (no earlier state), {SERIES} series"

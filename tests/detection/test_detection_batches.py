"""Detection reads the series in bounded batches (issue 14, item 3): `iter_series` reads ranges of
series_id of about `batch_points` points each, one query a range, so DuckDB never aggregates the whole
warehouse's points into lists at once. Checked on a real dashboard's series (every series of
dashboards/numpy-trimmed, parameter combinations included: ~458k points) under a DuckDB memory limit
with no spill allowed: the read of everything at once does not fit, the batched read does, and both
give the same series in the same order."""

from __future__ import annotations

import json

import duckdb
import pyarrow as pa
import pytest

from detection.ddl import DETECTION_DDL
from detection.steps import DetectionConfig
from detection.store import iter_series, run_detection, series_ranges
from tests.support.common import fixture_path

SITE = fixture_path("dashboards", "numpy-trimmed")
LIMIT = "60MB"  # measured: the whole read fails at 80 MB, 100k-point batches pass at 40 MB


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    """The two tables detection reads, filled with every series of a real dashboard: one series per
    graph file and parameter combination, its points in the order asv published them."""
    path = tmp_path_factory.mktemp("batches") / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.execute(DETECTION_DDL)
    con.execute("create table main.dim_series (series_id varchar, benchmark varchar, benchmark_type varchar)")
    series: list[tuple[str, str]] = []
    rows: dict[str, list] = {"series_id": [], "position": [], "value": []}
    for graph in sorted(p for p in (SITE / "graphs").rglob("*.json") if "summary" not in p.parts):
        document = json.loads(graph.read_bytes())
        if not isinstance(document, list):
            continue
        per_params: dict[int, list[float]] = {}
        for point in document:
            if not (isinstance(point, list) and len(point) == 2):
                continue
            ys = point[1] if isinstance(point[1], list) else [point[1]]
            for k, y in enumerate(ys):
                if isinstance(y, int | float):
                    per_params.setdefault(k, []).append(float(y))
        for k, values in per_params.items():
            series_id = f"{graph.relative_to(SITE).as_posix()}#{k}"
            series.append((series_id, graph.stem))
            rows["series_id"] += [series_id] * len(values)
            rows["position"] += list(range(len(values)))
            rows["value"] += values
    con.executemany("insert into main.dim_series values (?, ?, 'time')", series)
    con.register("points_table", pa.table(rows))
    con.execute(
        "create table main.fct_series_points as select series_id, position::integer as position, value,"
        " null::double as ci_99_a, null::double as ci_99_b from points_table"
    )
    con.unregister("points_table")
    yield con
    con.close()


def test_ranges_cover_every_series_once_in_order_and_split_no_series(warehouse):
    counts = dict(
        warehouse.execute(
            "select series_id, count(*) from main.fct_series_points group by series_id"
        ).fetchall()
    )
    assert sum(counts.values()) > 400_000
    ranges = series_ranges(warehouse.cursor(), 50_000)
    ordered = sorted(counts)
    covered = [sid for lo, hi in ranges for sid in ordered if lo <= sid <= hi]
    assert covered == ordered  # each series in exactly one range, ranges in order
    assert len(ranges) >= sum(counts.values()) // 50_000
    for lo, hi in ranges[:-1]:  # a range closes at the first series that reaches the budget
        inside = [counts[s] for s in ordered if lo <= s <= hi]
        assert sum(inside) >= 50_000 and sum(inside) - inside[-1] < 50_000


def test_batched_read_fits_where_the_whole_read_does_not(warehouse):
    whole = list(iter_series(warehouse, batch_points=10**12))
    batched = list(iter_series(warehouse, batch_points=100_000))
    assert len(whole) > 2_000 and batched == whole
    assert [s[0] for s in whole] == sorted(s[0] for s in whole)

    warehouse.execute(f"set memory_limit = '{LIMIT}'")
    warehouse.execute("set max_temp_directory_size = '0GB'")  # no spill: memory is the bound
    try:
        with pytest.raises(duckdb.OutOfMemoryException):
            for _ in iter_series(warehouse, batch_points=10**12):
                pass
        assert sum(1 for _ in iter_series(warehouse, batch_points=100_000)) == len(whole)
    finally:
        warehouse.execute("reset memory_limit")
        warehouse.execute("reset max_temp_directory_size")


def test_detection_in_small_batches_writes_what_one_batch_writes(warehouse, tmp_path, monkeypatch):
    """Small read batches and change points flushed to Arrow every few rows: the same tables."""
    import detection.store as store

    chosen = "select series_id from main.dim_series order by series_id limit 60"
    series = warehouse.sql(f"select * from main.dim_series where series_id in ({chosen})").to_arrow_table()
    points = warehouse.sql(
        f"select * from main.fct_series_points where series_id in ({chosen})"
    ).to_arrow_table()
    con = duckdb.connect(str(tmp_path / "small.duckdb"))
    con.execute(DETECTION_DDL)
    con.register("series_arrow", series)
    con.register("points_arrow", points)
    con.execute("create table main.dim_series as select * from series_arrow")
    con.execute("create table main.fct_series_points as select * from points_arrow")

    def tables():
        return [
            con.execute(f"select * exclude (detected_at) from detection.{t} order by all").fetchall()
            for t in ("breakpoints", "skipped_series")
        ]

    try:
        run_detection(con, DetectionConfig(), workers=1, full=True)
        one = tables()
        monkeypatch.setattr(store, "BATCH_POINTS", 2_000)
        monkeypatch.setattr(store, "FOUND_BATCH", 7)
        run_detection(con, DetectionConfig(), workers=1, full=True)
        assert tables() == one and len(one[0]) > 7 * 3
    finally:
        con.close()

"""Change-point detection over the warehouse: read the series, detect, write detection.*.

Reads `fct_series_points` joined to `dim_series`, runs `detect_many` over all cores, and writes
detection.breakpoints and detection.skipped_series in one transaction (a crash leaves the previous
tables).

Incremental: detection.series_state keeps, per series, a fingerprint of everything detection reads
(the number of points, a hash of every (position, value, ci_99_a, ci_99_b), the benchmark type) and
the settings it ran with. A run re-detects only the series whose fingerprint is new or changed,
drops the rows of series that no longer exist, and keeps every other row as it was. It re-detects
everything when asked (`full=True`), when the settings differ from the stored ones, or when the
state is empty (the first run, or a warehouse from before the state table). Detection of one series
depends on that series alone, so the result equals a full re-run (tests/test_incremental_detection.py).
The fingerprint uses DuckDB's `hash()`, which a DuckDB upgrade may change: then every series counts
as changed once, and is re-detected.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TextIO

import duckdb
import pyarrow as pa

from detection.steps import DetectionConfig, asv_weights, detect_many
from ingest.progress import ProgressBar

MEMORY_LIMIT = "4GB"
"""DuckDB's memory_limit for dbt and detection unless DATASMITH_DUCKDB_MEMORY_LIMIT says otherwise."""
MAX_TEMP_SIZE = "20GB"
"""DuckDB's max_temp_directory_size (the spill budget) unless DATASMITH_DUCKDB_MAX_TEMP says otherwise."""

STATE_DDL = """
create table if not exists detection.series_state (
    series_id varchar not null, fingerprint varchar not null, settings varchar not null,
    detected_at timestamp not null
)
"""

# Per series, everything detection reads: the points in order (a position-keyed hash of each point,
# combined order-free, plus the count) and the benchmark type (the benchmark is part of series_id).
FINGERPRINTS_SQL = """
select points.series_id,
       concat_ws(':', count(*), bit_xor(hash(points.position, points.value, points.ci_99_a, points.ci_99_b)),
                 any_value(series.benchmark_type)) as fingerprint
from main.fct_series_points as points
join main.dim_series as series using (series_id)
group by points.series_id
"""


def duckdb_settings(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Set memory_limit, temp_directory and max_temp_directory_size on `con` (as profiles.yml does for dbt).

    The temp directory is DATASMITH_DUCKDB_TEMP_DIR, else `<warehouse file>.tmp`. Returns what was set.
    """
    wanted = {
        "memory_limit": os.environ.get("DATASMITH_DUCKDB_MEMORY_LIMIT", MEMORY_LIMIT),
        "max_temp_directory_size": os.environ.get("DATASMITH_DUCKDB_MAX_TEMP", MAX_TEMP_SIZE),
    }
    path = con.execute(
        "select path from duckdb_databases() where database_name = current_database()"
    ).fetchone()
    temp = os.environ.get("DATASMITH_DUCKDB_TEMP_DIR") or (f"{path[0]}.tmp" if path and path[0] else None)
    if temp and con.execute("select current_setting('temp_directory')").fetchone()[0] != temp:
        wanted["temp_directory"] = temp
    for name, value in wanted.items():
        try:
            con.execute(f"set {name} = '{value}'")
        except duckdb.NotImplementedException:
            # DuckDB keeps a temp directory once something spilled to it in this process.
            wanted.pop(name)
    return wanted


@dataclass
class DetectionReport:
    series: int = 0  # series in the warehouse
    detected: int = 0  # series detected in this run
    kept: int = 0  # series whose earlier detection was kept (unchanged points)
    dropped: int = 0  # series no longer in the warehouse, their rows removed
    full: bool = True
    change_points: dict[str, int] = field(default_factory=dict)  # in the tables after the run
    improvements: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        parts = [
            f"{m}: {self.change_points.get(m, 0)} change points, {self.improvements.get(m, 0)} improvements, "
            f"{self.skipped.get(m, 0)} series skipped"
            for m in sorted(set(self.change_points) | set(self.skipped))
        ]
        run = (
            "full run"
            if self.full
            else f"incremental: {self.detected} detected, {self.kept} kept, {self.dropped} dropped"
        )
        return f"{self.series} series ({run}); " + "; ".join(parts)


BATCH_POINTS = int(os.environ.get("DATASMITH_DETECTION_BATCH_POINTS", 1_000_000))
"""Points per read of iter_series: the series are read in ranges of series_id holding about this many
points each, so DuckDB aggregates (and the process holds) one range at a time, not the warehouse."""

SERIES_SQL = """
select series.series_id, series.benchmark, series.benchmark_type,
       list(points.value order by points.position)   as point_values,
       list(points.ci_99_a order by points.position) as ci_99_a,
       list(points.ci_99_b order by points.position) as ci_99_b
from main.fct_series_points as points
join main.dim_series as series using (series_id)
where points.series_id between $lo and $hi {restrict}
group by all
order by series.series_id
"""


FOUND_BATCH = 50_000
"""Change points collected as dicts before they are turned into one Arrow table."""


def series_ranges(
    cursor: duckdb.DuckDBPyConnection, batch_points: int, restrict: str = ""
) -> list[tuple[str, str]]:
    """Consecutive (first, last) series_id ranges of about `batch_points` points each (a series is never
    split: one longer than that is a range of its own), in series_id order."""
    counts = cursor.execute(
        f"""select series_id, count(*) from main.fct_series_points as points
            where true {restrict} group by series_id order by series_id"""
    ).fetchall()
    ranges: list[tuple[str, str]] = []
    first, total = None, 0
    for series_id, n in counts:
        if first is None:
            first = series_id
        total += n
        if total >= batch_points:
            ranges.append((first, series_id))
            first, total = None, 0
    if first is not None:
        ranges.append((first, counts[-1][0]))
    return ranges


def iter_series(
    con: duckdb.DuckDBPyConnection,
    batch_rows: int = 2000,
    only: pa.Table | None = None,
    batch_points: int | None = None,
) -> Iterator[tuple]:
    """(series_id, values, benchmark_type, weights, benchmark) per series, in series_id order.

    `only`: a table with a `series_id` column; when given, just those series. The series are read in
    ranges of about `batch_points` points (default BATCH_POINTS), each one query whose result is
    streamed in Arrow batches of `batch_rows` series: memory holds one range, whatever the warehouse's size.
    """
    # A cursor of its own: the stream stays open while the caller writes on the main connection.
    cursor = con.cursor()
    restrict = ""
    if only is not None:
        cursor.register("only_series", only)
        restrict = "and points.series_id in (select series_id from only_series)"
    for lo, hi in series_ranges(cursor, batch_points or BATCH_POINTS, restrict):
        reader = cursor.sql(
            SERIES_SQL.format(restrict=restrict), params={"lo": lo, "hi": hi}
        ).to_arrow_reader(batch_rows)
        for batch in reader:
            for row in batch.to_pylist():
                values, lows, highs = row["point_values"], row["ci_99_a"], row["ci_99_b"]
                # Raw results carry each point's 99% CI: asv publish weights its step detection by it,
                # point by point (a point without one counts as a median weight, inside asv_weights).
                has_ci = any(a is not None and b is not None for a, b in zip(lows, highs, strict=True))
                weights = asv_weights(values, lows, highs) if has_ci else None
                yield row["series_id"], values, row["benchmark_type"], weights, row["benchmark"]


def settings_key(config: DetectionConfig) -> str:
    """The settings as stored with each series' state: a change means every series is re-detected."""
    return json.dumps(asdict(config), sort_keys=True, default=str)


def run_detection(
    con: duckdb.DuckDBPyConnection,
    config: DetectionConfig,
    workers: int | None = None,
    progress: Callable[[str], None] | None = None,
    full: bool = False,
    progress_stream: TextIO | None = None,
) -> DetectionReport:
    """Detect the series whose points changed since the last run (all of them when `full`). In a
    terminal (``progress_stream``, default ``sys.stderr``) outside a Dagster run, a bar shows the
    series detected of those to do, the rate and the ETA (``ingest.progress``)."""
    say = progress or (lambda _m: None)
    duckdb_settings(con)
    con.execute(STATE_DDL)
    now = datetime.now(UTC).replace(tzinfo=None)
    settings = settings_key(config)
    current = dict(con.execute(FINGERPRINTS_SQL).fetchall())
    state = {
        sid: (fp, s)
        for sid, fp, s in con.execute(
            "select series_id, fingerprint, settings from detection.series_state"
        ).fetchall()
    }
    report = DetectionReport(series=len(current))
    stale_settings = any(s != settings for _fp, s in state.values())
    report.full = full or not state or stale_settings
    if report.full:
        todo = sorted(current)
        say(
            "detection: full run ("
            + ("asked for" if full else "settings changed" if stale_settings else "no earlier state")
            + f"), {len(todo)} series"
        )
    else:
        todo = sorted(sid for sid, fp in current.items() if state.get(sid, (None, None))[0] != fp)
        report.kept = len(current) - len(todo)
        report.dropped = len(set(state) - set(current))
        say(f"detection: {len(todo)} of {len(current)} series new or changed; {report.kept} kept")
    todo_table = pa.table({"series_id": pa.array(todo, pa.string())})
    # Change points are kept as Arrow tables of FOUND_BATCH rows (columnar, ~10x smaller than the
    # dicts) until the one transaction that writes them.
    columns = [r[0] for r in con.execute("describe detection.breakpoints").fetchall()]
    found: list[dict] = []
    found_tables: list[pa.Table] = []
    skipped: list[dict] = []
    with ProgressBar("detection", total=len(todo), unit="series", stream=progress_stream) as bar:
        say_above = bar.lines(say)
        for done, (series_id, change_points, skip_reason) in enumerate(
            detect_many(iter_series(con, only=None if report.full else todo_table), config, workers=workers),
            start=1,
        ):
            bar.update(done)
            report.detected += 1
            if skip_reason is not None:
                for method in config.methods:
                    skipped.append(
                        {"series_id": series_id, "method": method, "reason": skip_reason, "detected_at": now}
                    )
            for point in change_points:
                found.append({"series_id": series_id, **asdict(point), "detected_at": now})
            if len(found) >= FOUND_BATCH:
                found_tables.append(_found_table(found, columns))
                found = []
            if done % 1000 == 0:
                say_above(f"detection: {done}/{len(todo)} series")
    state_rows = pa.table(
        {
            "series_id": pa.array(todo, pa.string()),
            "fingerprint": pa.array([current[sid] for sid in todo], pa.string()),
            "settings": pa.array([settings] * len(todo), pa.string()),
            "detected_at": pa.array([now] * len(todo), pa.timestamp("us")),
        }
    )
    current_table = pa.table({"series_id": pa.array(sorted(current), pa.string())})
    if found:
        found_tables.append(_found_table(found, columns))
    del found
    _write(con, found_tables, columns, skipped, todo_table, current_table, state_rows, report.full)
    for method, n_found, n_improved in con.execute(
        """select method, count(*), count(*) filter (where direction = 'improvement' and significant and passes_floor)
           from detection.breakpoints group by method"""
    ).fetchall():
        report.change_points[method] = n_found
        report.improvements[method] = n_improved
    report.skipped = dict(
        con.execute("select method, count(*) from detection.skipped_series group by method").fetchall()
    )
    say(f"detection: {report.summary()}")
    return report


def _found_table(found: list[dict], columns: list[str]) -> pa.Table:
    return pa.Table.from_pylist([{c: row.get(c) for c in columns} for row in found])


def _write(
    con: duckdb.DuckDBPyConnection,
    found_tables: list[pa.Table],
    columns: list[str],
    skipped: list[dict],
    todo: pa.Table,
    current: pa.Table,
    state_rows: pa.Table,
    full: bool,
) -> None:
    """Replace the rows of the detected series (every row when `full`) and drop those of series that
    have no points any more (`current`: the series with points now)."""
    skipped_table = pa.Table.from_pylist(skipped) if skipped else None
    # Rows to remove: every row (full), else those of the series detected now and of the series
    # without points now (gone from the warehouse, or every point failed).
    stale = (
        "true"
        if full
        else "series_id in (select series_id from todo_arrow) "
        "or series_id not in (select series_id from current_arrow)"
    )
    con.register("todo_arrow", todo)
    con.register("current_arrow", current)
    con.register("state_arrow", state_rows)
    con.execute("begin transaction")
    try:
        for table in ("breakpoints", "skipped_series", "series_state"):
            con.execute(f"delete from detection.{table} where {stale}")
        for found_table in found_tables:
            con.register("found_arrow", found_table)
            con.execute(f"insert into detection.breakpoints select {', '.join(columns)} from found_arrow")
            con.unregister("found_arrow")
        if skipped_table is not None:
            con.register("skipped_arrow", skipped_table)
            con.execute(
                "insert into detection.skipped_series select series_id, method, reason, detected_at from skipped_arrow"
            )
            con.unregister("skipped_arrow")
        con.execute("insert into detection.series_state select * from state_arrow")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        for name in ("todo_arrow", "current_arrow", "state_arrow"):
            con.unregister(name)

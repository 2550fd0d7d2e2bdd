"""Change-point detection over the warehouse: read every series, detect, write detection.*.

Reads `int_series__points` joined to `dim_series`, runs `detect_many` over all cores, and replaces
detection.breakpoints and detection.skipped_series in one transaction (a re-run gives the same
tables; a crash leaves the previous ones).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import duckdb
import pyarrow as pa

from detection.steps import DetectionConfig, asv_weights, detect_many


@dataclass
class DetectionReport:
    series: int = 0
    change_points: dict[str, int] = field(default_factory=dict)
    improvements: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        parts = [
            f"{m}: {self.change_points.get(m, 0)} change points, {self.improvements.get(m, 0)} improvements, "
            f"{self.skipped.get(m, 0)} series skipped"
            for m in sorted(set(self.change_points) | set(self.skipped))
        ]
        return f"{self.series} series; " + "; ".join(parts)


def iter_series(con: duckdb.DuckDBPyConnection, batch_rows: int = 2000) -> Iterator[tuple]:
    """(series_id, values, benchmark_type, weights, benchmark) per series, streamed in batches."""
    # A cursor of its own: the stream stays open while the caller writes on the main connection.
    reader = (
        con.cursor()
        .sql(
            """select series.series_id, series.benchmark, series.benchmark_type,
                  list(points.value order by points.position)   as point_values,
                  list(points.ci_99_a order by points.position) as ci_99_a,
                  list(points.ci_99_b order by points.position) as ci_99_b
           from intermediate.int_series__points as points
           join main.dim_series as series using (series_id)
           group by all
           order by series.series_id"""
        )
        .to_arrow_reader(batch_rows)
    )
    for batch in reader:
        for row in batch.to_pylist():
            values, lows, highs = row["point_values"], row["ci_99_a"], row["ci_99_b"]
            # Raw results carry each point's 99% CI: asv publish weights its step detection by it,
            # point by point (a point without one counts as a median weight, inside asv_weights).
            has_ci = any(a is not None and b is not None for a, b in zip(lows, highs, strict=True))
            weights = asv_weights(values, lows, highs) if has_ci else None
            yield row["series_id"], values, row["benchmark_type"], weights, row["benchmark"]


def run_detection(
    con: duckdb.DuckDBPyConnection,
    config: DetectionConfig,
    workers: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> DetectionReport:
    say = progress or (lambda _m: None)
    now = datetime.now(UTC).replace(tzinfo=None)
    report = DetectionReport()
    found: list[dict] = []
    skipped: list[dict] = []
    total = con.execute("select count(*) from main.dim_series").fetchone()[0]
    for done, (series_id, change_points, skip_reason) in enumerate(
        detect_many(iter_series(con), config, workers=workers), start=1
    ):
        report.series += 1
        if skip_reason is not None:
            for method in config.methods:
                skipped.append(
                    {"series_id": series_id, "method": method, "reason": skip_reason, "detected_at": now}
                )
                report.skipped[method] = report.skipped.get(method, 0) + 1
        for point in change_points:
            row = asdict(point)
            found.append({"series_id": series_id, **row, "detected_at": now})
            report.change_points[point.method] = report.change_points.get(point.method, 0) + 1
            if point.direction == "improvement" and point.significant and point.passes_floor:
                report.improvements[point.method] = report.improvements.get(point.method, 0) + 1
        if done % 1000 == 0:
            say(f"detection: {done}/{total} series")
    _replace(con, found, skipped)
    say(f"detection: {report.summary()}")
    return report


def _replace(con: duckdb.DuckDBPyConnection, found: list[dict], skipped: list[dict]) -> None:
    columns = [r[0] for r in con.execute("describe detection.breakpoints").fetchall()]
    found_table = pa.Table.from_pylist([{c: row.get(c) for c in columns} for row in found]) if found else None
    skipped_table = pa.Table.from_pylist(skipped) if skipped else None
    con.execute("begin transaction")
    try:
        con.execute("delete from detection.breakpoints")
        con.execute("delete from detection.skipped_series")
        if found_table is not None:
            con.register("found_arrow", found_table)
            con.execute(f"insert into detection.breakpoints select {', '.join(columns)} from found_arrow")
            con.unregister("found_arrow")
        if skipped_table is not None:
            con.register("skipped_arrow", skipped_table)
            con.execute(
                "insert into detection.skipped_series select series_id, method, reason, detected_at from skipped_arrow"
            )
            con.unregister("skipped_arrow")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise

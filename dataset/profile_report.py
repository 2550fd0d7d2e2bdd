"""Where a task's time went: its profile deltas (main.fct_task_profile_deltas) in the commit report, as a
table and a bar chart of the biggest changes, and in the export as the `profile_deltas` column.

The numbers are asv's cProfile of each improved benchmark at the commit before and at the commit (one
profiled call of the benchmark, all its parameters), as pstats reads them; see docs/dataset.md.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

TABLE_ROWS = 10  # functions per benchmark in the report's table
CHART_BARS = 10  # bars in the chart (the biggest changes over the task's benchmarks)

DELTAS_SQL = """
select benchmark, speedup, source_name, machine, env_name, commit_before, commit_hash, function_path,
       function_name, function_line, function_label, calls_before, calls_after, self_before, self_after,
       cumulative_before, cumulative_after, cumulative_change, share_before, share_after,
       profile_total_before, profile_total_after, change_rank
from main.fct_task_profile_deltas
where commit_task_id = $id
order by speedup desc, benchmark, change_rank
"""

EXPORT_FIELDS = (
    ("benchmark", pa.string()),
    ("function", pa.string()),
    ("calls_before", pa.int64()),
    ("calls_after", pa.int64()),
    ("cumulative_before", pa.float64()),
    ("cumulative_after", pa.float64()),
    ("cumulative_change", pa.float64()),
    ("share_before", pa.float64()),
    ("share_after", pa.float64()),
)
EXPORT_TYPE = pa.list_(pa.struct(list(EXPORT_FIELDS)))
# One line of the dataset card's column table (dataset/export.py).
CARD_ROW = (
    "| `profile_deltas` | where the time went: per improved benchmark with asv profiles before and at the "
    "commit, the functions whose cumulative time changed most, list of {benchmark, function, calls_before, "
    "calls_after, cumulative_before, cumulative_after, cumulative_change (seconds), share_before, share_after "
    "(of the profiled call)}; null when the task has no profiles |"
)


def load_deltas(con: duckdb.DuckDBPyConnection, commit_task_id: str) -> list[dict]:
    """The task's profile deltas, most improved benchmark first, biggest change first; [] when the
    warehouse has none (or predates fct_task_profile_deltas)."""
    try:
        cursor = con.execute(DELTAS_SQL, {"id": commit_task_id})
    except duckdb.CatalogException:
        return []
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def format_seconds(value: float | None) -> str:
    """Seconds in the unit that reads best: s, ms or µs, three significant digits."""
    if value is None:
        return "—"
    size = abs(value)
    if size >= 1:
        return f"{value:.3g} s"
    if size >= 1e-3:
        return f"{value * 1e3:.3g} ms"
    return f"{value * 1e6:.3g} µs"


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_section(deltas: list[dict], chart_name: str | None) -> str:
    """The report's "Where the time went" section (Markdown); "" without deltas."""
    if not deltas:
        return ""
    lines = ["", "## Where the time went", ""]
    by_benchmark: dict[str, list[dict]] = {}
    for row in deltas:
        by_benchmark.setdefault(row["benchmark"], []).append(row)
    for benchmark, rows in by_benchmark.items():
        first = rows[0]
        lines += [
            f"### `{_cell(benchmark)}`",
            "",
            f"asv's cProfile of one call of the benchmark (all its parameters) at `{first['commit_before'][:8]}` "
            f"(before) and `{first['commit_hash'][:8]}`, on {_cell(first['machine'])} ({_cell(first['source_name'])}): "
            f"{format_seconds(first['profile_total_before'])} before, {format_seconds(first['profile_total_after'])} after.",
            "",
        ]  # fmt: skip
        dropped = min(rows, key=lambda r: (r["self_after"] - r["self_before"], r["change_rank"]))
        if dropped["self_after"] < dropped["self_before"]:
            lines += [
                f"Most own time removed: `{_cell(dropped['function_label'])}`, "
                f"{format_seconds(dropped['self_before'])} -> {format_seconds(dropped['self_after'])} "
                f"({dropped['calls_before']:,} calls -> {dropped['calls_after']:,}).",
                "",
            ]
        lines += [
            "| function | calls before | calls after | cumulative before | cumulative after | change | share before | share after |",
            "|---|---|---|---|---|---|---|---|",
        ]  # fmt: skip
        for r in rows[:TABLE_ROWS]:
            lines.append(
                f"| `{_cell(r['function_label'])}` | {r['calls_before']:,} | {r['calls_after']:,} | "
                f"{format_seconds(r['cumulative_before'])} | {format_seconds(r['cumulative_after'])} | "
                f"{format_seconds(r['cumulative_change'])} | {_share(r['share_before'])} | {_share(r['share_after'])} |"
            )
        lines.append("")
    if chart_name:
        lines += [f"![Biggest changes in cumulative time]({chart_name})", ""]
    return "\n".join(lines)


def _short_label(row: dict, several: bool) -> str:
    path = row["function_path"]
    name = (
        row["function_name"]
        if path == "~"
        else f"{Path(path).name}:{row['function_line']}({row['function_name']})"
    )
    return f"{row['benchmark'].rsplit('.', 1)[-1]}: {name}" if several else name


def chart_figure(deltas: list[dict]):
    """A horizontal bar chart of the biggest changes in cumulative time (milliseconds; negative is time
    saved) over the task's benchmarks."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = sorted(deltas, key=lambda r: (-abs(r["cumulative_change"]), r["benchmark"], r["change_rank"]))
    rows = rows[:CHART_BARS][::-1]
    several = len({r["benchmark"] for r in deltas}) > 1
    fig = Figure(figsize=(7, 0.6 + 0.35 * len(rows)), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    values = [r["cumulative_change"] * 1e3 for r in rows]
    ax.barh(
        [_short_label(r, several) for r in rows],
        values,
        color=["tab:green" if v < 0 else "tab:red" for v in values],
    )
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel("change in cumulative time (ms, after - before)")
    ax.tick_params(axis="y", labelsize=7)
    ax.set_title("Where the time went", fontsize=8, loc="left")
    fig.tight_layout()
    return fig


def profile_section(deltas: list[dict], out_dir: Path, task_id: str) -> str:
    """The task's section for its report (``deltas`` from load_deltas), with its chart written to
    ``<task_id>.profile.png`` beside it ("" and no file when the task has no profile deltas)."""
    if not deltas:
        return ""
    chart = out_dir / f"{task_id}.profile.png"
    chart.parent.mkdir(parents=True, exist_ok=True)
    chart_figure(deltas).savefig(chart)
    return render_section(deltas, chart.name)


def with_profile_deltas(con: duckdb.DuckDBPyConnection, table: pa.Table) -> pa.Table:
    """The export's rows (repo_name, commit_hash) with a `profile_deltas` column (null without profiles)."""
    by_task: dict[tuple[str, str], list[dict]] = {}
    try:
        rows = con.execute(
            """select repo, commit_hash, benchmark, function_label, calls_before, calls_after,
                      cumulative_before, cumulative_after, cumulative_change, share_before, share_after
               from main.fct_task_profile_deltas order by repo, commit_hash, speedup desc, benchmark, change_rank"""
        ).fetchall()
    except duckdb.CatalogException:
        rows = []
    names = [name for name, _ in EXPORT_FIELDS]
    for repo, commit, *values in rows:
        by_task.setdefault((repo, commit), []).append(dict(zip(names, values, strict=True)))
    keys = zip(table.column("repo_name").to_pylist(), table.column("commit_hash").to_pylist(), strict=True)
    column = pa.array([by_task.get(key) for key in keys], type=EXPORT_TYPE)
    return table.append_column("profile_deltas", column)

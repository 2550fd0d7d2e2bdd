"""Replication plots: for each pair of measurement sets and method, the log speed-ups of set A
against set B over the same commit ranges (with the identity line; ranges that are a change point's
own two commits filled, ranges projected onto the commits both sets measured hollow), a Bland-Altman plot, and the
pair's largest change as each set measured it (both series around the change, in the benchmark's
unit, commits by short hash, the change marked, the medians before and after: ingest/series_plot.py)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import duckdb
import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt

from ingest.series_plot import draw_change

PAIRS_SQL = """
select method, a_source, a_machine, b_source, b_machine,
       list(log_speedup_a order by commit_after, benchmark, params) as a,
       list(log_speedup_b order by commit_after, benchmark, params) as b,
       list(exact_range order by commit_after, benchmark, params) as exact
from main.fct_replication_pairs
group by all
order by all
"""


# The pair's largest change (by set A's speed-up) and, for each set, the points of its series there.
TOP_RANGE_SQL = """
select benchmark, params, env_key, commit_before, commit_after, speedup_a, speedup_b
from main.fct_replication_pairs
where method = ? and a_source = ? and a_machine = ? and b_source = ? and b_machine = ?
order by abs(log_speedup_a) desc, benchmark, params, commit_after
limit 1
"""
SET_SERIES_SQL = """
with chosen as (
    select series_id, unit
    from main.dim_series
    where source_name = $source and machine = $machine and benchmark = $benchmark
      and params is not distinct from $params
      and regexp_extract(env_name, '(^|-)py([0-9]+(\\.[0-9]+)*)', 2) = $env_key
      and series_id in (select series_id from main.fct_series_points where commit_hash = $commit)
    order by series_id
    limit 1
)
select points.position, points.commit_hash, points.commit_date, points.value, chosen.unit
from main.fct_series_points as points
join chosen using (series_id)
order by points.position
"""


def _slug(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", "__".join(parts))


def write_plots(con: duckdb.DuckDBPyConnection, folder: Path) -> list[Path]:
    """Two PNGs per (pair, method); returns their paths. No pairs: no files."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for method, a_source, a_machine, b_source, b_machine, a, b, exact in con.execute(PAIRS_SQL).fetchall():
        label_a, label_b = f"{a_source}/{a_machine}", f"{b_source}/{b_machine}"
        name = _slug(method, label_a, label_b)
        written.append(_scatter(folder / f"{name}__scatter.png", a, b, label_a, label_b, method, exact))
        written.append(_bland_altman(folder / f"{name}__bland_altman.png", a, b, label_a, label_b, method))
        sets = ((a_source, a_machine, label_a), (b_source, b_machine, label_b))
        fig = change_figure(con, method, sets)
        if fig is not None:
            fig.savefig(folder / f"{name}__change.png")
            plt.close(fig)
            written.append(folder / f"{name}__change.png")
    return written


def change_figure(con: duckdb.DuckDBPyConnection, method: str, sets):
    """The pair's largest change as each set measured it: one panel per set (``sets``: two
    (source, machine, label)), before saving; None when the pair has no range."""
    top = con.execute(TOP_RANGE_SQL, [method, *sets[0][:2], *sets[1][:2]]).fetchone()
    if top is None:
        return None
    benchmark, params, env_key, _before, after, speedup_a, speedup_b = top
    fig, axes = plt.subplots(2, 1, figsize=(6.5, 6), dpi=100)
    for ax, (source, machine, label), speedup in zip(axes, sets, (speedup_a, speedup_b), strict=True):
        rows = con.execute(
            SET_SERIES_SQL,
            {"source": source, "machine": machine, "benchmark": benchmark, "params": params,
             "env_key": env_key, "commit": after},
        ).fetchall()  # fmt: skip
        unit = rows[0][4] if rows else None
        draw_change(ax, [row[:4] for row in rows], after, unit)
        shown = f"{speedup:,.0f}" if speedup >= 100 else f"{speedup:.3g}"  # 1,420x, not 1.42e+03x
        ax.set_title(f"{label}: speed-up {shown}x over this commit range", fontsize=8, loc="left")
    name = f"{benchmark} ({params or 'no params'})"
    fig.suptitle(f"{method}: {name if len(name) <= 80 else name[:79] + '…'}", fontsize=9)
    fig.tight_layout()
    return fig


def _scatter(path: Path, a, b, label_a, label_b, method, exact=None) -> Path:
    exact = list(exact) if exact is not None else [True] * len(a)
    fig, ax = plt.subplots(figsize=(4.5, 4.5), dpi=100)
    own = [(x, y) for x, y, e in zip(a, b, exact, strict=True) if e]
    projected = [(x, y) for x, y, e in zip(a, b, exact, strict=True) if not e]
    if own:
        ax.scatter(*zip(*own, strict=True), s=12, alpha=0.7, label="change point's own commits")
    if projected:
        ax.scatter(
            *zip(*projected, strict=True),
            s=16,
            facecolors="none",
            edgecolors="C1",
            label="projected onto shared commits",
        )
    low, high = min(min(a), min(b)), max(max(a), max(b))
    ax.plot([low, high], [low, high], color="grey", linewidth=1, label="identity")
    # a ratio of two values in the same unit: no unit of its own
    ax.set_xlabel(f"{label_a}\nlog speed-up, ln(before/after)", fontsize=8)
    ax.set_ylabel(f"{label_b}\nlog speed-up, ln(before/after)", fontsize=8)
    ax.set_title(f"{method}: same commit ranges (n={len(a)}, {len(own)} exact)", fontsize=9)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _bland_altman(path: Path, a, b, label_a, label_b, method) -> Path:
    means = [(x + y) / 2 for x, y in zip(a, b, strict=True)]
    diffs = [x - y for x, y in zip(a, b, strict=True)]
    mean = sum(diffs) / len(diffs)
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1)) if len(diffs) > 1 else 0.0
    fig, ax = plt.subplots(figsize=(5.5, 4), dpi=100)
    ax.scatter(means, diffs, s=12, alpha=0.7)
    for level, style in ((mean, "-"), (mean - 1.96 * sd, "--"), (mean + 1.96 * sd, "--")):
        ax.axhline(level, color="grey", linestyle=style, linewidth=1)
    ax.set_xlabel("mean of the two log speed-ups, ln(before/after)", fontsize=8)
    ax.set_ylabel(f"{label_a}\nminus {label_b}\n(difference of log speed-ups)", fontsize=8)
    ax.set_title(f"{method}: Bland-Altman, mean {mean:.3f}, limits ±{1.96 * sd:.3f}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path

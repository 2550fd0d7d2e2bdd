"""A benchmark series around a change, drawn on a matplotlib axes: the commit report's plot
(dataset/reports.py) and the replication change plots (detection/replication.py) draw the same way.

The values are in the benchmark's unit (asv's ``unit``: seconds and bytes written as µs, MB, ...) on
a log axis; each commit is one slot on x, labelled by its short hash; a dashed red line falls
between the commit before the change and the changing commit; the medians of the shown points
before and after the change are two horizontal segments, each labelled with its value.
"""

from __future__ import annotations

import math

WINDOW = 12  # points either side of the change
_SYMBOLS = {"seconds": "s", "bytes": "B"}


def draw_change(ax, points: list[tuple], commit_hash: str, unit: str | None, window: int = WINDOW) -> None:
    """Draw ``points`` ((position, commit_hash, commit_date, value) in series order) around the point
    of ``commit_hash`` (the middle point when it is not in the series) on ``ax``."""
    from matplotlib.ticker import EngFormatter, FuncFormatter, NullFormatter

    symbol = _SYMBOLS.get(unit or "")
    # 0.000132 s reads as 132 µs; another unit (a track benchmark's own) keeps its numbers
    fmt = EngFormatter(unit=symbol, places=1) if symbol else FuncFormatter(lambda v, _pos: f"{v:.3g}")
    at = next((i for i, p in enumerate(points) if p[1] == commit_hash), len(points) // 2)
    start = max(0, at - window)
    shown = points[start : at + window + 1]
    at -= start  # the changing commit's place in the window
    ys = [_finite(p[3]) for p in shown]
    ax.plot(range(len(shown)), ys, marker="o", markersize=3, linewidth=1, color="tab:blue")
    ax.axvline(at - 0.5, color="tab:red", linestyle="--", linewidth=1, label=f"change at {commit_hash[:8]}")
    for lo, hi, name, color in ((0, at, "before", "tab:orange"), (at, len(shown), "after", "tab:green")):
        values = [y for y in ys[lo:hi] if y is not None]
        if values:
            middle = _median(values)
            text = fmt(middle) if unit is None or symbol else f"{fmt(middle)} {unit}"
            ax.hlines(middle, lo - 0.4, hi - 0.6, colors=color, linewidth=2, label=f"median {name}: {text}")
    if any(y is not None and y > 0 for y in ys):
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(fmt)
        finite = [y for y in ys if y is not None and y > 0]
        # within a decade a log axis has no major tick to label: label the minor ones instead
        ax.yaxis.set_minor_formatter(fmt if max(finite) / min(finite) < 10 else NullFormatter())
        scale = "log scale"
    else:  # nothing positive (a track benchmark can be): a linear axis
        ax.yaxis.set_major_formatter(fmt)
        scale = "linear"
    step = max(1, math.ceil(len(shown) / 8))  # about eight labels at most, the changing commit among them
    ticks = sorted({*range(at % step, len(shown), step), at})
    ax.set_xticks(ticks, [shown[i][1][:8] if shown[i][1] else "?" for i in ticks], rotation=45,
                  ha="right", fontsize=7, family="monospace")  # fmt: skip
    ax.set_xlabel("commit (short hash, oldest to newest)", fontsize=8)
    ax.set_ylabel(f"{unit or 'value, unit unknown'} ({scale})", fontsize=8)
    ax.tick_params(axis="y", which="both", labelsize=7)
    ax.legend(fontsize=7)


def _finite(value) -> float | None:
    """A value the plot can place (failed or skipped points, null or NaN, are left out)."""
    return float(value) if value is not None and math.isfinite(value) else None


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    half = len(ordered) // 2
    return ordered[half] if len(ordered) % 2 else (ordered[half - 1] + ordered[half]) / 2

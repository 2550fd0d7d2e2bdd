"""Replication plots: for each pair of measurement sets and method, the log speed-ups of set A
against set B over the same commit ranges (with the identity line), and a Bland-Altman plot."""

from __future__ import annotations

import math
import re
from pathlib import Path

import duckdb
import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt

PAIRS_SQL = """
select method, a_source, a_machine, b_source, b_machine,
       list(log_speedup_a order by commit_after, benchmark, params) as a,
       list(log_speedup_b order by commit_after, benchmark, params) as b
from main.fct_replication_pairs
group by all
order by all
"""


def _slug(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", "__".join(parts))


def write_plots(con: duckdb.DuckDBPyConnection, folder: Path) -> list[Path]:
    """Two PNGs per (pair, method); returns their paths. No pairs: no files."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for method, a_source, a_machine, b_source, b_machine, a, b in con.execute(PAIRS_SQL).fetchall():
        label_a, label_b = f"{a_source}/{a_machine}", f"{b_source}/{b_machine}"
        name = _slug(method, label_a, label_b)
        written.append(_scatter(folder / f"{name}__scatter.png", a, b, label_a, label_b, method))
        written.append(_bland_altman(folder / f"{name}__bland_altman.png", a, b, label_a, label_b, method))
    return written


def _scatter(path: Path, a, b, label_a, label_b, method) -> Path:
    fig, ax = plt.subplots(figsize=(4.5, 4.5), dpi=100)
    ax.scatter(a, b, s=12, alpha=0.7)
    low, high = min(min(a), min(b)), max(max(a), max(b))
    ax.plot([low, high], [low, high], color="grey", linewidth=1, label="identity")
    ax.set_xlabel(f"log speed-up, {label_a}")
    ax.set_ylabel(f"log speed-up, {label_b}")
    ax.set_title(f"{method}: same commit ranges (n={len(a)})", fontsize=9)
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
    ax.set_xlabel("mean of the two log speed-ups")
    ax.set_ylabel(f"{label_a} - {label_b}")
    ax.set_title(f"{method}: Bland-Altman, mean {mean:.3f}, limits ±{1.96 * sd:.3f}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path

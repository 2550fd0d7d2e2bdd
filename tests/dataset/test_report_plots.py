"""The commit-report figure read back before saving (dataset/reports.py series_figure): the unit on the
value axis, commits by short hash on x, the change point marked, the medians before and after drawn.
The series is a real one: a django dashboard graph with its commits from the dashboard's index.json."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import matplotlib.image
import pytest
from matplotlib.collections import LineCollection

from dataset.reports import PLOT_WINDOW, plot_series, series_figure
from tests.support.common import fixture_path

SITE = fixture_path("dashboards", "django")
GRAPH = "graphs/branch-main/machine-ubuntu-latest/python-3.11/form_benchmarks.form_create.benchmark.FormCreate.time_form_create.json"
BENCHMARK = "form_benchmarks.form_create.benchmark.FormCreate.time_form_create"


@pytest.fixture(scope="module")
def series():
    """(position, commit_hash, commit_date, value) of the real series, and its unit from index.json."""
    index = json.loads((SITE / "index.json").read_text())
    graph = json.loads((SITE / GRAPH).read_text())
    points = [
        (position, index["revision_to_hash"][str(revision)], index["revision_to_date"][str(revision)], value)
        for position, (revision, value) in enumerate(graph)
    ]
    assert len(points) > 2 * PLOT_WINDOW + 1
    return points, index["benchmarks"][BENCHMARK]["unit"]


def test_the_report_figure_has_the_unit_commits_the_change_and_both_medians(series):
    points, unit = series
    at = len(points) // 2
    sha = points[at][1]
    fig = series_figure(points, sha, BENCHMARK, unit)
    ax = fig.axes[0]
    shown = points[at - PLOT_WINDOW : at + PLOT_WINDOW + 1]

    assert unit == "seconds" and unit in ax.get_ylabel()
    assert "commit" in ax.get_xlabel() and "position" not in ax.get_xlabel()
    labels = [t.get_text() for t in ax.get_xticklabels()]
    hashes = {p[1][:8] for p in shown}
    assert len(labels) >= 4 and set(labels) <= hashes and sha[:8] in labels
    # the tick of each label sits on its own commit
    for tick, label in zip(ax.get_xticks(), labels, strict=True):
        assert shown[int(tick)][1][:8] == label

    vertical = [
        line for line in ax.get_lines() if len(set(line.get_xdata())) == 1 and len(line.get_xdata()) == 2
    ]
    assert [line.get_xdata()[0] for line in vertical] == [PLOT_WINDOW - 0.5]  # between before and after
    assert sha[:8] in vertical[0].get_label()

    segments = [seg for c in ax.collections if isinstance(c, LineCollection) for seg in c.get_segments()]
    assert len(segments) == 2
    (before, after) = sorted(segments, key=lambda s: s[0][0])
    assert before[0][1] == before[1][1] == pytest.approx(statistics.median(p[3] for p in shown[:PLOT_WINDOW]))
    assert after[0][1] == after[1][1] == pytest.approx(statistics.median(p[3] for p in shown[PLOT_WINDOW:]))
    assert before[1][0] < PLOT_WINDOW - 0.5 < after[0][0]  # each on its own side of the change
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    # the medians as the axis writes them: seconds in engineering units (131.8 µs), not 0.000132
    assert any(t.startswith("median before: ") and t.endswith(" µs") for t in legend), legend
    assert all(t.get_text().endswith(" µs") for t in ax.yaxis.get_ticklabels(minor=True) if t.get_text())


def test_failed_points_are_left_out_of_the_medians_and_a_missing_unit_is_said(series):
    points, _unit = series
    at = len(points) // 2
    mutated = [(p, h, d, None if i == at - 1 else v) for i, (p, h, d, v) in enumerate(points)]
    fig = series_figure(mutated, points[at][1], BENCHMARK, None)
    ax = fig.axes[0]
    assert "unit unknown" in ax.get_ylabel()
    shown = [p[3] for p in mutated[at - PLOT_WINDOW : at] if p[3] is not None]
    segments = sorted(
        (seg for c in ax.collections if isinstance(c, LineCollection) for seg in c.get_segments()),
        key=lambda s: s[0][0],
    )
    assert segments[0][0][1] == pytest.approx(statistics.median(shown))


def test_the_saved_plot_is_a_png_of_that_figure(series, tmp_path):
    points, unit = series
    path = plot_series(points, points[len(points) // 2][1], BENCHMARK, tmp_path / "plot.png", unit)
    assert path == tmp_path / "plot.png"
    assert matplotlib.image.imread(Path(path)).shape[:2] == (300, 600)
    assert plot_series([], "0" * 40, BENCHMARK, tmp_path / "none.png", unit) is None

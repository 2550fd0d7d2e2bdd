"""The replication plots read back before saving (detection/replication.py): the pair's largest change
as each set measured it, in the unit, commits by short hash, the change marked, both medians drawn.

The warehouse is the three tables the plots read, filled with real series: one django dashboard's
graphs of the same benchmarks on two machines (python 3.10), with their commits from its index.json;
the commit ranges are real commits of both series and their speed-ups are computed from those values."""

from __future__ import annotations

import json
import math
import statistics

import duckdb
import matplotlib.pyplot as plt
import pytest
from matplotlib.collections import LineCollection

from detection.replication import change_figure, write_plots
from ingest.series_plot import WINDOW
from tests.support.common import fixture_path

SITE = fixture_path("dashboards", "django")
MACHINES = ("ubuntu-22.04", "macos-12")
BENCHMARKS = (
    "form_benchmarks.form_create.benchmark.FormCreate.time_form_create",
    "model_benchmarks.model_save_new.benchmark.SaveNew.time_save_new",
)


@pytest.fixture
def warehouse(tmp_path):
    index = json.loads((SITE / "index.json").read_text())
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    con.execute(
        """create table main.dim_series (series_id varchar, source_name varchar, machine varchar,
               env_name varchar, benchmark varchar, params varchar, unit varchar);
           create table main.fct_series_points (series_id varchar, position integer, commit_hash varchar,
               commit_date timestamp, value double);
           create table main.fct_replication_pairs (repo varchar, method varchar, a_source varchar,
               a_machine varchar, b_source varchar, b_machine varchar, benchmark varchar, params varchar,
               env_key varchar, commit_before varchar, commit_after varchar, speedup_a double,
               speedup_b double, log_speedup_a double, log_speedup_b double, exact_range boolean)"""
    )
    values: dict[tuple[str, str], dict[str, float]] = {}
    order: dict[tuple[str, str], list[str]] = {}
    for machine in MACHINES:
        for benchmark in BENCHMARKS:
            graph = json.loads(
                (
                    SITE
                    / "graphs"
                    / "branch-main"
                    / f"machine-{machine}"
                    / "python-3.10"
                    / f"{benchmark}.json"
                ).read_text()
            )
            series_id = f"django-dashboard/{machine}/{benchmark}"
            unit = index["benchmarks"][benchmark]["unit"]
            con.execute(
                "insert into main.dim_series values (?, 'django-dashboard', ?, 'py3.10', ?, null, ?)",
                [series_id, machine, benchmark, unit],
            )
            rows = [
                [
                    series_id,
                    i,
                    index["revision_to_hash"][str(rev)],
                    index["revision_to_date"][str(rev)] / 1000,
                    value,
                ]
                for i, (rev, value) in enumerate(graph)
            ]
            con.executemany("insert into main.fct_series_points values (?, ?, ?, to_timestamp(?), ?)", rows)
            values[machine, benchmark] = {r[2]: r[4] for r in rows if r[4] is not None}
            order[machine, benchmark] = [r[2] for r in rows]
    ranges = []
    for benchmark in BENCHMARKS:
        # a range both machines measured: two consecutive commits of set A's series found in set B's
        a, b = values[MACHINES[0], benchmark], values[MACHINES[1], benchmark]
        common = [c for c in order[MACHINES[0], benchmark] if c in a and c in b]
        before, after = common[len(common) // 2 - 1], common[len(common) // 2]
        sa, sb = a[before] / a[after], b[before] / b[after]
        ranges.append([benchmark, before, after, sa, sb])
        # exact: adjacent in set A's own series (a change point there would have these two commits)
        own_a = [c for c in order[MACHINES[0], benchmark] if c in a]
        exact = own_a.index(after) - own_a.index(before) == 1
        con.execute(
            "insert into main.fct_replication_pairs values ('django/django', 'asv', 'django-dashboard', ?,"
            " 'django-dashboard', ?, ?, null, '3.10', ?, ?, ?, ?, ln(?), ln(?), ?)",
            [*MACHINES, benchmark, before, after, sa, sb, sa, sb, exact],
        )
    yield con, ranges, order
    con.close()


def _segments(ax):
    return sorted(
        (seg for c in ax.collections if isinstance(c, LineCollection) for seg in c.get_segments()),
        key=lambda s: s[0][0],
    )


def test_the_change_figure_shows_each_sets_series_around_the_largest_change(warehouse):
    con, ranges, order = warehouse
    top = max(ranges, key=lambda r: abs(math.log(r[3])))
    benchmark, _before, after = top[:3]
    sets = tuple(("django-dashboard", m, f"django-dashboard/{m}") for m in MACHINES)
    fig = change_figure(con, "asv", sets)
    try:
        assert benchmark in fig._suptitle.get_text()
        assert len(fig.axes) == 2
        for ax, machine in zip(fig.axes, MACHINES, strict=True):
            assert machine in ax.get_title(loc="left")
            assert "seconds" in ax.get_ylabel()
            assert "commit" in ax.get_xlabel()
            commits = order[machine, benchmark]
            at = commits.index(after)
            shown = commits[max(0, at - WINDOW) : at + WINDOW + 1]
            labels = [t.get_text() for t in ax.get_xticklabels()]
            assert after[:8] in labels
            for tick, label in zip(ax.get_xticks(), labels, strict=True):
                assert shown[int(tick)][:8] == label  # each label on its own commit
            vertical = [
                ln for ln in ax.get_lines() if len(ln.get_xdata()) == 2 and len(set(ln.get_xdata())) == 1
            ]
            assert [ln.get_xdata()[0] for ln in vertical] == [min(at, WINDOW) - 0.5]
            values = dict(
                con.execute(
                    """select commit_hash, value from main.fct_series_points
                       where series_id = ? and value is not null""",
                    [f"django-dashboard/{machine}/{benchmark}"],
                ).fetchall()
            )
            split = min(at, WINDOW)
            before_values = [values[c] for c in shown[:split] if c in values]
            after_values = [values[c] for c in shown[split:] if c in values]
            segments = _segments(ax)
            assert len(segments) == 2
            assert segments[0][0][1] == pytest.approx(statistics.median(before_values))
            assert segments[1][0][1] == pytest.approx(statistics.median(after_values))
    finally:
        plt.close(fig)


def test_write_plots_adds_the_change_png_and_the_ratio_axes_say_they_have_no_unit(
    warehouse, tmp_path, monkeypatch
):
    con, _ranges, _order = warehouse
    labels: list[tuple[str, str]] = []
    titles: list[str] = []
    legends: list[list[str]] = []
    real_savefig = plt.Figure.savefig

    def record(fig, path, *args, **kwargs):
        labels.extend((ax.get_xlabel(), ax.get_ylabel()) for ax in fig.axes)
        titles.extend(ax.get_title() for ax in fig.axes)
        legends.extend(
            [t.get_text() for t in ax.get_legend().get_texts()] if ax.get_legend() else [] for ax in fig.axes
        )
        return real_savefig(fig, path, *args, **kwargs)

    monkeypatch.setattr(plt.Figure, "savefig", record)
    written = write_plots(con, tmp_path / "replication")
    assert sorted(p.name.rsplit("__", 1)[1] for p in written) == [
        "bland_altman.png",
        "change.png",
        "scatter.png",
    ]
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in written)
    scatter_x, scatter_y = labels[0]
    assert "ln(before/after)" in scatter_x and "ln(before/after)" in scatter_y
    # the scatter tells the ranges of a change point's own commits from the projected ones
    n_exact = con.execute(
        "select count(*) filter (where exact_range) from main.fct_replication_pairs"
    ).fetchone()[0]
    assert titles[0].endswith(f"(n={len(_ranges)}, {n_exact} exact)")
    expected = {"identity"}
    if n_exact:
        expected.add("change point's own commits")
    if n_exact < len(_ranges):
        expected.add("projected onto shared commits")
    assert set(legends[0]) == expected
    assert "ln(before/after)" in labels[1][0]

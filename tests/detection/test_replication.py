"""Replication: the SQL correlations equal scipy's on the same pairs; no shared data, no rows."""

from __future__ import annotations

import math

import duckdb
import pytest
from scipy import stats

from tests.support.common import fixture_path, materialize, write_sources


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    folder = tmp_path_factory.mktemp("replication")
    sources = write_sources(
        folder,
        {
            "django-results": fixture_path("results", "django"),
            "sympy-results": fixture_path("results", "sympy-v1"),
        },
        {
            "django-results": "django/django",
            "sympy-results": "sympy/sympy",
            "django-dashboard": "django/django",
        },
        dashboards={"django-dashboard": fixture_path("dashboards", "django")},
    )
    db = folder / "warehouse.duckdb"
    assert materialize(sources, db) == 0
    con = duckdb.connect(str(db), read_only=True)
    yield con, folder
    con.close()


def test_sql_correlations_equal_scipy_on_the_same_pairs(warehouse):
    con, _ = warehouse
    groups = con.execute(
        """select method, a_source, a_machine, b_source, b_machine,
                  list(log_speedup_a), list(log_speedup_b), list(speedup_a), list(speedup_b)
           from main.fct_replication_pairs group by all"""
    ).fetchall()
    assert len(groups) >= 4
    checked = 0
    for method, a_source, a_machine, b_source, b_machine, log_a, log_b, raw_a, raw_b in groups:
        (pearson, spearman, mean, sd) = con.execute(
            """select pearson_log_speedup, spearman_speedup, bland_altman_mean, bland_altman_sd
               from fct_replication where method = ? and a_source = ? and a_machine = ? and b_source = ?
                 and b_machine = ?""",
            [method, a_source, a_machine, b_source, b_machine],
        ).fetchone()
        if len(log_a) < 3 or len(set(log_a)) < 2 or len(set(log_b)) < 2:
            continue  # a correlation needs spread on both sides
        assert math.isclose(pearson, stats.pearsonr(log_a, log_b).statistic, abs_tol=1e-9)
        assert math.isclose(spearman, stats.spearmanr(raw_a, raw_b).statistic, abs_tol=1e-9)
        diffs = [x - y for x, y in zip(log_a, log_b, strict=True)]
        assert math.isclose(mean, sum(diffs) / len(diffs), abs_tol=1e-12)
        assert math.isclose(sd, stats.tstd(diffs), abs_tol=1e-9)
        checked += 1
    assert checked >= 4


def test_the_same_runs_published_and_raw_agree_exactly(warehouse):
    """A dashboard and the raw results it was published from: identical values, correlation 1."""
    con, _ = warehouse
    rows = con.execute(
        """select pearson_log_speedup, bland_altman_mean, bland_altman_sd from fct_replication
           where a_source = 'django-dashboard' and b_source = 'django-results' and a_machine = b_machine
             and n_change_points >= 3"""
    ).fetchall()
    assert rows
    for pearson, mean, sd in rows:
        assert pearson == pytest.approx(1.0, abs=1e-12)
        assert mean == pytest.approx(0.0, abs=1e-12) and sd == pytest.approx(0.0, abs=1e-12)


def test_a_repository_without_a_second_set_gives_no_rows_and_plots_say_so(warehouse):
    con, folder = warehouse
    assert con.execute(
        "select count(*) from main.fct_replication_set_pairs where repo = 'sympy/sympy'"
    ).fetchone() == (0,)
    assert con.execute("select count(*) from fct_replication where repo = 'sympy/sympy'").fetchone() == (0,)
    plots = sorted((folder / "replication").glob("*.png"))
    assert plots and not any("sympy" in p.name for p in plots)

"""Dashboards through the warehouse: published points agree with the raw results they came from."""

from __future__ import annotations

import duckdb
import pytest

# A results env is `<tool>-py<X.Y>[-reqs]`; a dashboard does not record the tool.
PAIRS_SQL = """
with res as (select * from fct_measurements where source_name = $results),
     dash as (select * from fct_measurements where source_name = $dashboard)
select res.status, dash.status, count(*) as pairs, count(*) filter (where res.value = dash.value) as equal
from res
join dash
  on res.machine = dash.machine
 and res.benchmark = dash.benchmark
 and res.params = dash.params
 and res.commit_hash = dash.commit_hash
 and regexp_replace(res.env_name, '^[^-]+-', '') = dash.env_name
group by all
order by all
"""


@pytest.fixture(scope="module")
def warehouse(real_results_warehouse):
    """The session's real-results warehouse: results/django and results/numpy beside the dashboards asv
    published from them (dashboards/django as `django-dashboard`, dashboards/numpy-trimmed as
    `numpy-dashboard`; tests/support/common.py), through `fct_measurements`."""
    con = duckdb.connect(str(real_results_warehouse), read_only=True)
    yield con
    con.close()


def test_django_dashboard_equals_its_raw_results_on_every_shared_point(warehouse):
    by_status = {
        (r, d): (pairs, equal)
        for r, d, pairs, equal in warehouse.execute(
            PAIRS_SQL, {"results": "django", "dashboard": "django-dashboard"}
        ).fetchall()
    }
    # The fixtures' own cross-check: 29,742 shared points, every one equal (numbers and failures).
    assert sum(pairs for pairs, _ in by_status.values()) == 29_742
    assert set(by_status) == {("ok", "ok"), ("failed", "failed")}
    pairs, equal = by_status[("ok", "ok")]
    assert equal == pairs


def test_numpy_dashboard_agrees_with_its_raw_results_once_params_are_matched_by_name(warehouse):
    """asv publish re-maps old rows onto the current grid; matching on the params text (not the
    position in the vector) lines them up, so every measured pair is equal. Skipped (NaN) results are
    published as null, because published graphs never hold NaN."""
    rows = warehouse.execute(PAIRS_SQL, {"results": "numpy", "dashboard": "numpy-dashboard"}).fetchall()
    by_status = {(r, d): (pairs, equal) for r, d, pairs, equal in rows}
    pairs, equal = by_status[("ok", "ok")]
    assert pairs > 50_000 and equal == pairs
    assert set(by_status) <= {("ok", "ok"), ("failed", "failed"), ("skipped", "failed")}


def test_dashboard_points_carry_revisions_commits_and_regressions(warehouse):
    missing = warehouse.execute(
        """select count(*) filter (where commit_hash is null), count(*) filter (where revision is null),
                  count(*) filter (where params is null), count(*)
           from fct_measurements where source_kind = 'dashboard'"""
    ).fetchone()
    assert missing[:3] == (0, 0, 0) and missing[3] > 190_000
    regressions = warehouse.execute(
        "select count(*), count(revision_after) from staging.stg_dashboards__regressions"
    ).fetchone()
    assert regressions[0] > 0 and regressions[0] == regressions[1]

"""Replication across samplings: one set of runs measured twice, once as raw results and once as a
dashboard published from a subset of the same commits (issue 18, item 2).

The sets are real: `results/django` (its ubuntu-latest result files, six Python environments) and
`dashboards/django`, which holds every point of those raw results with the same values (fixtures
README). The dashboard is a copy in tmp_path reduced to that machine (index.json's graph_param_list)
whose graphs keep only every other commit of the raw results (in branch order): a dashboard published
from half of them. Detection finds
the dashboard's change points between commits it measured and the raw results' between theirs, so
most raw ranges have an end the dashboard never measured: compared only over shared commits, the
dashboard's improvements are all comparable but the raw results' mostly not; projected onto the
commits both measured, both are."""

from __future__ import annotations

import json
import shutil

import duckdb
import pytest

from tests.support.common import fixture_path, materialize, write_sources

MACHINE = "ubuntu-latest"


def _raw_subset(tmp_path):
    """results/django with only the ubuntu-latest result files (copied untouched)."""
    source = fixture_path("results", "django")
    target = tmp_path / "results-django"
    (target / "results" / MACHINE).mkdir(parents=True)
    shutil.copy(source / "asv.conf.json", target / "asv.conf.json")
    shutil.copy(source / "results" / "benchmarks.json", target / "results" / "benchmarks.json")
    shutil.copy(source / "results" / MACHINE / "machine.json", target / "results" / MACHINE / "machine.json")
    commits = {}
    for file in sorted((source / "results" / MACHINE).glob("*-*.json")):
        shutil.copy(file, target / "results" / MACHINE / file.name)
        document = json.loads(file.read_text())
        commits[document["commit_hash"]] = document["date"]
    return target, commits


def _published_half(tmp_path, raw_commits: dict[str, int]):
    """dashboards/django for ubuntu-latest, its graphs keeping every other raw commit."""
    site = fixture_path("dashboards", "django")
    target = tmp_path / "dashboard-django"
    target.mkdir()
    index = json.loads((site / "index.json").read_text())
    index["graph_param_list"] = [
        params for params in index["graph_param_list"] if params["machine"] == MACHINE
    ]
    assert len(index["graph_param_list"]) >= 5
    (target / "index.json").write_text(json.dumps(index))
    shutil.copy(site / "info.json", target / "info.json")
    hash_to_revision = {commit: int(rev) for rev, commit in index["revision_to_hash"].items()}
    ordered = sorted(raw_commits, key=lambda commit: hash_to_revision[commit])
    kept = {hash_to_revision[commit] for commit in ordered[::2]}
    for graph in (site / "graphs" / "branch-main" / f"machine-{MACHINE}").glob("*/*.json"):
        out = target / "graphs" / "branch-main" / f"machine-{MACHINE}" / graph.parent.name
        out.mkdir(parents=True, exist_ok=True)
        if graph.name == "summary.json":  # the config's summary (a list of dicts), copied as published
            shutil.copy(graph, out / graph.name)
            continue
        points = json.loads(graph.read_text())
        (out / graph.name).write_text(json.dumps([point for point in points if point[0] in kept]))
    return target, len(kept), len(ordered)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    folder = tmp_path_factory.mktemp("replication-subset")
    raw, raw_commits = _raw_subset(folder)
    dashboard, n_kept, n_raw = _published_half(folder, raw_commits)
    assert n_raw >= 100 and n_kept * 2 >= n_raw
    sources = write_sources(
        folder,
        {"raw": raw},
        {"raw": "django/django", "published": "django/django"},
        dashboards={"published": dashboard},
    )
    db = folder / "warehouse.duckdb"
    assert materialize(sources, db) == 0
    con = duckdb.connect(str(db), read_only=True)
    yield con
    con.close()


def _figures(con, method):
    return con.execute(
        """select a_source, coverage_a, coverage_b, n_improvements_found_a, n_improvements_found_b,
                  pearson_log_speedup, sign_agreement, n_change_points, n_change_points_exact
           from main.fct_replication where method = ? and a_source is not null""",
        [method],
    ).fetchall()


@pytest.mark.slow
@pytest.mark.parametrize("method", ["rbf", "asv"])
def test_a_dashboard_published_from_half_the_raw_results_replicates(warehouse, method):
    con = warehouse
    rows = _figures(con, method)
    assert len(rows) == 1, rows
    a_source, coverage_a, coverage_b, found_a, found_b, pearson, sign, n_ranges, n_exact = rows[0]
    assert a_source == "published"  # 'published' < 'raw'
    assert found_a >= 2 and found_b >= 5  # measured: rbf 11 and 10, asv 2 and 9
    # the dashboard's improvements: >= 90% compared, same numbers, same direction
    assert coverage_a >= 0.9
    assert pearson >= 0.99
    assert sign == 1.0
    # the raw results' improvements are compared too, over the narrowest range both measured: more
    # than over the ranges whose own two commits the dashboard measured
    (exact_b,) = con.execute(
        """select count(*) from main.fct_replication_projections
           where method = ? and found_in = 'b' and direction = 'improvement' and exact_range and reason is null""",
        [method],
    ).fetchone()
    assert coverage_b * found_b > exact_b  # measured: 8 of 10 (rbf) and 8 of 9 (asv), against 0 and 0
    assert n_ranges > n_exact


@pytest.mark.slow
def test_every_improvement_is_compared_or_has_a_reason(warehouse):
    con = warehouse
    (found,) = con.execute(
        "select count(*) from main.fct_replication_projections where direction = 'improvement'"
    ).fetchone()
    by_outcome = dict(
        con.execute(
            "select outcome, sum(n_improvements) from main.fct_replication_coverage group by outcome"
        ).fetchall()
    )
    assert sum(by_outcome.values()) == found > 0
    assert set(by_outcome) <= {
        "compared", "no_matching_series", "no_shared_commit_before", "no_shared_commit_after",
        "order_differs", "another_change_in_range", "nonpositive_value",
    }  # fmt: skip
    # compared only over ranges whose two commits both sets measured (before projection), most of the
    # raw results' improvements could not be
    (exact_raw, all_raw) = con.execute(
        """select count(*) filter (where exact_range and reason is null), count(*)
           from main.fct_replication_projections where direction = 'improvement' and found_in = 'b'"""
    ).fetchone()
    assert exact_raw < 0.6 * all_raw

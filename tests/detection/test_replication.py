"""Replication: the SQL correlations equal scipy's on the same pairs; no shared data, no rows."""

from __future__ import annotations

import json
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


def test_exact_ranges_are_the_ranges_both_sets_measured_and_projection_only_adds(warehouse):
    """The `exact_range` rows are the change points whose own two commits the other set measured: the
    ranges compared before projection. Projection adds ranges and never changes an exact one's
    speed-ups, which are read at the same commits of the same series."""
    con, _ = warehouse
    pairs = con.execute(
        """select method, a_source, a_machine, b_source, b_machine, benchmark, params, env_key,
                  commit_before, commit_after, speedup_a, speedup_b, exact_range
           from main.fct_replication_pairs"""
    ).fetchall()
    exact = [row for row in pairs if row[-1]]
    assert exact and len(pairs) > len(exact)
    # exact: both sets have a point at both ends, and the speed-up is the ratio of those points
    for row in exact[:50]:
        method, a_source, a_machine, b_source, b_machine, benchmark, params, env_key, before, after = row[:10]
        for source, machine, speedup in ((a_source, a_machine, row[10]), (b_source, b_machine, row[11])):
            values = dict(
                con.execute(
                    """select p.commit_hash, p.value from main.fct_series_points p join main.dim_series s using (series_id)
                       where s.source_name = ? and s.machine = ? and s.benchmark = ? and s.params is not distinct from ?
                         and regexp_extract(s.env_name, '(^|-)py([0-9]+(\\.[0-9]+)*)', 2) = ?
                         and p.commit_hash in (?, ?)""",
                    [source, machine, benchmark, params, env_key, before, after],
                ).fetchall()
            )
            assert set(values) == {before, after}, (method, source, machine, benchmark)
            assert speedup == pytest.approx(values[before] / values[after], rel=1e-12)
    # the figures over the exact ranges alone are the pair's exact_range rows
    for method, a_source, a_machine, b_source, b_machine, n_exact in con.execute(
        """select method, a_source, a_machine, b_source, b_machine, n_change_points_exact
           from main.fct_replication where a_source is not null"""
    ).fetchall():
        assert n_exact == sum(
            1 for row in exact if row[:5] == (method, a_source, a_machine, b_source, b_machine)
        )


def test_every_improvement_of_each_set_is_compared_or_has_a_reason(warehouse):
    con, _ = warehouse
    improvements = dict(
        con.execute(
            """select source_name || '/' || machine, count(*) from main.fct_performance_improvements
               where repo = 'django/django' group by all"""
        ).fetchall()
    )
    rows = con.execute(
        """select a_source, a_machine, b_source, b_machine, method, improvement_of, outcome, n_improvements
           from main.fct_replication_coverage"""
    ).fetchall()
    assert {row[6] for row in rows} >= {"compared", "no_shared_commit_before"}
    per_set: dict[tuple, int] = {}
    for a_source, a_machine, b_source, b_machine, method, of, _outcome, n in rows:
        key = (a_source, a_machine, b_source, b_machine, method, of)
        per_set[key] = per_set.get(key, 0) + n
    # each set's improvements appear once per pair it is in, with one outcome each
    for (a_source, a_machine, b_source, b_machine, method, of), n in per_set.items():
        source, machine = (a_source, a_machine) if of == "a" else (b_source, b_machine)
        (expected,) = con.execute(
            """select count(*) from main.fct_performance_improvements
               where source_name = ? and machine = ? and method = ?""",
            [source, machine, method],
        ).fetchone()
        assert n == expected, (source, machine, method, of)
    assert improvements
    # the pair's coverage columns are the same counts
    for a_source, a_machine, b_source, b_machine, method, found_a, compared_a, coverage_a in con.execute(
        """select a_source, a_machine, b_source, b_machine, method, n_improvements_found_a,
                  n_improvements_compared_a, coverage_a
           from main.fct_replication where a_source is not null and n_improvements_found_a > 0"""
    ).fetchall():
        compared = sum(
            row[7] for row in rows
            if row[:5] == (a_source, a_machine, b_source, b_machine, method) and row[5] == "a" and row[6] == "compared"
        )  # fmt: skip
        assert compared == compared_a and coverage_a == pytest.approx(compared / found_a)


def test_ci_separation_is_asvs_own_test_on_the_recorded_intervals(warehouse):
    """`ci_separated` (fct_improvement_evidence) against asv._stats.is_different without samples: the
    99% CIs asv recorded at the two commits do not overlap."""
    from asv._stats import is_different

    con, _ = warehouse
    rows = con.execute(
        """select e.ci_separated, b.ci_99_a, b.ci_99_b, a.ci_99_a, a.ci_99_b
           from main.fct_improvement_evidence e
           join main.fct_series_points b on (b.series_id, b.commit_hash) = (e.series_id, e.commit_before)
           join main.fct_series_points a on (a.series_id, a.commit_hash) = (e.series_id, e.commit_after)
           where e.source_kind = 'results' and b.ci_99_a is not null and a.ci_99_a is not null"""
    ).fetchall()
    assert len(rows) >= 10
    outcomes = set()
    for separated, before_lo, before_hi, after_lo, after_hi in rows:
        expected = is_different(
            None,
            None,
            {"ci_99_a": before_lo, "ci_99_b": before_hi},
            {"ci_99_a": after_lo, "ci_99_b": after_hi},
        )
        assert separated == bool(expected)
        outcomes.add(separated)
    assert outcomes == {True, False}
    # dashboards record no intervals: never ci_separated
    assert con.execute(
        "select count(*) from main.fct_improvement_evidence where source_kind = 'dashboard' and ci_separated"
    ).fetchone() == (0,)


def test_a_task_keeps_the_finding_with_the_strongest_evidence_and_says_how_strong(warehouse):
    """Of the findings of one workload (repo, commit, machine, benchmark, params), fct_task_workloads
    keeps the strongest evidence (replicated > ci_separated > segments), then the larger speed-up;
    fct_tasks' confidence is its workloads' strongest."""
    con, _ = warehouse
    rank = {"replicated": 3, "ci_separated": 2, "segments": 1}
    findings: dict[tuple, list] = {}
    for *key, evidence, speedup, change_point_id in con.execute(
        """select repo, commit_after, machine, benchmark, params, evidence, speedup, change_point_id
           from main.fct_improvement_evidence where repo is not null"""
    ).fetchall():
        findings.setdefault(tuple(key), []).append((rank[evidence], speedup, change_point_id))
    kept = {
        (repo, commit, machine, benchmark, params): change_point_id
        for repo, commit, machine, benchmark, params, change_point_id in con.execute(
            "select repo, commit_hash, machine, benchmark, params, change_point_id from main.fct_task_workloads"
        ).fetchall()
    }
    assert set(kept) == set(findings)
    contested = 0
    for key, candidates in findings.items():
        best = max(candidates, key=lambda c: (c[0], c[1]))
        chosen = next(c for c in candidates if c[2] == kept[key])
        assert chosen[:2] == best[:2], key
        contested += len({c[0] for c in candidates}) > 1
    assert contested >= 1  # some workload was found with different strengths of evidence
    tasks = con.execute(
        "select confidence, list(w.evidence) from main.fct_tasks, unnest(workloads) as u(w) group by commit_task_id, confidence"
    ).fetchall()
    assert {confidence for confidence, _ in tasks} >= {"replicated", "segments"}
    for confidence, evidences in tasks:
        assert rank[confidence] == max(rank[e] for e in evidences)


def test_the_export_carries_each_tasks_confidence(warehouse, tmp_path):
    import pyarrow.parquet as pq

    from dataset.export import export_dataset

    con, _ = warehouse
    export_dataset(con, tmp_path / "dataset")
    exported = pq.read_table(tmp_path / "dataset" / "tasks.parquet").to_pylist()
    expected = dict(con.execute("select commit_hash, confidence from main.fct_tasks").fetchall())
    assert exported and {row["commit_hash"]: row["confidence"] for row in exported} == expected
    lines = (tmp_path / "dataset" / "tasks.jsonl").read_text().splitlines()
    assert {json.loads(line)["confidence"] for line in lines} == set(expected.values())

"""Oracle test: the django rows of ``fct_measurements`` agree with the dashboard asv itself published.

The oracle is ``dashboards/django`` (what ``asv publish`` wrote from the same results), read as plain JSON here,
nothing of ours. The fixtures README states that it contains every point of ``results/django``: "all revisions
match and all 29,742 overlapping values are equal".

How a warehouse row is matched to a dashboard point (derived from the files, and checked below):

* A dashboard series is one entry of ``index.json``'s ``graph_param_list`` -- here ``{machine, python, branch}`` --
  and one benchmark; it lives at ``graphs/<k-v parts sorted as strings>/<benchmark>.json`` and holds
  ``[[revision, value], ...]``; ``revision_to_hash`` turns the revision into the commit hash.
* ``asv publish`` builds those keys from each result file's ``params`` (``{"machine": ..., "python": ...}`` in
  every django file: no requirements, no env vars) plus the branch. The environment *tool* (conda on
  ubuntu-latest, virtualenv on macos/windows) is not a graph key. So an env ``<tool>-py<X.Y>`` maps to the config
  ``{machine: <machine>, python: <X.Y>, branch: main}``; env names carrying anything more would be other keys,
  and the test asserts there are none. The warehouse's ``machine`` (the results folder name) equals the
  ``machine`` of the config (django's folder names are the machine names).
* Several results for one revision and config are averaged by asv publish (``asv.util.mean_na``: None and NaN
  are missing, the mean of the rest, None if nothing is left), so the warehouse side is averaged the same way
  over (machine, python, benchmark, commit) before comparing, with a relative tolerance of 1e-9 for the
  averaging. (In this snapshot every group holds a single row, so the comparison is in fact exact.)

The README's 29,742 counts every point present on both sides, nulls included: 28,521 numbers plus 1,221 interior
null points of the dashboard that are failed (null) rows in the warehouse. Warehouse rows with no dashboard point
are each explained by a documented asv publish rule: the benchmark is not in the dashboard's benchmark list
(renamed; 13 names on macos-12 and windows-2022), the row's benchmark version differs from the current one
(asv publish skips such results; 5 names on macos/windows), or the row is null and lies outside the series'
first..last revision (asv trims all-null points at both ends; all of ubuntu-latest py3.8 and py3.9 in this window).
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from pathlib import Path

import duckdb
import pytest

from tests.support.common import fixture_path

OVERLAP = 29_742  # fixtures README: dashboards/django vs results/django
SHOW = 5
ENV_NAME = re.compile(r"^(?:[a-z]+-)?py(?P<python>[0-9][0-9.]*)$")  # `<tool>-py<X.Y>`, nothing else

Point = tuple[str, str, str, str]  # machine, python, benchmark, commit_hash


def series_path(graphs: Path, config: dict, benchmark: str) -> Path:
    """asv's graph path: `key-value` parts (bare `key` for "", `key-null` for null) sorted as strings."""
    parts = sorted(f"{k}-null" if v is None else f"{k}-{v}" if v else k for k, v in config.items())
    return graphs.joinpath(*parts, f"{benchmark}.json")


@pytest.fixture(scope="module")
def dashboard() -> dict:
    """Every point of dashboards/django, keyed by (machine, python, benchmark, commit_hash)."""
    root = fixture_path("dashboards", "django")
    index = json.loads((root / "index.json").read_text())
    revision_to_hash = {int(rev): commit for rev, commit in index["revision_to_hash"].items()}
    points: dict[Point, float | None] = {}
    series: dict[tuple[str, str, str], list[int]] = {}
    files = set()
    for config in index["graph_param_list"]:
        assert set(config) == {"machine", "python", "branch"} and config["branch"] == "main", config
        for benchmark in index["benchmarks"]:
            path = series_path(root / "graphs", config, benchmark)
            if not path.is_file():
                continue
            files.add(path)
            data = json.loads(path.read_text())
            series[(config["machine"], config["python"], benchmark)] = [rev for rev, _ in data]
            for rev, value in data:
                assert not isinstance(value, list), "django benchmarks are not parameterised"
                points[(config["machine"], config["python"], benchmark, revision_to_hash[rev])] = value
    # Every series file of the site was reached through index.json (none silently left out).
    graphs = root / "graphs"
    on_disk = {  # minus graphs/summary/* and the per-config summary.json files
        p
        for p in graphs.rglob("*.json")
        if p.name != "summary.json" and p.relative_to(graphs).parts[0] != "summary"
    }
    assert files == on_disk, sorted(on_disk ^ files)[:SHOW]
    return {
        "index": index,
        "points": points,
        "series": series,
        "hash_to_revision": {commit: rev for rev, commit in revision_to_hash.items()},
    }


@pytest.fixture(scope="module")
def warehouse(real_results_warehouse) -> list[tuple]:
    """The django rows: machine, env_name, benchmark, commit_hash, value, benchmark_version."""
    con = duckdb.connect(str(real_results_warehouse), read_only=True)
    try:
        return con.execute(
            """select machine, env_name, benchmark, commit_hash, value, benchmark_version
               from main.fct_measurements where source_name = 'django'"""
        ).fetchall()
    finally:
        con.close()


def python_of(env_name: str) -> str:
    match = ENV_NAME.match(env_name)
    assert match, f"env {env_name!r} carries more than a Python version: it would be another graph key"
    return match["python"]


def mean_na(values: list[float | None]) -> float | None:
    """asv publish's averaging (asv.util.mean_na): None and NaN are missing data."""
    present = [v for v in values if v is not None and not math.isnan(v)]
    return sum(present) / len(present) if present else None


@pytest.fixture(scope="module")
def averaged(warehouse) -> dict[Point, tuple[float | None, int]]:
    """Warehouse values averaged per dashboard point, with the number of rows averaged."""
    groups: dict[Point, list[float | None]] = defaultdict(list)
    for machine, env_name, benchmark, commit, value, _version in warehouse:
        groups[(machine, python_of(env_name), benchmark, commit)].append(value)
    return {point: (mean_na(values), len(values)) for point, values in groups.items()}


def test_envs_and_commits_map_onto_the_dashboard(dashboard, warehouse):
    """Every django env is `<tool>-py<X.Y>` on a machine whose (machine, python) is a published config, and
    every commit has a revision ("all revisions match")."""
    configs = {(c["machine"], c["python"]) for c in dashboard["index"]["graph_param_list"]}
    pairs = {(machine, python_of(env)) for machine, env, *_ in warehouse}
    assert pairs <= configs, sorted(pairs - configs)
    commits = {row[3] for row in warehouse}
    unknown = sorted(commits - dashboard["hash_to_revision"].keys())
    assert not unknown, f"{len(unknown)} of {len(commits)} commits have no revision, e.g. {unknown[:SHOW]}"


def test_overlapping_points_are_equal(dashboard, averaged):
    """All 29,742 points present in both (numbers and nulls) hold the same value (rel. tolerance 1e-9)."""
    points = dashboard["points"]
    overlap = [p for p in averaged if p in points]
    differ = []
    numbers = nulls = 0
    for point in overlap:
        mine, published = averaged[point][0], points[point]
        if mine is None or published is None:
            nulls += mine is None and published is None
            equal = mine is None and published is None
        else:
            numbers += 1
            equal = math.isclose(mine, published, rel_tol=1e-9, abs_tol=0.0)
        if not equal:
            differ.append((point, f"warehouse {mine!r}", f"dashboard {published!r}"))
    assert not differ, f"{len(differ)} of {len(overlap)} overlapping points differ, e.g. {differ[:SHOW]}"
    assert len(overlap) == OVERLAP, (
        f"overlap {len(overlap)} ({numbers} numbers + {nulls} nulls), README says {OVERLAP}"
    )
    averaged_groups = sum(1 for p in overlap if averaged[p][1] > 1)
    assert (numbers, nulls, averaged_groups) == (28_521, 1_221, 0)


def test_no_dashboard_point_of_a_warehouse_run_is_missing(dashboard, averaged):
    """Every dashboard point on a (machine, python, commit) the warehouse holds is also a warehouse row."""
    runs = {(m, py, commit) for m, py, _b, commit in averaged}
    missing = [p for p in dashboard["points"] if (p[0], p[1], p[3]) in runs and p not in averaged]
    assert not missing, f"{len(missing)} dashboard points have no warehouse row, e.g. {missing[:SHOW]}"


def test_rows_without_a_dashboard_point_follow_asv_publish_rules(dashboard, warehouse):
    """A warehouse row absent from the dashboard is a renamed benchmark, a benchmark whose version changed,
    or a null point trimmed from an end of its series; nothing else."""
    index, points, series = dashboard["index"], dashboard["points"], dashboard["series"]
    renamed, changed, trimmed, unexplained = set(), set(), 0, []
    for machine, env_name, benchmark, commit, value, version in warehouse:
        python = python_of(env_name)
        if (machine, python, benchmark, commit) in points:
            continue
        if benchmark not in index["benchmarks"]:
            renamed.add(benchmark)
        elif version != index["benchmarks"][benchmark]["version"]:
            changed.add(benchmark)
        else:
            revisions = series.get((machine, python, benchmark), [])
            revision = dashboard["hash_to_revision"][commit]
            if value is None and (not revisions or not min(revisions) <= revision <= max(revisions)):
                trimmed += 1
            else:
                unexplained.append((machine, env_name, benchmark, commit, value))
    assert not unexplained, f"{len(unexplained)} rows not in the dashboard, e.g. {unexplained[:SHOW]}"
    assert (len(renamed), len(changed), trimmed) == (13, 5, 10_706)

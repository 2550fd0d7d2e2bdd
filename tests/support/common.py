"""Shared test fixtures: the real data folder and warehouses built through the real pipeline."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(os.environ.get("DATASMITH_FIXTURES", PROJECT_ROOT.parent / "shared" / "fixtures")).resolve()
RESULTS_SETS = ("django", "numpy", "conda", "photutils", "sympy-v1")
REPOS = {
    "django": "django/django",
    "numpy": "numpy/numpy",
    "conda": "conda/conda",
    "photutils": "astropy/photutils",
    "sympy-v1": "sympy/sympy",
}


def fixture_path(*parts: str) -> Path:
    """A path in the real-data folder. When it is absent the test skips, with the reason, on a
    developer's machine, and fails in CI (CI=true), where a quiet skip would hide the missing data."""
    path = FIXTURES.joinpath(*parts)
    if not path.exists():
        reason = f"real fixture data not found at {path} (set DATASMITH_FIXTURES to the fixtures folder)"
        if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
            pytest.fail(f"{reason}; in CI (CI=true) missing fixtures fail instead of skipping", pytrace=False)
        pytest.skip(reason)
    return path


def write_sources(
    folder: Path,
    results: dict[str, Path],
    repos: dict[str, str] | None = None,
    dashboards: dict[str, Path] | None = None,
) -> Path:
    """A sources file listing the given results folders (and dashboard folders); repos by name."""

    def entry(name: str, key: str, path: Path) -> dict:
        listed = {"name": name, key: str(path)}
        if repos and name in repos:
            listed["repo"] = repos[name]
        return listed

    document = {"results": [entry(name, "path", path) for name, path in results.items()]}
    if dashboards:
        document["dashboards"] = [entry(name, "url", path) for name, path in dashboards.items()]
    file = folder / "sources.yml"
    file.write_text(yaml.safe_dump(document, sort_keys=False))
    return file


def materialize(sources_file: Path, db_path: Path, *extra: str) -> int:
    """Run `datasmith materialize` in-process, as a user would from the shell."""
    from assets.cli import main

    return main(["materialize", "--sources", str(sources_file), "--db", str(db_path), *extra])


def read_rows(db: Path, sql: str, *params) -> list[tuple]:
    """A query's rows from a warehouse file, opened read-only and closed again (so a writer can follow)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def read_records(db: Path, sql: str, *params) -> list[dict]:
    """As read_rows, each row a dict by column name."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        cursor = con.execute(sql, list(params))
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        con.close()


# The dashboards asv published from two of the results sets (the fixtures README's cross-checks).
RESULTS_DASHBOARDS = {"django-dashboard": ("django",), "numpy-dashboard": ("numpy-trimmed",)}
DASHBOARD_REPOS = {"django-dashboard": "django/django", "numpy-dashboard": "numpy/numpy"}


@pytest.fixture(scope="session")
def real_results_warehouse(tmp_path_factory) -> Path:
    """One warehouse for the session, built by `datasmith materialize` from all five real results sets and
    the django and numpy dashboards (RESULTS_DASHBOARDS), as far as `fct_measurements` (everything
    upstream of it) and the dashboards' staged regressions: what its readers (the oracle tests, the
    dashboards-vs-results test) compare, each by source name. Detection and the dataset stage over these
    sets would add minutes that no reader looks at; the test that every built model is documented reads
    the demo warehouse, which builds them all."""
    folder = tmp_path_factory.mktemp("real_results")
    sources = write_sources(
        folder,
        {name: fixture_path("results", name) for name in RESULTS_SETS},
        {**REPOS, **DASHBOARD_REPOS},
        dashboards={name: fixture_path("dashboards", *parts) for name, parts in RESULTS_DASHBOARDS.items()},
    )
    db = folder / "warehouse.duckdb"
    selection = "+key:main/fct_measurements or key:staging/stg_dashboards__regressions"
    assert materialize(sources, db, "--select", selection) == 0
    return db


@pytest.fixture
def query(real_results_warehouse) -> Callable[..., list[tuple]]:
    def run(sql: str, *params) -> list[tuple]:
        con = duckdb.connect(str(real_results_warehouse), read_only=True)
        try:
            return con.execute(sql, list(params)).fetchall()
        finally:
            con.close()

    return run

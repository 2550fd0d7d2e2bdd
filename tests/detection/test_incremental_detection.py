"""Incremental detection: after new, replaced and newly sourced result files, re-detecting only the
changed series gives exactly the fct_change_points of a full re-run, and keeps the unchanged ones."""

from __future__ import annotations

import json
import shutil

import duckdb
import pytest

from detection.steps import DetectionConfig
from detection.store import run_detection
from tests.support.common import fixture_path, materialize, read_rows, write_sources

# Up to the change points only: the dataset and replication stages add minutes and nothing here.
BUILD = "+key:fct_change_points or key:detection/skipped_series"
REPOS = {"django-results": "django/django", "sympy-results": "sympy/sympy"}
HELD_BACK = 5  # windows-2022 files left out of the first build, added in the second

pytestmark = pytest.mark.slow


def _double_first_result(path) -> str:
    """Rewrite one real result file with its first measured benchmark's values doubled; returns the benchmark."""
    document = json.loads(path.read_text())
    name = next(
        n for n in sorted(document["results"]) if any(v is not None for v in document["results"][n][0])
    )
    row = document["results"][name]
    row[0] = [None if v is None else 2 * v for v in row[0]]
    path.write_text(json.dumps(document))
    return name


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A warehouse built twice from real results/django files (macos-12 and windows-2022): first without
    the last windows files; then (incremental) with them, one macos file's values replaced and a
    second source (results/sympy-v1)."""
    folder = tmp_path_factory.mktemp("incremental")
    real = fixture_path("results", "django", "results")
    tree = folder / "django" / "results"
    tree.mkdir(parents=True)
    shutil.copy(real / "benchmarks.json", tree)
    shutil.copytree(real / "macos-12", tree / "macos-12")
    (tree / "windows-2022").mkdir()
    files = sorted(p.name for p in (real / "windows-2022").iterdir() if p.name != "machine.json")
    shutil.copy(real / "windows-2022" / "machine.json", tree / "windows-2022")
    for name in files[:-HELD_BACK]:
        shutil.copy(real / "windows-2022" / name, tree / "windows-2022")
    db = folder / "warehouse.duckdb"
    sources = write_sources(folder, {"django-results": tree}, REPOS)
    assert materialize(sources, db, "--select", BUILD) == 0
    first = dict(read_rows(db, "select series_id, detected_at from detection.series_state"))

    for name in files[-HELD_BACK:]:
        shutil.copy(real / "windows-2022" / name, tree / "windows-2022")
    macos_file = sorted(p for p in (tree / "macos-12").iterdir() if p.name != "machine.json")[0]
    replaced = _double_first_result(macos_file)
    sources = write_sources(
        folder, {"django-results": tree, "sympy-results": fixture_path("results", "sympy-v1")}, REPOS
    )
    assert materialize(sources, db, "--select", BUILD) == 0
    return {"folder": folder, "db": db, "sources": sources, "first": first, "replaced": replaced}


def _differences(db_a, db_b, table: str) -> tuple[int, int, int]:
    """(rows in a, rows only in a, rows only in b) of `table`, every column but detected_at (in SQL,
    so NaN equals NaN as DuckDB compares it)."""
    con = duckdb.connect()
    try:
        con.execute(f"attach '{db_a}' as a (read_only)")
        con.execute(f"attach '{db_b}' as b (read_only)")
        schema, name = table.split(".")
        columns = ", ".join(
            c
            for (c,) in con.execute(
                """select column_name from duckdb_columns() where database_name = 'a' and schema_name = ?
                   and table_name = ? and column_name <> 'detected_at'""",
                [schema, name],
            ).fetchall()
        )
        a, b = f"select {columns} from a.{table}", f"select {columns} from b.{table}"
        return con.execute(
            f"select (select count(*) from a.{table}), (select count(*) from ({a} except all {b})), "
            f"(select count(*) from ({b} except all {a}))"
        ).fetchone()
    finally:
        con.close()


def test_incremental_run_redetects_only_changed_series(built):
    db, first = built["db"], built["first"]
    state = dict(read_rows(db, "select series_id, detected_at from detection.series_state"))
    kept = {sid for sid, at in state.items() if first.get(sid) == at}
    macos = {
        sid
        for (sid,) in read_rows(
            db,
            "select series_id from main.fct_series_points "
            "join main.dim_series using (series_id) where machine = 'macos-12'",
        )
    }
    replaced = {
        sid
        for (sid,) in read_rows(
            db,
            "select series_id from main.dim_series where machine = 'macos-12' and benchmark = ?",
            built["replaced"],
        )
    }
    sympy = {
        sid
        for (sid,) in read_rows(
            db, "select series_id from main.dim_series where source_name = 'sympy-results'"
        )
    }
    assert replaced and sympy and kept
    # Only the macos series whose points did not change are kept; the replaced file's benchmark,
    # the windows series (new commits) and the new source's series are detected again.
    assert kept == macos - replaced
    assert not (sympy & set(first)) and sympy & set(state)


def test_incremental_equals_full_rerun_row_for_row(built, tmp_path, monkeypatch):
    full_db = tmp_path / "full.duckdb"
    shutil.copy(built["db"], full_db)
    monkeypatch.setenv("DATASMITH_DETECTION_FULL", "1")
    selection = "key:breakpoints or key:detection/skipped_series or key:fct_change_points"
    assert materialize(built["sources"], full_db, "--select", selection) == 0
    n_rows, only_incremental, only_full = _differences(built["db"], full_db, "main.fct_change_points")
    assert n_rows > 50 and (only_incremental, only_full) == (0, 0)
    assert _differences(built["db"], full_db, "detection.skipped_series")[1:] == (0, 0)


def test_nothing_changed_nothing_detected_and_settings_change_redoes_all(built, tmp_path):
    db = tmp_path / "again.duckdb"
    shutil.copy(built["db"], db)
    with duckdb.connect(str(db)) as con:
        again = run_detection(con, DetectionConfig(), workers=1)
    assert (again.full, again.detected, again.kept) == (False, 0, again.series)
    assert again.series > 0
    assert _differences(built["db"], db, "detection.breakpoints")[1:] == (0, 0)
    with duckdb.connect(str(db)) as con:
        changed = run_detection(con, DetectionConfig(magnitude_floor=0.10), workers=1)
    assert changed.full and changed.detected == changed.series

"""Commit reports are rebuilt only for the tasks whose inputs changed, and the result equals a full rebuild
(issue 14, item 5)."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from dataset.reports import build_changed_reports, store_reports, stored_inputs
from tests.support.dataset_support import shared_demo_warehouse

COLUMNS = "* exclude (built_at)"  # when it was built is the one column a kept report may not share


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return shared_demo_warehouse(tmp_path_factory)


def _stored(con) -> tuple[list, dict[str, str]]:
    rows = con.execute(f"select {COLUMNS} from dataset.commit_reports order by task_id").fetchall()
    files = {}
    for (report_path,) in con.execute("select report_path from dataset.commit_reports").fetchall():
        files[Path(report_path).name] = Path(report_path).read_text()
    return rows, files


def test_only_changed_tasks_are_rebuilt_and_the_result_equals_a_full_rebuild(demo, tmp_path):
    db = tmp_path / "warehouse.duckdb"
    shutil.copyfile(demo, db)  # a copy: the shared demo warehouse stays as it is
    out = tmp_path / "reports"
    con = duckdb.connect(str(db))
    try:
        built, kept = build_changed_reports(con, db, out, previous=stored_inputs(con))
        store_reports(con, built, kept)
        assert len(built) == 2 and kept == {}  # the copy's stored reports were built for another folder

        # nothing changed: nothing is rebuilt, every report is kept
        before = _stored(con)
        built, kept = build_changed_reports(con, db, out, previous=stored_inputs(con))
        assert built == [] and sorted(kept) == sorted(r[0] for r in before[0])
        store_reports(con, built, kept)
        assert _stored(con) == before

        # one task's inputs change (its speed-ups in fct_tasks), another task is gone
        first, second = (
            r[0] for r in con.execute("select commit_hash from main.fct_tasks order by 1").fetchall()
        )
        con.execute("update main.fct_tasks set max_speedup = max_speedup * 2 where commit_hash = ?", [first])
        con.execute("delete from main.fct_tasks where commit_hash = ?", [second])
        built, kept = build_changed_reports(con, db, out, previous=stored_inputs(con))
        assert [r.commit_hash for r in built] == [first] and kept == {}
        store_reports(con, built, kept)
        incremental = _stored(con)
        assert [row[3] for row in incremental[0]] == [first]  # commit_hash; the gone task's report is removed

        # a full rebuild of the same warehouse writes the same rows and the same files
        built, _ = build_changed_reports(con, db, out, previous=None)
        store_reports(con, built)
        assert _stored(con) == incremental
        assert stored_inputs(con) == {r.task_id: r.inputs_sha256 for r in built}
    finally:
        con.close()

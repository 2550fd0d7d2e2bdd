"""The dataset's commands next to other people's files and other runs (issue 13): the export replaces only a
folder it wrote, survives any character in its path and leaves no staging folder; `datasmith score` waits
for a run that is writing the warehouse, or says so in one line."""

from __future__ import annotations

import re
import shutil
import subprocess
import threading

import duckdb
import pytest

from dataset.export import MARKER, ExportError, as_json_lines, export_dataset
from tests.assets.test_process_safety import start_python
from tests.support.dataset_support import shared_demo_warehouse


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return shared_demo_warehouse(tmp_path_factory)


def export_into(db, folder):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return export_dataset(con, folder)
    finally:
        con.close()


def test_a_quote_in_the_path_is_data_and_no_staging_folder_is_left(demo, tmp_path):
    folder = tmp_path / 'it\'s "ours"; drop' / "dataset"
    written = export_into(demo, folder)
    assert written.tasks > 0
    assert len(as_json_lines(folder / "tasks.jsonl")) == written.tasks
    assert (folder / MARKER).is_file()
    assert sorted(p.name for p in folder.parent.iterdir()) == ["dataset"]


def test_a_folder_the_export_did_not_write_is_never_replaced(demo, tmp_path):
    theirs = tmp_path / "dataset"
    (theirs / "data").mkdir(parents=True)
    (theirs / "notes.txt").write_text("someone's own work")
    (theirs / "data" / "2024-01.parquet").write_bytes(
        (demo.parent / "dataset" / "tasks.parquet").read_bytes()
    )
    with pytest.raises(ExportError, match=re.escape(f"{theirs} is in the way of the dataset export")):
        export_into(demo, theirs)
    assert (theirs / "notes.txt").read_text() == "someone's own work"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset"]  # no dataset.tmp either

    (theirs / "notes.txt").unlink()  # a staging folder that is not ours is not deleted either
    staging = tmp_path / "dataset.tmp"
    staging.mkdir()
    (staging / "keep.txt").write_text("x")
    with pytest.raises(ExportError, match=re.escape("dataset.tmp is in the way")):
        export_into(demo, theirs)
    assert (staging / "keep.txt").exists()


def test_an_export_replaces_its_own_earlier_export_marked_or_not(demo, tmp_path):
    folder = tmp_path / "dataset"
    first = export_into(demo, folder)
    shutil.copytree(folder, tmp_path / "unmarked")  # as exports wrote it before the marker
    (tmp_path / "unmarked" / MARKER).unlink()
    assert export_into(demo, folder).tasks == first.tasks
    assert export_into(demo, tmp_path / "unmarked").tasks == first.tasks
    assert (tmp_path / "unmarked" / MARKER).is_file()
    (folder / "data" / "mine.csv").write_text("a,b")  # the marker makes it ours: replaced as a whole
    export_into(demo, folder)
    assert not (folder / "data" / "mine.csv").exists()


HOLD_THE_WAREHOUSE = """
    import sys, time
    from ingest.warehouse import connect_writer

    with connect_writer(sys.argv[1]):  # as a run's ingest step does: the lock, then DuckDB's own
        print("writing", flush=True)
        sys.stdin.readline()  # until the test says the run is over
"""


def test_score_waits_for_a_writing_run_or_says_so_in_one_line(demo, capfd):
    from assets.cli import main

    holder = start_python(HOLD_THE_WAREHOUSE, str(demo), stdin=subprocess.PIPE)
    try:
        assert holder.stdout.readline() == "writing\n"
        assert main(["score", "--db", str(demo), "--wait", "0.5"]) == 1
        out, err = capfd.readouterr()
        assert err.endswith(f"datasmith: {demo} is being written by another run (for over 0 s): "
                            "retry when it is done, or pass --wait SECONDS\n")  # fmt: skip
        assert "Traceback" not in err and not out
        finish = threading.Timer(2.0, lambda: holder.communicate("done\n", timeout=30))
        finish.start()
        assert main(["score", "--db", str(demo), "--wait", "60"]) == 0  # reads once the run is done
        finish.join()
        out, err = capfd.readouterr()
        assert err == f"datasmith: waiting up to 60 s for the run writing {demo} to finish\n"
        assert "FormulaCode advantage" in out
    finally:
        holder.kill()
        holder.wait()

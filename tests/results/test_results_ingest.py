"""Raw ingestion of results trees: once per file version, bad files quarantined, crash-safe."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from ingest.results import discover_files, ingest_results_source
from ingest.sources import ResultsSource
from tests.support.common import fixture_path, materialize, write_sources
from tests.support.warehouse import connect_writer

RAW_TABLES = ("asv_result_files", "asv_benchmark_files", "asv_machine_files", "asv_config_files")


def raw_versions(con) -> list[tuple]:
    """Every stored file version, without the load time (which differs between runs by design)."""
    union = " union all ".join(
        f"select '{t}', source_name, relative_path, sha256, size_bytes, md5(content::varchar) from raw.{t}"
        for t in RAW_TABLES
    )
    return sorted(con.execute(union).fetchall())


def test_discovers_every_layout(tmp_path):
    conda = discover_files(fixture_path("results", "conda"))
    trees = {f.tree_path for f in conda if f.kind == "result"}
    assert trees == {"results", ".asv/results"}  # v2 and the hidden v1 tree
    kinds = {f.kind for f in conda}
    assert kinds == {"config", "benchmarks", "machine", "result"}
    photutils = discover_files(fixture_path("results", "photutils"))
    results = [f for f in photutils if f.kind == "result"]
    assert len(results) == 232 and {f.machine_dir for f in results} == {"tom-mac-mini"}


def test_a_second_run_loads_nothing_and_a_changed_file_loads_once_more(tmp_path):
    source_dir = tmp_path / "sympy"
    shutil.copytree(fixture_path("results", "sympy-v1"), source_dir)
    source = ResultsSource("sympy-v1", source_dir)
    db = tmp_path / "w.duckdb"
    with connect_writer(db) as con:
        first = ingest_results_source(con, source)
        second = ingest_results_source(con, source)
        assert first.total_loaded == first.files_seen == 6
        assert second.total_loaded == 0 and second.files_unchanged == 6
        before = raw_versions(con)

    result_file = next(
        p
        for p in (source_dir / "results").rglob("*.json")
        if p.parent.name != "results" and p.name != "machine.json"
    )
    data = json.loads(result_file.read_text())
    data["results"][next(iter(data["results"]))] = 123.0
    result_file.write_text(json.dumps(data))
    with connect_writer(db) as con:
        third = ingest_results_source(con, source)
        after = raw_versions(con)
    assert third.total_loaded == 1
    assert len(after) == len(before) + 1  # append-only: the old version stays


def test_unusable_files_are_quarantined_with_a_reason_and_the_rest_loads(tmp_path):
    source_dir = tmp_path / "conda"
    shutil.copytree(fixture_path("results", "conda") / "results", source_dir / "results")
    machine_dir = next(p for p in (source_dir / "results").iterdir() if p.is_dir())
    real = next(p for p in machine_dir.glob("*.json") if p.name != "machine.json")
    good_files = len([p for p in source_dir.rglob("*.json")])
    (machine_dir / "aaaaaaaa-truncated.json").write_bytes(real.read_bytes()[: real.stat().st_size // 2])
    (machine_dir / "bbbbbbbb-notjson.json").write_text("<html>404 Not Found</html>")
    (machine_dir / "cccccccc-list.json").write_text("[1, 2, 3]")
    (machine_dir / "dddddddd-binary.json").write_bytes(b"\xff\xfe\x00garbage")
    (machine_dir / "eeeeeeee-future.json").write_text(
        json.dumps({"commit_hash": "e" * 40, "results": {}, "version": 3})
    )
    (machine_dir / "ffffffff-noresults.json").write_text(json.dumps({"commit_hash": "f" * 40}))
    (machine_dir / "abababab-rownotlist.json").write_text(
        json.dumps(
            {
                "commit_hash": "a" * 40,
                "version": 2,
                "result_columns": ["result"],
                "results": {"b.time_ok": [[1.0]], "b.time_bad": {"result": [1.0]}},
            }
        )
    )
    (machine_dir / "notes.txt").write_text("not a result file, not JSON: ignored")

    with connect_writer(tmp_path / "w.duckdb") as con:
        report = ingest_results_source(con, ResultsSource("conda", source_dir))
        reasons = dict(con.execute("select relative_path, reason from raw.results_quarantine").fetchall())
        kept = con.execute(
            "select count(*) from raw.results_quarantine where content is not null"
        ).fetchone()[0]
    assert report.total_loaded == good_files
    assert report.files_quarantined == 7
    by_name = {Path(k).name: v for k, v in reasons.items()}
    assert "not valid JSON" in by_name["aaaaaaaa-truncated.json"]
    assert "not valid JSON" in by_name["bbbbbbbb-notjson.json"]
    assert "not an object" in by_name["cccccccc-list.json"]
    assert "not UTF-8" in by_name["dddddddd-binary.json"]
    assert "schema version 3" in by_name["eeeeeeee-future.json"]
    assert 'no "results"' in by_name["ffffffff-noresults.json"]
    assert by_name["abababab-rownotlist.json"] == "a schema version 2 result row is not a list"
    assert kept == 7  # the bytes are kept for inspection


@pytest.mark.parametrize(
    "text",
    [
        '{"a": [1, 2,], "b": {"c": 1,},} // asv\'s template ends lists and objects with commas',
        '{"a": "x,]" ,\n /* c */ "b": [1 ,\n // c\n ],\n}',
        '{"a,": "},",}',
        "{'a': 1,}",  # single quotes: only json5 reads them
        "[,]",  # invalid for json5 too
        '{"a": [1,,]}',
    ],
)
def test_asv_conf_parses_as_json5_does(text):
    import json5

    from ingest.results.load import _config_as_json

    content, problem = _config_as_json(text)
    try:
        expected = json5.loads(text)
    except ValueError:
        assert problem is not None
    else:
        assert problem is None and json.loads(content) == expected


def test_quarantined_files_do_not_stop_the_pipeline(tmp_path):
    source_dir = tmp_path / "sympy"
    shutil.copytree(fixture_path("results", "sympy-v1"), source_dir)
    machine_dir = next(p for p in (source_dir / "results").iterdir() if p.is_dir())
    (machine_dir / "12345678-broken.json").write_text('{"commit_hash": "1234')
    db = tmp_path / "w.duckdb"
    assert materialize(write_sources(tmp_path, {"sympy": source_dir}), db) == 0
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("select count(*) from staging.stg_results__quarantine").fetchone()[0] == 1
    assert con.execute("select count(distinct commit_hash) from fct_measurements").fetchone()[0] == 3
    con.close()


@pytest.mark.slow
def test_a_run_killed_mid_load_then_rerun_ends_identical_to_an_uninterrupted_run(tmp_path):
    import os
    import signal
    import subprocess
    import sys

    django = fixture_path("results", "django")
    clean_db, crashed_db = tmp_path / "clean.duckdb", tmp_path / "crashed.duckdb"
    with connect_writer(clean_db) as con:
        ingest_results_source(con, ResultsSource("django", django))

    script = (
        "import sys; from pathlib import Path\n"
        "from ingest.results import ingest_results_source\n"
        "from ingest.sources import ResultsSource\n"
        "from tests.support.warehouse import connect_writer\n"
        f"with connect_writer({str(crashed_db)!r}) as con:\n"
        f"    ingest_results_source(con, ResultsSource('django', Path({str(django)!r})),\n"
        "        progress=lambda m: print(m, flush=True))\n"
    )
    env = {**os.environ, "DATASMITH_INGEST_BATCH_BYTES": "300000"}
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    first_line = proc.stdout.readline()  # printed after 500 files: several batches are committed by then
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert "500/" in first_line, first_line

    con = duckdb.connect(str(crashed_db))
    partial = len(raw_versions(con))
    con.close()
    with connect_writer(crashed_db) as con:
        report = ingest_results_source(con, ResultsSource("django", django))
        crashed_then_rerun = raw_versions(con)
    with connect_writer(clean_db) as con:
        clean = raw_versions(con)
    assert 0 < partial < len(clean), "the kill should land mid-load"
    assert report.total_loaded == len(clean) - partial
    assert crashed_then_rerun == clean


def test_a_commit_hash_git_could_take_as_an_option_is_quarantined_at_the_raw_boundary(tmp_path):
    """issue 13, case 1: `--output=<path>` as a result file's commit_hash never reaches the warehouse."""
    source_dir = tmp_path / "sympy"
    shutil.copytree(fixture_path("results", "sympy-v1"), source_dir)
    real = next(p for p in (source_dir / "results").rglob("*.json") if p.name[8:9] == "-")
    for prefix, commit in (
        ("0000aaaa", f"--output={tmp_path}/pwned"),
        ("0000bbbb", "abc"),
        ("0000cccc", "A1B2" * 10),
    ):
        data = json.loads(real.read_text())
        data["commit_hash"] = commit
        real.with_name(prefix + real.name[8:]).write_text(json.dumps(data))
    with connect_writer(tmp_path / "w.duckdb") as con:
        ingest_results_source(con, ResultsSource("sympy-v1", source_dir))
        reasons = dict(con.execute("select relative_path, reason from raw.results_quarantine").fetchall())
        loaded = {p for (p,) in con.execute("select relative_path from raw.asv_result_files").fetchall()}
    by_name = {Path(k).name[:8]: v for k, v in reasons.items()}
    assert by_name == {
        "0000aaaa": '"commit_hash" is not 4 to 64 hex digits',
        "0000bbbb": '"commit_hash" is not 4 to 64 hex digits',
    }
    assert any(Path(p).name.startswith("0000cccc") for p in loaded)  # upper-case hex is a hash
    assert not (tmp_path / "pwned").exists()

"""The whole pipeline through `datasmith materialize`: incremental collation, concurrency, errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from tests.support.common import PROJECT_ROOT, fixture_path, materialize, write_sources
from tests.support.common import read_rows as rows

# `fct_measurements` and everything upstream of it: where a test looks only at the results and what dbt
# collates from them, nothing downstream (detection, the dataset stage) needs to run.
MEASUREMENTS = ("--select", "+key:main/fct_measurements")


def test_a_changed_file_replaces_its_rows_and_a_new_file_adds_its_own(tmp_path):
    source_dir = tmp_path / "sympy"
    shutil.copytree(fixture_path("results", "sympy-v1"), source_dir)
    sources = write_sources(tmp_path, {"sympy": source_dir}, {"sympy": "sympy/sympy"})
    db = tmp_path / "w.duckdb"
    assert materialize(sources, db, *MEASUREMENTS) == 0
    machine_dir = next(p for p in (source_dir / "results").iterdir() if p.is_dir())
    files = sorted(p for p in machine_dir.glob("*.json") if p.name != "machine.json")
    per_file = dict(rows(db, "select file_path, count(*) from fct_measurements group by 1"))
    assert len(per_file) == len(files) == 3

    changed = files[0]
    data = json.loads(changed.read_text())
    scalar, removed = [k for k, v in data["results"].items() if isinstance(v, float)][:2]
    data["results"][scalar] = 42.0
    del data["results"][removed]  # an unparameterised benchmark: exactly one row
    changed.write_text(json.dumps(data))
    added = machine_dir / ("0" * 8 + "-" + changed.name.split("-", 1)[1])
    data["commit_hash"] = "0" * 40
    added.write_text(json.dumps(data))

    assert materialize(sources, db, *MEASUREMENTS) == 0
    after = dict(rows(db, "select file_path, count(*) from fct_measurements group by 1"))
    changed_path = changed.relative_to(source_dir).as_posix()
    added_path = added.relative_to(source_dir).as_posix()
    assert after[changed_path] == per_file[changed_path] - 1  # the deleted benchmark's row is gone
    assert after[added_path] == after[changed_path]
    assert {k: v for k, v in after.items() if k not in (changed_path, added_path)} == {
        k: v for k, v in per_file.items() if k != changed_path
    }
    assert rows(
        db,
        f"select value from fct_measurements where file_path = '{changed_path}' and benchmark = '{scalar}'",
    ) == [(42.0,)]
    assert rows(db, "select count(*) from fct_measurements where repo = 'sympy/sympy'")[0][0] == sum(
        after.values()
    )


def test_two_materialisations_started_at_the_same_moment_both_succeed_and_lose_nothing(tmp_path):
    sources = write_sources(
        tmp_path,
        {"sympy": fixture_path("results", "sympy-v1"), "photutils": fixture_path("results", "photutils")},
    )
    db = tmp_path / "w.duckdb"
    command = [sys.executable, "-m", "assets.cli", "materialize", "--sources", str(sources), "--db", str(db)]
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    procs = [
        subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    try:
        outputs = [p.communicate(timeout=600) for p in procs]
    finally:  # a run past the timeout is not left behind
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err[-3000:]
    assert any("waiting for another process" in err for _, err in outputs), "the runs should have overlapped"

    # the reference: the same sources alone, as far as the compared tables (the two runs above are whole)
    single = tmp_path / "single.duckdb"
    assert materialize(sources, single, *MEASUREMENTS) == 0
    count = (
        "select source_name, count(*), count(distinct file_path) from fct_measurements group by 1 order by 1"
    )
    assert rows(db, count) == rows(single, count)
    versions = (
        "select count(*), count(distinct (source_name, relative_path, sha256)) from raw.asv_result_files"
    )
    assert rows(db, versions) == rows(single, versions)


def test_cli_errors_are_clear_and_non_zero(tmp_path, capsys):
    from assets.cli import main

    bad = tmp_path / "bad.yml"
    bad.write_text("results:\n  - name: x\n    pth: y\n")
    assert main(["materialize", "--sources", str(bad), "--db", str(tmp_path / "w.duckdb")]) == 2
    assert "line 3" in capsys.readouterr().err

    missing = write_sources(tmp_path, {"gone": tmp_path / "does-not-exist"})
    # the results ingest fails its partition (the rest of the graph would add nothing to the error)
    assert (
        main(["materialize", "--sources", str(missing), "--db", str(tmp_path / "w.duckdb"), *MEASUREMENTS])
        == 1
    )
    assert "does not exist" in capsys.readouterr().err

    good = write_sources(tmp_path, {"sympy": fixture_path("results", "sympy-v1")})
    assert (
        main(["materialize", "--sources", str(good), "--db", str(tmp_path / "w.duckdb"), "--select", "nope"])
        == 2
    )
    assert "bad selection 'nope'" in capsys.readouterr().err

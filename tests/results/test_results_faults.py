"""Issue 13, raw results: valid-JSON-but-wrong files and values, grids that do not fit, symlinks out of the
source folder, infinite and zero times, oversize files and a missing source path.

Every bad input is a mutated copy of a real fixture file, written beside the originals in the test's temp
folder. One `datasmith materialize` loads each set twice, as a clean source (the real files only) and as a
faulty source (the real files plus the mutated copies): each bad file ends as a quarantine row with its
reason, each bad value as an 'invalid' (or flagged) row with its reason, and every real file's rows in the
faulty source equal those of the clean one.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from ingest.results import MAX_FILE_BYTES_ENV, ResultsSourceError, ingest_results_source
from ingest.sources import ResultsSource
from tests.support.common import fixture_path, materialize, read_records, read_rows, write_sources
from tests.support.warehouse import connect_writer

SYMPY_FILE = "4c15bbb9-virtualenv-py3.5-fastcache-mpmath-numpy.json"
CONDA_FILE = "044cf5df-conda-py3.10-conda-libmamba-solver-conda-package-handling2.0.2.json"
QUOTED = 'quote"d.Time\\"x\'.time_name'  # a benchmark name with ", \ and '
# fct_measurements columns compared between the clean and the faulty copy of the same real file
COMPARED = (
    "machine, env_name, benchmark, params, param_index, commit_hash, commit_date, value, status, problem, unit, "
    "benchmark_type, ci_99_a, ci_99_b, q_25, q_75, stats_number, stats_repeat, n_samples, benchmark_version, "
    "started_at, file_path, file_sha256"
)


def machine_dir(root: Path) -> Path:
    return next(p for p in (root / "results").iterdir() if p.is_dir())


def write_variant(machine: Path, original: str, prefix: str, document: dict | str) -> str:
    """A copy of a real result file under a new name (`<prefix>-<env>.json`); returns its relative path."""
    name = prefix + original[8:]
    text = document if isinstance(document, str) else json.dumps(document)
    (machine / name).write_text(text)
    return f"results/{machine.name}/{name}"


def largest_file(*roots: Path) -> int:
    return max(p.stat().st_size for root in roots for p in root.rglob("*") if p.is_file())


def build_faulty_sympy(root: Path, outside: Path, cap: int) -> dict[str, str]:
    """Mutated copies of a real schema-1 file (sympy: {"params", "result"} values, started_at dicts)."""
    machine = machine_dir(root)
    real = json.loads((machine / SYMPY_FILE).read_text())
    plain = [k for k, v in real["results"].items() if isinstance(v, float) and ".time_" in k]
    grid = next(k for k, v in real["results"].items() if isinstance(v, dict) and len(v["params"][0]) > 2)
    paths = {}

    values = json.loads(json.dumps(real))
    values["results"][plain[0]] = "0.3"  # a whole result that is a string
    values["results"][grid]["result"][0] = "x"  # one value of a grid that is a string
    values["results"][plain[1]] = math.inf
    values["results"][plain[2]] = 0.0  # an underflowed time
    values["results"][plain[3]] = -math.inf
    values["started_at"][plain[4]] = "yesterday"
    values["results"][plain[5]] = {"result": [values["results"][plain[5]]], "stats": "x"}
    paths["values"] = write_variant(machine, SYMPY_FILE, "0000aaaa", values)

    quoted = json.loads(json.dumps(real))
    for field in ("results", "started_at", "ended_at"):
        quoted[field][QUOTED] = quoted[field].pop(plain[0])
    paths["quoted"] = write_variant(machine, SYMPY_FILE, "0000bbbb", quoted)

    mismatch = json.loads(json.dumps(real))
    mismatch["results"][grid]["params"][0].pop()  # one label fewer than values
    paths["mismatch"] = write_variant(machine, SYMPY_FILE, "0000cccc", mismatch)

    not_object = json.loads(json.dumps(real))
    not_object["started_at"] = "2017-07-27"
    paths["started_at_not_object"] = write_variant(machine, SYMPY_FILE, "0000dddd", not_object)

    bad_date = json.loads(json.dumps(real))
    bad_date["date"] = "July 2017"
    paths["date_not_number"] = write_variant(machine, SYMPY_FILE, "0000eeee", bad_date)

    text = (machine / SYMPY_FILE).read_text()
    paths["oversize"] = write_variant(machine, SYMPY_FILE, "0000ffff", text + " " * (cap + 1 - len(text)))

    # A symlink out of the source folder must not be read; one inside it is an ordinary file.
    outside.mkdir(exist_ok=True)
    (outside / "secret.json").write_text(text.replace(real["commit_hash"], "5ec7e7" * 6 + "5ec7"))
    (machine / ("00001111" + SYMPY_FILE[8:])).symlink_to(outside / "secret.json")
    paths["symlink_outside"] = f"results/{machine.name}/00001111{SYMPY_FILE[8:]}"
    (root / "kept").mkdir()
    shutil.copy(machine / SYMPY_FILE, root / "kept" / "linked.json")
    (machine / ("00002222" + SYMPY_FILE[8:])).symlink_to(Path("..", "..", "kept", "linked.json"))
    paths["symlink_inside"] = f"results/{machine.name}/00002222{SYMPY_FILE[8:]}"
    return paths


def build_faulty_conda(root: Path) -> dict[str, str]:
    """Mutated copies of a real schema-2 file (conda: 1-3-D grids, stats, samples, NaN and null)."""
    machine = machine_dir(root)
    real = json.loads((machine / CONDA_FILE).read_text())
    col = {name: i for i, name in enumerate(real["result_columns"])}
    rows = real["results"]
    mutated = json.loads(json.dumps(real))
    r = mutated["results"]
    r["time_create_python"][col["result"]][1] = "x"  # [0.10, "x"]
    r["time_create_numpy_openblas"][col["stats_ci_99_a"]] = ["x", 1]
    r["time_create_python_boost"][col["duration"]] = "slow"
    r["time_solve_r_essentials_r_base_defaults"][col["samples"]] = "x"
    r["time_solve_r_essentials_r_base_conda_forge"][col["started_at"]] = "noon"
    r["time_create_numpy_mkl"][col["params"]] = [["'classic'"]]  # 1 label, 2 values
    r["time_solve_anaconda_53"][col["result"]] = [math.inf, 0.0]
    assert rows["time_create_python"][col["result"]][1] is not None
    return {"values": write_variant(machine, CONDA_FILE, "0000aaaa", mutated)}


@pytest.fixture(scope="module")
def faulty_warehouse(tmp_path_factory) -> tuple[Path, dict[str, dict[str, str]]]:
    folder = tmp_path_factory.mktemp("results_faults")
    sympy, conda = fixture_path("results", "sympy-v1"), fixture_path("results", "conda")
    roots = {"sympy_clean": folder / "sympy_clean", "sympy_bad": folder / "sympy_bad"}
    for root in roots.values():
        shutil.copytree(sympy, root)
    for name in ("conda_clean", "conda_bad"):
        roots[name] = folder / name
        shutil.copytree(conda / "results", roots[name] / "results")
        shutil.copy(conda / "asv.conf.json", roots[name])
    cap = largest_file(*roots.values()) + 1  # every real file fits; the padded copy does not
    paths = {
        "sympy_bad": build_faulty_sympy(roots["sympy_bad"], folder / "outside", cap),
        "conda_bad": build_faulty_conda(roots["conda_bad"]),
    }
    db = folder / "warehouse.duckdb"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(MAX_FILE_BYTES_ENV, str(cap))
        assert materialize(write_sources(folder, roots), db) == 0
    return db, paths


def rows_of(db: Path, source: str, file_path: str, where: str = "true", *params) -> list[dict]:
    return read_records(
        db,
        f"select * from fct_measurements where source_name = ? and file_path = ? and {where} "
        "order by benchmark, param_index",
        source,
        file_path,
        *params,
    )


def real_sympy() -> dict:
    return json.loads((machine_dir(fixture_path("results", "sympy-v1")) / SYMPY_FILE).read_text())


@pytest.mark.slow  # shares one small `datasmith materialize` (module fixture)
def test_every_real_file_loads_as_in_a_clean_run(faulty_warehouse):
    db, _ = faulty_warehouse
    for name in ("sympy", "conda"):
        clean = read_rows(
            db, f"select {COMPARED} from fct_measurements where source_name = ? order by all", f"{name}_clean"
        )
        bad = read_rows(
            db,
            f"""select {COMPARED} from fct_measurements where source_name = ?
                and file_path in (select file_path from fct_measurements where source_name = ?) order by all""",
            f"{name}_bad",
            f"{name}_clean",
        )
        assert len(clean) > 100
        assert [str(r) for r in bad] == [str(r) for r in clean]  # str: NaN equals NaN
        assert {r[8] for r in clean} <= {"ok", "failed", "skipped"}  # real data has no invalid row


@pytest.mark.slow  # shares one small `datasmith materialize` (module fixture)
def test_files_not_in_asvs_schema_are_quarantined_with_the_reason(faulty_warehouse):
    db, paths = faulty_warehouse
    p = paths["sympy_bad"]
    quarantined = {
        path: (reason, size, sha, content)
        for path, reason, size, sha, content in read_rows(
            db,
            "select relative_path, reason, size_bytes, sha256, content from raw.results_quarantine "
            "where source_name = 'sympy_bad'",
        )
    }
    assert set(quarantined) == {
        p["started_at_not_object"],
        p["date_not_number"],
        p["oversize"],
        p["symlink_outside"],
    }
    assert quarantined[p["started_at_not_object"]][0] == '"started_at" is a JSON varchar, not an object'
    assert quarantined[p["date_not_number"]][0] == '"date" is a JSON varchar, not a number'
    reason, size, sha, content = quarantined[p["oversize"]]
    assert reason.startswith(f"too large: {size} bytes exceeds the") and MAX_FILE_BYTES_ENV in reason
    assert content is None and len(sha) == 64
    reason, size, sha, content = quarantined[p["symlink_outside"]]
    assert "outside the source folder: not read" in reason
    assert content is None and sha is None and size is None
    assert not read_rows(db, "select 1 from fct_measurements where commit_hash like '5ec7e7%'")
    assert read_rows(db, "select count(*) from raw.results_quarantine where source_name <> 'sympy_bad'") == [
        (0,)
    ]


@pytest.mark.slow  # shares one small `datasmith materialize` (module fixture)
def test_a_symlink_inside_the_source_folder_loads(faulty_warehouse):
    db, paths = faulty_warehouse
    linked = rows_of(db, "sympy_bad", paths["sympy_bad"]["symlink_inside"])
    original = rows_of(db, "sympy_bad", f"results/Aarons-MacBook-Pro.local/{SYMPY_FILE}")
    assert len(linked) == len(original) > 0
    assert [(r["benchmark"], r["params"], r["value"]) for r in linked] == [
        (r["benchmark"], r["params"], r["value"]) for r in original
    ]


@pytest.mark.slow  # shares one small `datasmith materialize` (module fixture)
def test_bad_values_are_invalid_with_a_reason_and_the_rest_of_the_file_loads(faulty_warehouse):
    db, paths = faulty_warehouse
    real = real_sympy()
    rows = rows_of(db, "sympy_bad", paths["sympy_bad"]["values"])
    original = rows_of(db, "sympy_bad", f"results/Aarons-MacBook-Pro.local/{SYMPY_FILE}")
    assert len(rows) == len(original)
    invalid = {(r["benchmark"], r["param_index"]): r["problem"] for r in rows if r["status"] == "invalid"}
    plain = [k for k, v in real["results"].items() if isinstance(v, float) and ".time_" in k]
    grid = next(k for k, v in real["results"].items() if isinstance(v, dict) and len(v["params"][0]) > 2)
    assert invalid == {
        (plain[0], 0): "result is a JSON varchar, not a number or a list",
        (grid, 0): "result value is a JSON varchar, not a number",
        (plain[1], 0): "value is infinite",
        (plain[2], 0): "a time of 0.0 s (not above 0)",
        (plain[3], 0): "value is infinite",
    }
    by_key = {(r["benchmark"], r["param_index"]): r for r in rows}
    assert by_key[(plain[4], 0)]["status"] == "ok" and by_key[(plain[4], 0)]["started_at"] is None
    assert by_key[(plain[4], 0)]["problem"] == "started_at is not a number"
    assert (
        by_key[(plain[5], 0)]["status"] == "ok" and by_key[(plain[5], 0)]["problem"] == "stats is not a list"
    )
    assert (
        by_key[(grid, 1)]["status"] == "ok"
        and by_key[(grid, 1)]["value"] == real["results"][grid]["result"][1]
    )
    ok_before = {(r["benchmark"], r["param_index"]) for r in original if r["status"] == "ok"}
    ok_after = {(r["benchmark"], r["param_index"]) for r in rows if r["status"] == "ok"}
    assert ok_before - ok_after == set(invalid)  # every other value of the file is still ok


@pytest.mark.slow  # shares one small `datasmith materialize` (module fixture)
def test_invalid_values_never_reach_the_series(faulty_warehouse):
    db, _ = faulty_warehouse
    assert read_rows(db, "select count(*) from main.fct_series_points where not isfinite(value)") == [(0,)]
    assert read_rows(
        db,
        """select count(*) from fct_measurements where status = 'ok'
           and (not isfinite(value) or (benchmark_type = 'time' and value <= 0) or params is null)""",
    ) == [(0,)]


@pytest.mark.slow  # shares one small `datasmith materialize` (module fixture)
def test_a_benchmark_name_with_quotes_keeps_its_version_and_start(faulty_warehouse):
    db, paths = faulty_warehouse
    real = real_sympy()
    plain = [k for k, v in real["results"].items() if isinstance(v, float) and ".time_" in k]
    rows = rows_of(db, "sympy_bad", paths["sympy_bad"]["quoted"], "benchmark = ?", QUOTED)
    assert len(rows) == 1
    assert rows[0]["value"] == real["results"][plain[0]] and rows[0]["status"] == "ok"
    assert rows[0]["started_at"] is not None and rows[0]["problem"] is None


@pytest.mark.slow  # shares one small `datasmith materialize` (module fixture)
def test_a_grid_that_does_not_fit_leaves_params_null_with_the_reason(faulty_warehouse):
    db, paths = faulty_warehouse
    real = real_sympy()
    grid = next(k for k, v in real["results"].items() if isinstance(v, dict) and len(v["params"][0]) > 2)
    n = len(real["results"][grid]["result"])
    rows = rows_of(db, "sympy_bad", paths["sympy_bad"]["mismatch"], "benchmark = ?", grid)
    assert [r["value"] for r in rows] == real["results"][grid]["result"]  # nothing loaded is lost
    assert {(r["params"], r["status"], r["problem"]) for r in rows} == {
        (
            None,
            "invalid",
            f"the params grid has {n - 1} combinations but the result has {n} values: params unknown",
        )
    }
    others = rows_of(db, "sympy_bad", paths["sympy_bad"]["mismatch"], "benchmark <> ?", grid)
    assert others and all(r["params"] is not None for r in others)


@pytest.mark.slow  # shares one small `datasmith materialize` (module fixture)
def test_schema_2_bad_fields_are_flagged_and_the_file_loads(faulty_warehouse):
    db, paths = faulty_warehouse
    rows = rows_of(db, "conda_bad", paths["conda_bad"]["values"])
    original = rows_of(db, "conda_bad", f"results/Daniels-MBP.monotreme.club/{CONDA_FILE}")
    assert len(rows) == len(original)
    got = {(r["benchmark"], r["param_index"]): (r["status"], r["problem"], r["params"]) for r in rows}
    assert got[("time_create_python", 0)][:2] == ("ok", None)
    assert got[("time_create_python", 1)][:2] == ("invalid", "result value is a JSON varchar, not a number")
    assert got[("time_create_numpy_openblas", 0)][:2] == ("ok", "ci_99_a is not a list of numbers")
    assert got[("time_create_python_boost", 0)][:2] == ("ok", "duration is not a number")
    assert got[("time_solve_r_essentials_r_base_defaults", 0)][:2] == ("ok", "samples is not a list")
    assert got[("time_solve_r_essentials_r_base_conda_forge", 0)][:2] == ("ok", "started_at is not a number")
    assert got[("time_create_numpy_mkl", 0)] == (
        "invalid",
        "the params grid has 1 combinations but the result has 2 values: params unknown",
        None,
    )
    assert got[("time_solve_anaconda_53", 0)][:2] == ("invalid", "value is infinite")
    assert got[("time_solve_anaconda_53", 1)][:2] == ("invalid", "a time of 0.0 s (not above 0)")
    flagged = {k for k, v in got.items() if v[1] is not None}
    unflagged = {k: v for k, v in got.items() if k not in flagged}
    assert unflagged == {
        (r["benchmark"], r["param_index"]): (r["status"], r["problem"], r["params"])
        for r in original
        if (r["benchmark"], r["param_index"]) not in flagged
    }


def test_a_missing_results_path_is_one_clear_error(tmp_path):
    missing = tmp_path / "no-such-folder"
    sources_file = tmp_path / "sources.yml"
    with connect_writer(tmp_path / "w.duckdb") as con, pytest.raises(ResultsSourceError) as raised:
        ingest_results_source(con, ResultsSource("sympy", missing), sources_file=sources_file)
    message = str(raised.value)
    assert message == f"results source 'sympy': path {missing} does not exist (listed in {sources_file})"
    assert "\n" not in message
    assert (raised.value.source_name, raised.value.path, raised.value.sources_file) == (
        "sympy",
        missing,
        sources_file,
    )


def test_oversize_and_outside_files_are_not_read_again_on_a_rerun(tmp_path, monkeypatch):
    root = tmp_path / "sympy"
    shutil.copytree(fixture_path("results", "sympy-v1"), root)
    cap = largest_file(root) + 1
    paths = build_faulty_sympy(root, tmp_path / "outside", cap)
    monkeypatch.setenv(MAX_FILE_BYTES_ENV, str(cap))
    source = ResultsSource("sympy", root)
    with connect_writer(tmp_path / "w.duckdb") as con:
        first = ingest_results_source(con, source)
        second = ingest_results_source(con, source)
    assert {p for p, _ in first.quarantine_reasons} >= {paths["oversize"], paths["symlink_outside"]}
    assert second.files_quarantined == 0 and second.total_loaded == 0
    assert second.files_unchanged == first.files_seen

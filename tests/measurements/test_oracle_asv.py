"""Oracle test: every row of ``fct_measurements`` equals what asv's own loader reads from the same files.

The oracle is asv itself (the installed ``asv`` package), nothing of ours:

* Each real results set is copied to a temporary folder and every result file is passed through
  ``asv.results.Results.update`` -- the code path of ``asv update``, which converts schema v1 files to v2
  with ``Results.update_to_2`` (asv 0.6 refuses to load v1 files otherwise). v2 files are left as they are.
* The files are then enumerated with ``asv.results.iter_results_paths`` (the walk behind ``iter_results``:
  it yields only folders whose ``machine.json`` is valid, so conda's ``.asv/results/Daniels-MBP...`` folder,
  which holds only machine.json, and the set root's ``asv.conf.json`` yield nothing) and loaded with
  ``Results.load(path, machine_name=...)``.
* For every benchmark key of a file (``get_all_result_keys``: also names absent from benchmarks.json and rows
  whose version differs, which the warehouse keeps) the row's own grid is ``get_result_params(key)``, and
  ``get_result_value`` / ``get_result_stats`` / ``get_result_samples`` with that grid give one entry per
  combination of ``itertools.product(*params)``; its position is the ``param_index``.

That gives (machine dir, env_name, commit_hash, benchmark, param_index) -> value, params, stats, samples, which
is compared with the warehouse rows of the same set. Float comparisons are **exact** (``==``; NaN equals NaN,
None equals NULL): the warehouse and asv parse the same decimal text of the same file, and both must give the
nearest double. The one exception is asv's own rounding: ``update_to_2`` passes v1 stats through
``asv.util.truncate_float_list`` (5 significant digits), so for v1 files the warehouse's full-precision stats
are compared after the same asv function is applied to them.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from asv.results import Results, iter_results_paths
from asv.util import load_json, truncate_float_list

from tests.support.common import RESULTS_SETS, fixture_path

EPOCH = datetime(1970, 1, 1)
SHOW = 5  # examples quoted in an assertion message

Key = tuple[str, str, str, str, int]  # machine dir, env_name, commit_hash, benchmark, param_index


@dataclass(frozen=True, slots=True)
class Expected:
    """What asv reads for one parameter combination of one result row."""

    file_path: str
    schema_version: int
    value: float | None
    param_reprs: tuple[str, ...]
    param_names: tuple[str, ...]
    stats: dict | None
    n_samples: int | None
    commit_date: datetime
    benchmark_version: str | None
    started_at: datetime | None


@dataclass(frozen=True, slots=True)
class Actual:
    """One warehouse row, in the same shape."""

    file_path: str
    value: float | None
    status: str
    params: str
    ci_99_a: float | None
    ci_99_b: float | None
    q_25: float | None
    q_75: float | None
    stats_number: int | None
    stats_repeat: int | None
    n_samples: int | None
    commit_date: datetime
    benchmark_version: str | None
    started_at: datetime | None


def _ms(value: int | float | None) -> datetime | None:
    return None if value is None else EPOCH + timedelta(milliseconds=value)


def _param_names(benchmarks_json: Path, benchmark: str, n_params: int) -> tuple[str, ...]:
    """The contract's parameter names: the tree's benchmarks.json names when it lists as many as the row has,
    else param1, param2, ... (asv's names for unnamed parameters)."""
    names = _benchmark_descriptions(benchmarks_json).get(benchmark, {}).get("param_names") or []
    if len(names) == n_params:
        return tuple(names)
    return tuple(f"param{j + 1}" for j in range(n_params))


_DESCRIPTIONS: dict[Path, dict] = {}


def _benchmark_descriptions(path: Path) -> dict:
    if path not in _DESCRIPTIONS:
        _DESCRIPTIONS[path] = json.loads(path.read_text()) if path.is_file() else {}
    return _DESCRIPTIONS[path]


def asv_expected(set_root: Path, workdir: Path) -> dict[Key, Expected]:
    """Everything asv's loader reads from one results set, one entry per parameter combination."""
    copy = workdir / set_root.name
    shutil.copytree(set_root, copy)
    expected: dict[Key, Expected] = {}
    duplicates: list[Key] = []
    for root, filename, machine_name in iter_results_paths(str(copy)):
        path = os.path.join(root, filename)
        schema_version = load_json(path).get("version", 1)
        Results.update(path)  # what `asv update` does: v1 -> v2 through Results.update_to_2
        result = Results.load(path, machine_name=machine_name)
        machine_dir = os.path.basename(root)
        file_path = Path(path).relative_to(copy).as_posix()
        benchmarks_json = Path(root).parent / "benchmarks.json"
        for benchmark in result.get_all_result_keys():
            grid = result.get_result_params(benchmark)
            values = result.get_result_value(benchmark, grid)
            stats = result.get_result_stats(benchmark, grid)
            samples = result.get_result_samples(benchmark, grid)
            names = _param_names(benchmarks_json, benchmark, len(grid))
            combos = list(itertools.product(*grid))
            assert len(values) == len(stats) == len(samples) == len(combos)
            for index, combo in enumerate(combos):
                key = (machine_dir, result.env_name, result.commit_hash, benchmark, index)
                if key in expected:
                    duplicates.append(key)
                expected[key] = Expected(
                    file_path=file_path,
                    schema_version=schema_version,
                    value=values[index],
                    param_reprs=tuple(combo),
                    param_names=names,
                    stats=stats[index],
                    n_samples=None if samples[index] is None else len(samples[index]),
                    commit_date=_ms(result.date),
                    benchmark_version=result.benchmark_version.get(benchmark),
                    started_at=_ms(result.started_at.get(benchmark)),
                )
    assert not duplicates, f"asv gives the same key twice (not the contract's grain): {duplicates[:SHOW]}"
    return expected


def warehouse_rows(db: Path, source_name: str) -> dict[Key, Actual]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            """select machine, env_name, commit_hash, benchmark, param_index,
                      file_path, value, status, params, ci_99_a, ci_99_b, q_25, q_75,
                      stats_number, stats_repeat, n_samples, commit_date, benchmark_version, started_at
               from main.fct_measurements where source_name = ?""",
            [source_name],
        ).fetchall()
    finally:
        con.close()
    actual = {tuple(row[:5]): Actual(*row[5:]) for row in rows}
    assert len(actual) == len(rows), (
        f"{source_name}: the warehouse repeats a key ({len(rows) - len(actual)} times)"
    )
    return actual


@pytest.fixture(scope="module", params=RESULTS_SETS)
def oracle(request, tmp_path_factory, real_results_warehouse):
    """Per results set: (set name, asv's expected entries, the warehouse's rows), both keyed alike.

    Module-scoped and parametrised, so pytest runs all the tests of one set together and holds one set at a time.
    """
    name = request.param
    root = fixture_path("results", name)
    return (
        name,
        asv_expected(root, tmp_path_factory.mktemp(f"asv-{name}")),
        warehouse_rows(real_results_warehouse, name),
    )


def same(a: float | None, b: float | None) -> bool:
    """Exact equality where NaN equals NaN and None equals NULL."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def report(name: str, what: str, problems: list, total: int) -> str:
    shown = "\n  ".join(repr(p) for p in problems[:SHOW])
    return f"{name}: {len(problems)} of {total} rows differ in {what}, e.g.\n  {shown}"


def test_same_rows_as_asv(oracle):
    """The warehouse has exactly one row per combination asv reads: same key set, same count."""
    name, expected, actual = oracle
    missing = sorted(expected.keys() - actual.keys())
    extra = sorted(actual.keys() - expected.keys())
    assert not missing and not extra, (
        f"{name}: asv reads {len(expected)} combinations, the warehouse has {len(actual)} rows; "
        f"{len(missing)} missing, e.g. {missing[:SHOW]}; {len(extra)} extra, e.g. {extra[:SHOW]}"
    )
    assert len(actual) == len(expected)
    files = {e.file_path for e in expected.values()}
    assert {a.file_path for a in actual.values()} == files


def test_values_equal_asv(oracle):
    """Every value equals asv's ``get_result_value`` exactly, and the status follows it
    (null -> 'failed', NaN -> 'skipped', a number -> 'ok')."""
    name, expected, actual = oracle
    problems = []
    for key, exp in expected.items():
        got = actual.get(key)
        if got is None:
            continue  # reported by test_same_rows_as_asv
        want = None if exp.value is None else float(exp.value)
        status = "failed" if want is None else "skipped" if math.isnan(want) else "ok"
        if not same(want, got.value) or got.status != status:
            problems.append(
                (key, exp.file_path, f"asv {want!r} ({status})", f"warehouse {got.value!r} ({got.status})")
            )
    assert not problems, report(name, "value", problems, len(expected))


def test_params_text_equals_asv_combination(oracle):
    """``params`` is ``name=repr, ...`` whose repr strings are exactly asv's combination of the row's own grid
    (``itertools.product(*get_result_params(key))[param_index]``) in order, and whose names come from the
    tree's benchmarks.json (or param1, param2, ... when it does not name as many); '' when unparameterised."""
    name, expected, actual = oracle
    problems = []
    for key, exp in expected.items():
        got = actual.get(key)
        if got is None:
            continue
        want = ", ".join(f"{n}={v}" for n, v in zip(exp.param_names, exp.param_reprs, strict=True))
        if got.params != want:
            problems.append((key, f"asv {want!r}", f"warehouse {got.params!r}"))
    assert not problems, report(name, "params", problems, len(expected))


def test_stats_and_samples_equal_asv(oracle):
    """ci_99_a/b, q_25, q_75, stats number/repeat equal asv's ``get_result_stats`` (NULL where asv has none)
    and n_samples is the length of asv's ``get_result_samples`` entry. For v1 files the warehouse value is
    first rounded with asv's ``truncate_float_list``, as asv's ``update_to_2`` rounds the file's stats."""
    name, expected, actual = oracle
    problems = []
    with_stats = with_samples = 0
    for key, exp in expected.items():
        got = actual.get(key)
        if got is None:
            continue
        stats = exp.stats or {}
        with_stats += bool(stats)
        with_samples += exp.n_samples is not None
        for column, stat in (
            ("ci_99_a", "ci_99_a"),
            ("ci_99_b", "ci_99_b"),
            ("q_25", "q_25"),
            ("q_75", "q_75"),
            ("stats_number", "number"),
            ("stats_repeat", "repeat"),
        ):
            mine = getattr(got, column)
            if exp.schema_version == 1:
                mine = truncate_float_list(mine)
            want = stats.get(stat)
            if not same(None if want is None else float(want), None if mine is None else float(mine)):
                problems.append((key, column, f"asv {want!r}", f"warehouse {getattr(got, column)!r}"))
        if got.n_samples != exp.n_samples:
            problems.append((key, "n_samples", f"asv {exp.n_samples!r}", f"warehouse {got.n_samples!r}"))
    assert not problems, report(name, "stats", problems, len(expected))
    if name == "django":  # the set documented to carry samples and stats: make sure the check is not vacuous
        assert with_stats and with_samples


def test_row_fields_equal_asv(oracle):
    """commit_date is asv's ``date`` (ms), benchmark_version asv's per-benchmark ``version`` and started_at
    asv's per-benchmark ``started_at`` (ms); file_path is the file asv loaded, relative to the set folder."""
    name, expected, actual = oracle
    problems = []
    for key, exp in expected.items():
        got = actual.get(key)
        if got is None:
            continue
        for field in ("file_path", "commit_date", "benchmark_version", "started_at"):
            want, mine = getattr(exp, field), getattr(got, field)
            if want != mine:
                problems.append((key, field, f"asv {want!r}", f"warehouse {mine!r}"))
    assert not problems, report(name, "file fields", problems, len(expected))

"""Fuzz: seeded mutations of real result files and dashboard documents through `datasmith materialize`.

One materialisation loads each real set twice: once as a clean source (the files as published) and once as a
fuzzed source (the same files plus mutated copies of some result files, and some dashboard series files
mutated in place). Mutations cycle through a catalogue (places and values drawn with a fixed seed) of what breaks loaders: truncation,
type swaps at random places of a document, hostile strings as names and identifiers, numbers JSON cannot
hold. The assertions are the raw layer's promises, whatever the mutation was:

- the run ends, and with exit 0 (every source could be read; bad files are not a failed run);
- every file that was not mutated has exactly the rows its clean twin has (nothing else changed);
- every mutated file is either quarantined / recorded missing with a reason (and has no rows), or loaded with
  its untouched benchmarks equal to the clean file's and every touched value either equal to the clean one or
  'invalid' with a problem: no wrong number is ever 'ok'.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import shutil
from pathlib import Path

import pytest

from tests.support.common import fixture_path, materialize, read_rows

SEED = 13
RESULT_MUTANTS = 24  # mutated copies of real result files (new file names and commit hashes)
SERIES_MUTANTS = 8  # dashboard series files mutated in place
HOSTILE = [
    'a"b',
    "a'b",
    "back\\slash",
    "new\nline",
    "tab\there",
    "$.results[0]",
    "'; drop table raw.asv_result_files; --",
    "--output=/tmp/x",
    "ünï©ødé ✓",
    "a" * 300,
    "\u202eevil",
]
WRONG_TYPES = ["x", "0.3", True, {}, {"a": 1}, [], ["x"], [[1.0]]]


def _new_hash(rng: random.Random) -> str:
    return hashlib.sha1(str(rng.random()).encode()).hexdigest()


def _pick_path(rng: random.Random, node, path=()):
    """A random path to a leaf or container inside `node` (lists and dicts walked at random)."""
    while True:
        if isinstance(node, dict) and node and rng.random() < 0.8:
            key = rng.choice(list(node))
            path, node = (*path, key), node[key]
        elif isinstance(node, list) and node and rng.random() < 0.8:
            index = rng.randrange(len(node))
            path, node = (*path, index), node[index]
        else:
            return path


def _set(doc, path, value):
    target = doc
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value


RESULT_KINDS = ("truncate", "value_type", "deep_type", "hostile_name", "hostile_commit", "overflow", "drop")
SERIES_KINDS = ("truncate", "y_type", "point_type", "top_type")


def mutate_result(rng: random.Random, doc: dict, kind: str) -> tuple[str, str, set[str] | None]:
    """(kind, new text, benchmarks touched or None when the whole file may be affected)."""
    doc = json.loads(json.dumps(doc))
    doc["commit_hash"] = _new_hash(rng)
    names = list(doc["results"])
    if kind == "truncate":
        text = json.dumps(doc)
        return kind, text[: rng.randrange(1, len(text) - 1)], None
    if kind == "value_type":  # one benchmark's whole result replaced by a wrong type
        name = rng.choice(names)
        doc["results"][name] = rng.choice(WRONG_TYPES)
        return kind, json.dumps(doc), {name}
    if kind == "deep_type":  # somewhere inside one benchmark's result
        name = rng.choice(names)
        path = _pick_path(rng, doc["results"][name])
        if path:
            _set(doc["results"][name], path, rng.choice(WRONG_TYPES))
        else:
            doc["results"][name] = rng.choice(WRONG_TYPES)
        return kind, json.dumps(doc), {name}
    if kind == "hostile_name":  # a benchmark renamed; its rows must load under the name as written
        name = rng.choice(names)
        new = rng.choice(HOSTILE)
        for field in ("results", "started_at", "ended_at", "profiles"):
            if isinstance(doc.get(field), dict) and name in doc[field]:
                doc[field][new] = doc[field].pop(name)
        return kind, json.dumps(doc), {name, new}
    if kind == "hostile_commit":
        doc["commit_hash"] = rng.choice(HOSTILE)
        return kind, json.dumps(doc), None
    if kind == "overflow":  # a number no double holds: DuckDB and Python read it as infinity
        name = rng.choice(names)
        doc["results"][name] = "__OVERFLOW__"
        return kind, json.dumps(doc).replace('"__OVERFLOW__"', "1e999"), {name}
    field = rng.choice(["results", "commit_hash", "version", "params", "env_name"])
    doc.pop(field, None)
    return f"drop {field}", json.dumps(doc), None


def mutate_series(rng: random.Random, doc: list, kind: str) -> tuple[str, str]:
    doc = json.loads(json.dumps(doc))
    if kind == "truncate":
        text = json.dumps(doc)
        return kind, text[: rng.randrange(1, len(text) - 1)]
    if kind == "y_type" and doc:
        doc[rng.randrange(len(doc))][1] = rng.choice(WRONG_TYPES)
    elif kind == "point_type" and doc:
        doc[rng.randrange(len(doc))] = rng.choice(WRONG_TYPES + HOSTILE[:3])
    else:
        kind, doc = "top_type", {"series": doc}
    return kind, json.dumps(doc)


ROW = "benchmark, params, param_index, value, status, problem"


def _rows(db: Path, source: str, file_path: str) -> list[tuple]:
    return read_rows(
        db,
        f"select {ROW} from fct_measurements where source_name = ? and file_path = ? order by all",
        source,
        file_path,
    )


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


@pytest.mark.slow
def test_mutated_real_inputs_never_break_the_run_nor_other_files(tmp_path):
    rng = random.Random(SEED)
    clean_conda, fuzz_conda = tmp_path / "conda-clean", tmp_path / "conda-fuzz"
    clean_sympy, fuzz_sympy = tmp_path / "sympy-clean", tmp_path / "sympy-fuzz"
    clean_dash, fuzz_dash = tmp_path / "dask-clean", tmp_path / "dask-fuzz"
    for src, dests in (
        (fixture_path("results", "conda") / "results", (clean_conda / "results", fuzz_conda / "results")),
        (fixture_path("results", "sympy-v1"), (clean_sympy, fuzz_sympy)),
        (fixture_path("dashboards", "dask-2017", "dask"), (clean_dash, fuzz_dash)),
    ):
        for dest in dests:
            shutil.copytree(src, dest)

    # Mutated copies of real result files, beside the originals, each under a new commit hash.
    originals = [
        (root, path)
        for root in (fuzz_conda, fuzz_sympy)
        for path in sorted(root.rglob("*.json"))
        if path.parent.name not in ("results",)
        and path.name not in ("machine.json", "benchmarks.json")
        and "asv.conf" not in path.name
    ]
    mutants: dict[tuple[str, str], tuple[str, str, set[str] | None]] = {}
    for i in range(RESULT_MUTANTS):
        root, original = rng.choice(originals)
        kind, text, touched = mutate_result(
            rng, json.loads(original.read_text()), RESULT_KINDS[i % len(RESULT_KINDS)]
        )
        target = original.with_name(f"{i:08x}-fuzz{original.name[8:]}")
        target.write_text(text)
        source = "conda-fuzz" if root == fuzz_conda else "sympy-fuzz"
        mutants[(source, target.relative_to(root).as_posix())] = (
            kind,
            original.relative_to(root).as_posix(),
            touched,
        )

    series_files = sorted(p for p in (fuzz_dash / "graphs").rglob("*.json") if "summary" not in p.parts)
    mutated_series: dict[str, str] = {}
    for i, path in enumerate(rng.sample(series_files, SERIES_MUTANTS)):
        kind, text = mutate_series(rng, json.loads(path.read_text()), SERIES_KINDS[i % len(SERIES_KINDS)])
        path.write_text(text)
        mutated_series[path.relative_to(fuzz_dash).as_posix()] = kind

    sources = tmp_path / "sources.yml"
    sources.write_text(
        json.dumps(
            {
                "results": [
                    {"name": "conda-clean", "path": str(clean_conda), "repo": "conda/conda"},
                    {"name": "conda-fuzz", "path": str(fuzz_conda), "repo": "conda/conda"},
                    {"name": "sympy-clean", "path": str(clean_sympy), "repo": "sympy/sympy"},
                    {"name": "sympy-fuzz", "path": str(fuzz_sympy), "repo": "sympy/sympy"},
                ],
                "dashboards": [
                    {"name": "dask-clean", "url": str(clean_dash), "repo": "dask/dask"},
                    {"name": "dask-fuzz", "url": str(fuzz_dash), "repo": "dask/dask"},
                ],
            }
        )
    )
    db = tmp_path / "w.duckdb"
    drawn = sorted(kind for kind, _, _ in mutants.values()) + sorted(mutated_series.values())
    assert materialize(sources, db) == 0, f"the run failed; mutations drawn: {drawn}"

    quarantined = {
        (s, p): r
        for s, p, r in read_rows(db, "select source_name, relative_path, reason from raw.results_quarantine")
    }
    missing = {
        p: r
        for p, r in read_rows(
            db, "select relative_path, reason from raw.dashboard_missing where source_name = 'dask-fuzz'"
        )
    }

    # Nothing else changed: every real file of a fuzzed source has exactly its clean twin's rows.
    for clean, fuzz in (
        ("conda-clean", "conda-fuzz"),
        ("sympy-clean", "sympy-fuzz"),
        ("dask-clean", "dask-fuzz"),
    ):
        paths = read_rows(db, "select distinct file_path from fct_measurements where source_name = ?", clean)
        assert paths, clean
        for (path,) in paths:
            if path in mutated_series and fuzz == "dask-fuzz":
                continue
            clean_rows, fuzz_rows = _rows(db, clean, path), _rows(db, fuzz, path)
            assert len(clean_rows) == len(fuzz_rows) and all(
                all(_same(a, b) for a, b in zip(x, y, strict=True))
                for x, y in zip(clean_rows, fuzz_rows, strict=True)
            ), f"{fuzz}:{path} changed"

    # Every mutated result file: quarantined with a reason, or loaded without a wrong 'ok' value.
    for (source, path), (kind, original, touched) in mutants.items():
        rows = _rows(db, source, path)
        if (source, path) in quarantined:
            assert quarantined[(source, path)], (kind, path)
            assert rows == [], f"{kind}: quarantined {path} still has rows"
            continue
        assert kind not in ("truncate", "hostile_commit"), f"{kind}: {path} was loaded: {rows[:3]}"
        clean = {(r[0], r[1], r[2]): r for r in _rows(db, source.replace("fuzz", "clean"), original)}
        assert rows or not clean, f"{kind}: {path} neither loaded nor quarantined"
        for row in rows:
            benchmark, params, index, value, status, problem = row
            if status == "invalid":
                assert problem, f"{kind}: {path}: invalid row without a reason: {row}"
                continue
            if touched is not None and benchmark not in touched:
                twin = clean.get((benchmark, params, index))
                assert twin is not None and _same(twin[3], value) and twin[4] == status, (
                    kind,
                    path,
                    row,
                    twin,
                )
            elif status == "ok":
                # a touched value that is 'ok' must be a value the real file had for that benchmark
                real_values = [r[3] for r in clean.values() if r[0] in (touched or {benchmark})] or [
                    r[3] for r in clean.values()
                ]
                assert any(_same(value, v) for v in real_values), f"{kind}: {path}: wrong value is ok: {row}"

    # Every mutated series file: recorded missing with a reason, or its loaded points are real or invalid.
    for path, kind in mutated_series.items():
        rows = _rows(db, "dask-fuzz", path)
        if path in missing:
            assert missing[path] and rows == [], (kind, path)
            continue
        assert kind in ("y_type", "point_type"), f"{kind}: {path} was neither missing nor refused"
        clean_values = [r[3] for r in _rows(db, "dask-clean", path)]
        for row in rows:
            if row[4] == "invalid":
                assert row[5], (kind, path, row)
            elif row[4] == "ok":
                assert any(_same(row[3], v) for v in clean_values), (
                    f"{kind}: {path}: wrong value is ok: {row}"
                )

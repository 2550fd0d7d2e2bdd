"""bench/scale.py's data builders on real fixtures: the series shapes (the same result files as many short
or few long series) and the enlarged dashboard site (every file the index promises is there)."""

from __future__ import annotations

import json

from bench.scale import parse_size, shape_copy, write_site
from ingest.dashboards.layout import promised_files, site_layout
from tests.support.common import fixture_path


def test_sizes_parse():
    assert [parse_size(s) for s in ("1M", "10M", "300k", "2.5M", "17")] == [
        1_000_000,
        10_000_000,
        300_000,
        2_500_000,
        17,
    ]


def _result_files(root):
    return sorted(p for p in (root / "results").glob("*/*.json") if p.name != "machine.json")


def test_shapes_hold_the_same_results_as_short_or_long_series(tmp_path):
    source = fixture_path("results", "django")
    originals = _result_files(source)
    short, long = tmp_path / "short", tmp_path / "long"
    shape_copy(source, short, 2, "short")
    shape_copy(source, long, 2, "long")
    short_files, long_files = _result_files(short), _result_files(long)
    assert len(short_files) == len(long_files) == 2 * len(originals)

    # short: twice the machines, each with the original commits; long: the original machines, twice the commits
    assert len({p.parent.name for p in short_files}) == 2 * len({p.parent.name for p in originals})
    assert {p.parent.name for p in long_files} == {p.parent.name for p in originals}
    long_docs = [json.loads(p.read_bytes()) for p in long_files]
    assert len({d["commit_hash"] for d in long_docs}) == 2 * len(
        {json.loads(p.read_bytes())["commit_hash"] for p in originals}
    )
    # the copy's commits all come after the original's last one, so the series are concatenated in order
    original_hashes = {json.loads(p.read_bytes())["commit_hash"] for p in originals}
    first = max(d["date"] for d in long_docs if d["commit_hash"] in original_hashes)
    assert min(d["date"] for d in long_docs if d["commit_hash"] not in original_hashes) > first
    # values are the real ones
    original = json.loads(originals[0].read_bytes())
    copied = next(
        d
        for d in long_docs
        if d["results"] == original["results"] and d["commit_hash"] != original["commit_hash"]
    )
    assert copied["env_name"] == original["env_name"]


def test_enlarged_site_has_every_promised_file_the_original_has(tmp_path):
    base = fixture_path("dashboards", "django")
    original = json.loads((base / "index.json").read_bytes())
    missing_before = [
        f for f in promised_files(site_layout(original, True)) if not (base / f.relative_path).exists()
    ]
    files, size = write_site(tmp_path / "site", 3, base="django")
    index = json.loads((tmp_path / "site" / "index.json").read_bytes())
    assert len(index["machines"]) == 3 * len(original["machines"])
    promised = promised_files(site_layout(index, True))
    missing = [f for f in promised if not (tmp_path / "site" / f.relative_path).exists()]
    assert len(missing) == 3 * len(missing_before)
    assert files == sum(1 for f in promised if f.machine is not None) - len(missing) and size > 0

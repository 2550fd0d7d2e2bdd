"""The export loads back with pyarrow, pandas, DuckDB and `datasets`, and matches the marts it came from."""

from __future__ import annotations

import json
import math
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest

from dataset.export import WORKLOAD_FIELDS, read_card_header
from tests.support.dataset_support import demo_clone_path, git, shared_demo_warehouse


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return shared_demo_warehouse(tmp_path_factory)


def marts(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def improvements_by_task(db: Path) -> dict[str, set]:
    """From fct_performance_improvements directly: each commit's improved workloads (our runs first)."""
    rows = marts(
        db,
        """select commit_after, machine, benchmark, params, value_before, value_after, speedup, significance
           from main.fct_performance_improvements
           qualify row_number() over (partition by commit_after, machine, benchmark, params
                                      order by source_kind = 'results' desc, method = 'rbf' desc) = 1""",
    )
    out: dict[str, set] = {}
    for commit, machine, benchmark, params, before, after, speedup, p in rows:
        out.setdefault(commit, set()).add((benchmark, params, machine, before, after, speedup, p))
    return out


def as_set(workloads) -> set:
    return {tuple(w[f] for f in WORKLOAD_FIELDS) for w in workloads}


def test_every_reader_loads_the_same_tasks_and_they_match_the_marts(demo, tmp_path):
    folder = demo.parent / "dataset"
    expected = improvements_by_task(demo)
    improving = {row[0] for row in marts(demo, "select commit_hash from main.fct_improving_commits")}
    assert set(expected) == improving and len(improving) == 2  # the sample's two planted speed-ups

    table = pq.read_table(folder / "tasks.parquet")
    frame = pd.read_parquet(folder / "tasks.parquet")
    con = duckdb.connect()
    from_duckdb = con.execute(f"select * from read_parquet('{folder / 'tasks.parquet'}')").fetchall()
    names = [d[0] for d in con.description]
    lines = [json.loads(line) for line in (folder / "tasks.jsonl").read_text().splitlines()]
    from datasets import load_dataset

    hub = load_dataset(
        "parquet", data_files=str(folder / "tasks.parquet"), split="train", cache_dir=str(tmp_path)
    )

    assert table.num_rows == len(frame) == len(from_duckdb) == len(lines) == hub.num_rows == len(expected)
    for row in table.to_pylist():
        commit = row["commit_hash"]
        assert as_set(row["workloads"]) == expected[commit]
        speeds = sorted(w[5] for w in expected[commit])
        assert row["n_workloads"] == len(speeds)
        assert row["max_speedup"] == pytest.approx(max(speeds))
        mid = len(speeds) // 2
        median = speeds[mid] if len(speeds) % 2 else (speeds[mid - 1] + speeds[mid]) / 2
        assert row["median_speedup"] == pytest.approx(median)
        assert row["source"] == "results"
        assert row["task_id"] == f"datasmith-demo_fastfuncs_{commit[:8]}"  # no pull request in the demo
        assert row["pr_number"] is None
        assert row["problem_statement"].startswith(f"# datasmith-demo/fastfuncs@{commit[:8]}")
    # the same rows through pandas, DuckDB, JSON lines and datasets
    by_id = {r["task_id"]: r for r in table.to_pylist()}
    for record in frame.to_dict("records"):
        assert as_set(record["workloads"]) == as_set(by_id[record["task_id"]]["workloads"])
    for values in from_duckdb:
        record = dict(zip(names, values, strict=True))
        assert as_set(record["workloads"]) == as_set(by_id[record["task_id"]]["workloads"])
    for record in lines:
        assert record["patch"] == by_id[record["task_id"]]["patch"]
        assert as_set(record["workloads"]) == as_set(by_id[record["task_id"]]["workloads"])
    for record in hub:
        assert record["problem_statement"] == by_id[record["task_id"]]["problem_statement"]
        assert as_set(record["workloads"]) == as_set(by_id[record["task_id"]]["workloads"])


def test_patch_is_the_commits_diff_from_the_clone(demo):
    clone = demo_clone_path(demo)
    for row in pq.read_table(demo.parent / "dataset" / "tasks.parquet").to_pylist():
        assert row["patch"] == git(
            clone, "diff", "--no-color", "--binary", f"{row['commit_hash']}^..{row['commit_hash']}"
        )
        assert row["base_commit"] == git(clone, "rev-parse", f"{row['commit_hash']}^").strip()


def test_card_header_describes_the_files_as_datasets_reads_them(demo, tmp_path):
    folder = demo.parent / "dataset"
    header = read_card_header(folder)
    from datasets import Features, load_dataset

    hub = load_dataset(
        "parquet", data_files=str(folder / "tasks.parquet"), split="train", cache_dir=str(tmp_path)
    )
    assert Features._from_yaml_list(header["dataset_info"]["features"]) == hub.features
    configs = {c["config_name"]: c["data_files"][0]["path"] for c in header["configs"]}
    assert configs.pop("default") == "tasks.parquet"
    months = {
        row[0] for row in marts(demo, "select distinct strftime(commit_date, '%Y-%m') from main.fct_tasks")
    }
    assert set(configs) == months == {"2024-01"}
    total = 0
    for month, path in configs.items():
        part = pq.read_table(folder / path).to_pylist()
        assert part and all(r["month"] == month for r in part)
        total += len(part)
    assert total == pq.read_table(folder / "tasks.parquet").num_rows
    assert header["dataset_info"]["splits"][0]["num_examples"] == total
    card = (folder / "README.md").read_text()
    assert "| `datasmith-demo/fastfuncs` |" in card  # a license row per source repository


def test_values_are_finite_and_speedups_are_before_over_after(demo):
    for row in pq.read_table(demo.parent / "dataset" / "tasks.parquet").to_pylist():
        for w in row["workloads"]:
            assert math.isfinite(w["speedup"]) and w["speedup"] > 1
            assert w["speedup"] == pytest.approx(w["before"] / w["after"])

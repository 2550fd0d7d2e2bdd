"""The dataset export: one row per task as Parquet and JSONL, with a dataset card for dataset hubs.

Layout under ``<warehouse folder>/dataset/``::

    tasks.parquet, tasks.jsonl          every task
    data/<YYYY-MM>.parquet              the tasks merged (or, without a pull request, committed) that month
    README.md                           the card: YAML header (configs, features, license) + description
    .datasmith-export                   the marker: this folder is the export's, and the next export replaces it

The export replaces only a folder it wrote itself (it holds the marker, or only the files above, as exports
before the marker wrote them): any other folder in the way is left alone and the export fails saying so.
The rows are fct_tasks joined to fct_commit_reports; the columns follow FormulaCode / SWE-bench.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import yaml

from dataset.github_context import relation_columns
from dataset.profile_report import CARD_ROW, with_profile_deltas

MARKER = ".datasmith-export"
WORKLOAD_FIELDS = ("benchmark", "params", "machine", "before", "after", "speedup", "significance")

EXPORT_SQL = """
select
    coalesce(reports.task_id, tasks.commit_task_id)       as task_id,
    tasks.repo                                            as repo_name,
    reports.pr_number                                     as pr_number,
    reports.pr_merged_at                                  as pr_merged_at,
    reports.pr_merge_commit_sha                           as pr_merge_commit_sha,
    reports.pr_base_sha                                   as pr_base_sha,
    tasks.commit_hash                                     as commit_hash,
    coalesce(reports.pr_base_sha, tasks.commit_before)    as base_commit,
    tasks.commit_date                                     as commit_date,
    strftime(coalesce(reports.pr_merged_at, tasks.commit_date), '%Y-%m') as month,
    reports.patch                                         as patch,
    reports.report_markdown                               as problem_statement,
    list_transform(tasks.workloads, lambda w: {
        'benchmark': w.benchmark, 'params': w.params, 'machine': w.machine, 'before': w.before,
        'after': w.after, 'speedup': w.speedup, 'significance': w.significance
    })                                                    as workloads,
    tasks.n_workloads                                     as n_workloads,
    tasks.median_speedup                                  as median_speedup,
    tasks.max_speedup                                     as max_speedup,
    tasks.source                                          as source,
    tasks.confidence                                      as confidence
from main.fct_tasks as tasks
left join main.fct_commit_reports as reports
    on reports.commit_task_id = tasks.commit_task_id
order by month, repo_name, task_id
"""


@dataclass(frozen=True)
class ExportReport:
    folder: Path
    tasks: int
    months: tuple[str, ...]
    repos: tuple[str, ...]


class ExportError(RuntimeError):
    """The export cannot be written where it was asked to be (one line, naming the path)."""


def _check_replaceable(path: Path) -> None:
    """Raise unless path is absent, an empty folder, or a folder this export wrote (see the module doc)."""
    if not path.exists() and not path.is_symlink():
        return
    if path.is_dir() and not path.is_symlink():
        entries = {entry.name: entry for entry in path.iterdir()}
        if MARKER in entries or _is_unmarked_export(entries):
            return
    raise ExportError(
        f"{path} is in the way of the dataset export and was not written by it (no {MARKER} file): "
        "move it away; the export replaces only a folder it wrote"
    )


def _is_unmarked_export(entries: dict[str, Path]) -> bool:
    """Only the files an export wrote before it left its marker (empty: nothing to lose either)."""
    data = entries.get("data")
    if set(entries) - {"tasks.parquet", "tasks.jsonl", "README.md", "data"}:
        return False
    if data is None:
        return True
    return (
        data.is_dir()
        and not data.is_symlink()
        and all(re.fullmatch(r"\d{4}-\d{2}\.parquet", f.name) and f.is_file() for f in data.iterdir())
    )


def export_dataset(con: duckdb.DuckDBPyConnection, folder: Path) -> ExportReport:
    """Write the export into folder (replacing a previous export, never anything else) and return what was
    written. Raises ExportError when a folder that is not an export is in the way; leaves no staging folder."""
    staging = folder.with_name(folder.name + ".tmp")
    _check_replaceable(folder)
    _check_replaceable(staging)
    table = with_profile_deltas(con, con.sql(EXPORT_SQL).to_arrow_table())  # profile_report.py
    if staging.exists():
        shutil.rmtree(staging)
    try:
        (staging / "data").mkdir(parents=True)
        (staging / MARKER).write_text(
            "Written by the DataSmith dataset export; the next export replaces this folder.\n",
            encoding="utf-8",
        )
        pq.write_table(table, staging / "tasks.parquet")
        months = sorted({m for m in table.column("month").to_pylist() if m})
        for month in months:
            pq.write_table(table.filter(_month_mask(table, month)), staging / "data" / f"{month}.parquet")
        con.register("export_rows", table)
        try:  # the path as a parameter: any character in it is data, never SQL
            con.execute("copy export_rows to $path (format json)", {"path": str(staging / "tasks.jsonl")})
        finally:
            con.unregister("export_rows")
        repos = tuple(sorted(set(table.column("repo_name").to_pylist())))
        card = dataset_card(table, months, _licenses(con, repos))
        (staging / "README.md").write_text(card, encoding="utf-8")
        # Swap in whole: a reader never sees half an export.
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return ExportReport(folder, table.num_rows, tuple(months), repos)


def _month_mask(table, month: str):
    import pyarrow.compute as pc

    return pc.equal(table.column("month"), month)


def _licenses(con: duckdb.DuckDBPyConnection, repos: tuple[str, ...]) -> dict[str, str | None]:
    """Each task repository's license (an SPDX id, or GitHub's NOASSERTION) from the GitHub stage's
    dim_repositories, matched by name case-insensitively; None when the stage has none for it (or did not run)."""
    found: dict[str, str | None] = dict.fromkeys(repos)
    if {"repo_name", "license_spdx"} <= relation_columns(con, "dim_repositories"):
        by_name = {
            repo.lower(): spdx
            for repo, spdx in con.execute(
                "select repo_name, license_spdx from main.dim_repositories"
            ).fetchall()
        }
        for repo in repos:
            found[repo] = by_name.get(repo.lower())
    return found


def hub_features(table) -> list:
    """The card's `dataset_info.features`, as the `datasets` library writes them for this schema."""
    from datasets import DatasetInfo, Features

    return DatasetInfo(features=Features.from_arrow_schema(table.schema))._to_yaml_dict()["features"]


def dataset_card(table, months: list[str], licenses: dict[str, str | None]) -> str:
    configs = [
        {
            "config_name": "default",
            "data_files": [{"split": "test", "path": "tasks.parquet"}],
            "default": True,
        }
    ]
    configs += [
        {"config_name": m, "data_files": [{"split": "test", "path": f"data/{m}.parquet"}]} for m in months
    ]
    header = {
        "license": "other",
        "license_name": "per-repository",
        "license_details": "Each task's patch and text come from its source repository, under that repository's license (see below).",
        "pretty_name": "DataSmith performance-improvement tasks",
        "tags": ["code", "performance", "benchmark", "asv", "formulacode"],
        "task_categories": ["text-generation"],
        "size_categories": [_size_category(table.num_rows)],
        "configs": configs,
        "dataset_info": {"features": hub_features(table), "splits": [{"name": "test", "num_examples": table.num_rows}]},
    }  # fmt: skip
    license_rows = "\n".join(
        f"| `{repo}` | {_license_cell(spdx)} |" for repo, spdx in sorted(licenses.items())
    )
    return f"""---
{yaml.safe_dump(header, sort_keys=False, allow_unicode=True)}---

# DataSmith performance-improvement tasks

Commits in Python projects that made their own asv benchmarks measurably faster, found by change-point
detection over asv results and published dashboards, one task per commit (FormulaCode's format).
{table.num_rows} task(s) from {len(licenses)} repositor{"y" if len(licenses) == 1 else "ies"}; monthly
configs (`YYYY-MM`, by merge date, else commit date): {", ".join(months) or "none"}.

## Columns

| column | meaning |
|---|---|
| `task_id` | `<owner>_<repo>_<pr_number>`; `<owner>_<repo>_<commit8>` when no pull request is known |
| `repo_name` | owner/name on GitHub |
| `pr_number`, `pr_merged_at`, `pr_merge_commit_sha`, `pr_base_sha` | the merged pull request (null when unknown) |
| `commit_hash` | the improving commit; `base_commit` the commit a solver starts from (`pr_base_sha`, else the last measured commit before) |
| `patch` | the human's change as a unified diff (null when no clone was available) |
| `problem_statement` | the commit report (Markdown): commit, pull request and discussion, the benchmarks sped up, changed files |
| `workloads` | list of {{{", ".join(WORKLOAD_FIELDS)}}}; `before`/`after` are segment medians in the benchmark's unit, `speedup` = before/after, `significance` the Mann-Whitney U p-value |
| `n_workloads`, `median_speedup`, `max_speedup` | over the workloads |
| `source` | `results` (our own asv runs) or `dashboard` (a published asv dashboard) |
| `confidence` | the strongest evidence among the workloads: `replicated` (another measurement set measured the speed-up independently), `ci_separated` (asv's 99% CIs on either side do not overlap) or `segments` (the segment Mann-Whitney test only) |
{CARD_ROW}

## Licenses

| repository | license |
|---|---|
{license_rows}

## Loading

```python
from datasets import load_dataset
tasks = load_dataset("parquet", data_files="tasks.parquet", split="train")
```
"""


def _license_cell(spdx: str | None) -> str:
    if not spdx:
        return "unknown: check the repository before redistributing"
    if spdx == "NOASSERTION":  # GitHub found a license it could not identify
        return "NOASSERTION (a license GitHub could not identify): check the repository before redistributing"
    return spdx


def _size_category(n: int) -> str:
    return "n<1K" if n < 1000 else "1K<n<10K" if n < 10_000 else "10K<n<100K"


def read_card_header(folder: Path) -> dict:
    text = (folder / "README.md").read_text(encoding="utf-8")
    return yaml.safe_load(text.split("---\n", 2)[1])


def as_json_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

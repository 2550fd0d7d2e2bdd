"""Speed of the dataset stage on real data: `python -m bench.dataset [--db WAREHOUSE]`.

Builds (once, or reuses --db) a warehouse from the five real results sets in $DATASMITH_FIXTURES, then
times, on the same tasks and in the same run:
- commit reports: ours (every plotted series in one query, matplotlib's Figure) against the plain way
  (one query per task on the series view, pyplot figures), both writing the same Markdown;
- the export: ours (Parquet + JSONL + monthly files + card) against the original's pickled DataFrame
  of the same rows.
Prints the times and the ratios; nothing is asserted.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

RESULTS_SETS = {
    "django": "django/django",
    "numpy": "numpy/numpy",
    "conda": "conda/conda",
    "photutils": "astropy/photutils",
    "sympy-v1": "sympy/sympy",
}


def build_warehouse(folder: Path) -> Path:
    import os

    import yaml

    from assets.cli import main

    fixtures = Path(
        os.environ.get("DATASMITH_FIXTURES", Path(__file__).resolve().parents[2] / "shared" / "fixtures")
    )
    sources = folder / "sources.yml"
    entries = [{"name": n, "path": str(fixtures / "results" / n), "repo": r} for n, r in RESULTS_SETS.items()]
    sources.write_text(yaml.safe_dump({"results": entries}, sort_keys=False))
    db = folder / "warehouse.duckdb"
    if main(["materialize", "--sources", str(sources), "--db", str(db)]) != 0:
        raise SystemExit("materialize failed")
    return db


def plain_reports(con, db: Path, out: Path) -> int:
    """The straightforward loop: per task, its series from the view, a pyplot figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dataset.reports import Discussion, load_tasks, render_report, task_id_for

    out.mkdir(parents=True, exist_ok=True)
    tasks = load_tasks(con)
    for task in tasks:
        points = con.execute(
            """select position, commit_hash, commit_date, value from main.fct_series_points
               where series_id = ? order by position""",
            [task["top_series_id"]],
        ).fetchall()
        task_id = task_id_for(task["repo"], None, task["commit_hash"])
        fig, ax = plt.subplots(figsize=(5, 2.6), dpi=80)
        ax.plot([p[0] for p in points], [p[3] for p in points], marker="o", markersize=3)
        ax.set_yscale("log")
        fig.tight_layout()
        fig.savefig(out / f"{task_id}.png")
        plt.close(fig)
        markdown = render_report(task, task_id, None, None, Discussion(), [], {}, None, f"{task_id}.png")
        (out / f"{task_id}.md").write_text(markdown)
    return len(tasks)


def best_of(runs: int, work) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--db", type=Path, help="an existing warehouse (default: build one from the fixtures)"
    )
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)

    import duckdb

    from dataset.export import EXPORT_SQL, export_dataset
    from dataset.reports import build_reports

    work = Path(tempfile.mkdtemp(prefix="datasmith-dataset-bench-"))
    try:
        source_db = args.db or build_warehouse(work)
        db = work / "bench.duckdb"
        shutil.copyfile(source_db, db)
        con = duckdb.connect(str(db))
        n = con.execute("select count(*) from main.fct_tasks").fetchone()[0]
        ours = best_of(args.runs, lambda: build_reports(con, db, work / "ours"))
        plain = best_of(args.runs, lambda: plain_reports(con, db, work / "plain"))
        print(f"commit reports, {n} tasks: plain loop {plain:.2f} s, ours {ours:.2f} s ({plain / ours:.2f}x)")
        export = best_of(args.runs, lambda: export_dataset(con, work / "dataset"))
        pickled = best_of(args.runs, lambda: con.sql(EXPORT_SQL).df().to_pickle(work / "tasks.pkl"))
        size = sum(p.stat().st_size for p in (work / "dataset").rglob("*") if p.is_file())
        print(
            f"export, {n} tasks: pickled DataFrame {pickled:.3f} s ({(work / 'tasks.pkl').stat().st_size / 1024:.0f} KiB), "
            f"ours (Parquet + JSONL + monthly + card) {export:.3f} s ({size / 1024:.0f} KiB), ratio {pickled / export:.2f}x"
        )
        con.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""One Markdown report per task (an improving commit), with a PNG of its most improved series.

Everything is read from the warehouse (fct_tasks, fct_series_points, fct_performance_improvements,
and the GitHub stage's marts when present) and from the repository's local clone when there is one.
The reports go to ``<warehouse folder>/reports/`` and, with their fields, to ``dataset.commit_reports``
(exposed by the dbt model fct_commit_reports). A run rebuilds only the reports whose inputs changed
(build_changed_reports; dataset.commit_report_inputs holds each stored report's fingerprint) and removes
those of tasks that are gone; the rest are kept as they are.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from dataset.clones import CommitInfo, commit_info, find_clone, patch, unusable_commit
from dataset.github_context import PullRequest, changed_files_for, pull_request_for
from dataset.profile_report import load_deltas, profile_section
from ingest.series_plot import draw_change

PLOT_WINDOW = 12  # points either side of the change shown in the plot

# What each stored report was built from (report_inputs), so a run rebuilds only the changed tasks.
INPUTS_DDL = """
create schema if not exists dataset;
create table if not exists dataset.commit_report_inputs (task_id varchar not null, inputs_sha256 varchar not null)
"""


@dataclass
class Discussion:
    comments: list[dict] = field(default_factory=list)  # GitHub issue comments (all pages)
    reviews: list[dict] = field(default_factory=list)  # pull request reviews (all pages)
    merged_by: str | None = None  # from the pull request itself (the GitHub marts do not carry it)


@dataclass
class TaskReport:
    task_id: str
    commit_task_id: str
    repo: str
    commit_hash: str
    commit: CommitInfo | None
    pr: PullRequest | None
    discussion: Discussion
    files: list[tuple[str, int | None, int | None]]
    file_coverage: dict[str, float]
    coverage_commit: float | None
    patch: str | None
    has_clone: bool
    markdown: str
    report_path: Path
    plot_path: Path | None
    inputs_sha256: str = ""  # what the report was built from (report_inputs); kept when unchanged


def task_id_for(repo: str, pr_number: int | None, commit_hash: str) -> str:
    """FormulaCode's `<owner>_<repo>_<pr_number>`; `<owner>_<repo>_<commit8>` when no pull request is known."""
    tail = pr_number if pr_number is not None else commit_hash[:8]
    return re.sub(r"[^A-Za-z0-9_.-]", "_", f"{repo.replace('/', '_')}_{tail}")  # a file name, never a path


def load_tasks(con: duckdb.DuckDBPyConnection) -> list[dict]:
    cursor = con.execute("select * from main.fct_tasks order by repo, commit_date, commit_hash")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=False)) for row in cursor.fetchall()]


def series_points(con: duckdb.DuckDBPyConnection, series_ids: list[str]) -> dict[str, list[tuple]]:
    """The points of these series, in order, by series (one query: fct_series_points is a view)."""
    rows = con.execute(
        """select series_id, position, commit_hash, commit_date, value from main.fct_series_points
           where list_contains($ids, series_id) order by series_id, position""",
        {"ids": series_ids},
    ).fetchall()
    points: dict[str, list[tuple]] = {}
    for series_id, *point in rows:
        points.setdefault(series_id, []).append(tuple(point))
    return points


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.3g}"


def _cell(text: object) -> str:
    return str(text if text is not None else "").replace("|", "\\|").replace("\n", " ")


def render_report(
    task: dict,
    task_id: str,
    commit: CommitInfo | None,
    pr: PullRequest | None,
    discussion: Discussion,
    files: list[tuple[str, int | None, int | None]],
    file_coverage: dict[str, float],
    coverage_commit: float | None,
    plot_name: str | None,
) -> str:
    repo, sha = task["repo"], task["commit_hash"]
    title = commit.subject if commit else (pr.title if pr and pr.title else "performance improvement")
    lines = [f"# {repo}@{sha[:8]}: {title}", ""]
    lines += [
        f"- Task: `{task_id}`",
        f"- Commit: `{sha}` ({commit.committed_at if commit else task['commit_date']})",
        f"- Base (last measured commit before): `{task['commit_before']}`",
        f"- Speed-up: median {_fmt(task['median_speedup'])}x, max {_fmt(task['max_speedup'])}x over "
        f"{task['n_workloads']} workload(s); source: {task['source']} ({', '.join(task['source_names'])})",
    ]
    if commit:
        lines += [f"- Author: {commit.author}", "", "## Commit message", "", commit.message or "(empty)"]
    else:
        why = unusable_commit(sha) or "no local clone of the repository"
        lines += ["", f"_Commit message and patch unavailable: {why}._"]
    lines += ["", "## Pull request", ""]
    if pr:
        lines += [
            f"[#{pr.number}]({pr.url or ''}) **{pr.title or ''}**",
            "",
            f"- Labels: {', '.join(pr.labels) if pr.labels else 'none'}",
            f"- Author: {pr.author or 'unknown'}; merged by: {pr.merged_by or 'unknown'}; "
            f"merged at: {pr.merged_at or 'unknown'}",
            "",
            "### Description",
            "",
            (pr.body or "(no description)").strip(),
            "",
            f"### Comments ({len(discussion.comments)}) and reviews ({len(discussion.reviews)})",
            "",
        ]
        for item in sorted(
            [("comment", c) for c in discussion.comments] + [("review", r) for r in discussion.reviews],
            key=lambda kind_item: str(
                kind_item[1].get("created_at") or kind_item[1].get("submitted_at") or ""
            ),
        ):
            kind, body = item
            who = (body.get("user") or {}).get("login", "unknown")
            when = body.get("created_at") or body.get("submitted_at") or ""
            state = f" ({body.get('state')})" if kind == "review" and body.get("state") else ""
            text = (body.get("body") or "").strip() or "(no text)"
            lines += [f"- **{who}** {kind}{state} {when}:", "", "  " + text.replace("\n", "\n  "), ""]
    else:
        lines += ["No pull request is known for this commit."]
    lines += [
        "",
        "## Benchmarks sped up",
        "",
        "| benchmark | params | machine | before | after | speed-up | significance (p) |",
        "|---|---|---|---|---|---|---|",
    ]
    for w in task["workloads"]:
        unit = f" {w['unit']}" if w.get("unit") else ""
        lines.append(
            f"| `{_cell(w['benchmark'])}` | {_cell(w['params'])} | {_cell(w['machine'])} | "
            f"{_fmt(w['before'])}{unit} | {_fmt(w['after'])}{unit} | {_fmt(w['speedup'])}x | "
            f"{_fmt(w['significance'])} |"
        )
    lines += ["", "## Changed files", ""]
    if files:
        has_cov = bool(file_coverage)
        lines += [
            "| file | + | - |" + (" coverage |" if has_cov else ""),
            "|---|---|---|" + ("---|" if has_cov else ""),
        ]
        for path, added, deleted in files:
            cov = f" {_fmt(file_coverage.get(path))}% |" if has_cov else ""
            lines.append(
                f"| `{_cell(path)}` | {added if added is not None else 'bin'} | "
                f"{deleted if deleted is not None else 'bin'} |{cov}"
            )
        total_add = sum(a or 0 for _, a, _ in files)
        total_del = sum(d or 0 for _, _, d in files)
        lines += ["", f"{len(files)} file(s), +{total_add} -{total_del}."]
    else:
        lines += ["Unknown (no clone and no GitHub file list)."]
    if coverage_commit is not None:
        lines += ["", f"Codecov line coverage at this commit: {coverage_commit:.2f}%."]
    if plot_name:
        lines += ["", "## Most improved series", "", f"![{task['top_benchmark']}]({plot_name})"]
    return "\n".join(lines) + "\n"


def series_figure(points: list[tuple], commit_hash: str, title: str, unit: str | None):
    """The figure of a series around the change, before saving (tests read it back): drawn by
    ``ingest.series_plot.draw_change`` (the unit on the value axis, commits by short hash on x, the
    change marked, the medians before and after). ``points`` are (position, commit_hash,
    commit_date, value) in order."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    draw_change(ax, points, commit_hash, unit, PLOT_WINDOW)
    ax.set_title(title if len(title) <= 72 else title[:71] + "…", fontsize=8, loc="left")
    fig.tight_layout()
    return fig


def plot_series(
    points: list[tuple], commit_hash: str, title: str, path: Path, unit: str | None = None
) -> Path | None:
    """A small PNG of the series around the change (``series_figure``); None without points."""
    if not points:
        return None
    fig = series_figure(points, commit_hash, title, unit)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def build_reports(
    con: duckdb.DuckDBPyConnection,
    db_path: Path,
    out_dir: Path,
    discussion_for: Callable[[str, int], Discussion] | None = None,
    coverage_for: Callable[[str, str, list[str]], tuple[float | None, dict[str, float]]] | None = None,
    progress: Callable[[str], None] | None = None,
    clones_dir: Path | None = None,
) -> list[TaskReport]:
    """Write every task's report and plot under out_dir; returns them (not yet stored). Clones are looked
    for where the GitHub stage keeps them (``clones_dir``, the sources file's `github.clones_dir`)."""
    built, _kept = build_changed_reports(
        con, db_path, out_dir, discussion_for, coverage_for, progress, clones_dir, previous=None
    )
    return built


def report_inputs(
    task: dict,
    points: list[tuple],
    pr: PullRequest | None,
    files: list,
    clone: Path | None,
    options: dict,
    profile: list[dict] | None = None,
) -> str:
    """A fingerprint of everything a task's report is built from in the warehouse and on disk: the task's
    row of fct_tasks (its workloads and speed-ups), the points of its plotted series, its pull request and
    changed files from the GitHub marts, its profile deltas (fct_task_profile_deltas: profiles measured
    after the report was first built bring it back), where its clone is, and the build's options (the output folder,
    whether discussion and coverage are fetched). The clone's commit is fixed by its hash. Discussion and
    coverage come from GitHub's and Codecov's APIs: a kept report keeps what they said when it was built
    (ReportSettings.full_refresh asks again)."""
    document = [task, points, asdict(pr) if pr else None, files, str(clone) if clone else None, options]
    if profile:  # without profile deltas the fingerprint is the one reports stored before profiles existed
        document.append(profile)
    text = json.dumps(document, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def stored_inputs(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """task_id -> the fingerprint each stored report was built from (empty before the first run)."""
    con.execute(INPUTS_DDL)
    return dict(con.execute("select task_id, inputs_sha256 from dataset.commit_report_inputs").fetchall())


def build_changed_reports(
    con: duckdb.DuckDBPyConnection,
    db_path: Path,
    out_dir: Path,
    discussion_for: Callable[[str, int], Discussion] | None = None,
    coverage_for: Callable[[str, str, list[str]], tuple[float | None, dict[str, float]]] | None = None,
    progress: Callable[[str], None] | None = None,
    clones_dir: Path | None = None,
    previous: Mapping[str, str] | None = None,
) -> tuple[list[TaskReport], dict[str, str]]:
    """Build the report of every task whose inputs (report_inputs) differ from ``previous`` (task_id ->
    fingerprint of the stored report; None: every task), or whose report file is gone. Returns the
    reports built and the tasks kept as they are (task_id -> fingerprint). Each report depends only on its
    own task's inputs, so the stored reports of the kept tasks equal what a full build would write."""
    say = progress or (lambda _m: None)
    out_dir.mkdir(parents=True, exist_ok=True)
    built: list[TaskReport] = []
    kept: dict[str, str] = {}
    tasks = load_tasks(con)
    points = series_points(con, [t["top_series_id"] for t in tasks])
    options = {
        "out_dir": str(out_dir.resolve()),
        "discussion": discussion_for is not None,
        "coverage": coverage_for is not None,
    }
    for done, task in enumerate(tasks, start=1):
        repo, sha = task["repo"], task["commit_hash"]
        pr = pull_request_for(con, repo, sha)
        task_id = task_id_for(repo, pr.number if pr else None, sha)
        clone = find_clone(db_path, repo, clones_dir)
        marts_files = changed_files_for(con, repo, sha)
        task_points = points.get(task["top_series_id"], [])
        profile = load_deltas(con, task["commit_task_id"])
        inputs = report_inputs(task, task_points, pr, marts_files, clone, options, profile)
        if previous is not None and previous.get(task_id) == inputs and (out_dir / f"{task_id}.md").exists():
            kept[task_id] = inputs
            continue
        commit = commit_info(clone, sha) if clone else None
        files = marts_files or (list(commit.files) if commit else [])
        base = pr.base_sha if pr and pr.base_sha else f"{sha}^"
        diff = patch(clone, base, sha) if clone else None
        discussion = discussion_for(repo, pr.number) if (pr and discussion_for) else Discussion()
        if pr and not pr.merged_by and discussion.merged_by:
            pr.merged_by = discussion.merged_by
        coverage_commit, file_coverage = (None, {})
        if coverage_for is not None:
            coverage_commit, file_coverage = coverage_for(repo, sha, [f[0] for f in files])
        top = next((w for w in task["workloads"] if w["series_id"] == task["top_series_id"]), None)
        top = top or task["workloads"][0]
        plot_path = plot_series(
            task_points,
            sha,
            f"{task['top_benchmark']} ({top['params'] or 'no params'}) on {top['machine']}",
            out_dir / f"{task_id}.png",
            top.get("unit"),
        )
        markdown = render_report(
            task, task_id, commit, pr, discussion, files, file_coverage, coverage_commit,
            plot_path.name if plot_path else None,
        )  # fmt: skip
        markdown += profile_section(profile, out_dir, task_id)  # profile_report.py
        report_path = out_dir / f"{task_id}.md"
        report_path.write_text(markdown, encoding="utf-8")
        built.append(
            TaskReport(
                task_id,
                task["commit_task_id"],
                repo,
                sha,
                commit,
                pr,
                discussion,
                files,
                file_coverage,
                coverage_commit,
                diff,
                clone is not None,
                markdown,
                report_path,
                plot_path,
                inputs,
            )
        )
        if done % 50 == 0:
            say(f"commit reports: {done}/{len(tasks)} written")
    if previous is not None:
        say(f"commit reports: {len(built)} built, {len(kept)} unchanged kept")
    return built, kept


def store_reports(
    con: duckdb.DuckDBPyConnection, reports: list[TaskReport], kept: Mapping[str, str] | None = None
) -> None:
    """Make dataset.commit_reports these reports plus the stored ones of the ``kept`` tasks (task_id ->
    fingerprint, from build_changed_reports), in one transaction; every other row goes (a task that is
    no longer one). dataset.commit_report_inputs records each stored report's fingerprint."""
    kept = dict(kept or {})
    con.execute(INPUTS_DDL)
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = []
    for r in reports:
        pr = r.pr
        rows.append(
            (
                r.task_id,
                r.commit_task_id,
                r.repo,
                r.commit_hash,
                r.commit.subject if r.commit else None,
                r.commit.message if r.commit else None,
                r.commit.author if r.commit else None,
                r.commit.committed_at if r.commit else None,
                pr.number if pr else None,
                pr.title if pr else None,
                pr.body if pr else None,
                pr.labels if pr else None,
                pr.author if pr else None,
                pr.merged_by if pr else None,
                pr.merged_at if pr else None,
                pr.merge_commit_sha if pr else None,
                pr.base_sha if pr else None,
                pr.url if pr else None,
                len(r.discussion.comments) if pr else None,
                len(r.discussion.reviews) if pr else None,
                [
                    {"path": p, "additions": a, "deletions": d, "coverage": r.file_coverage.get(p)}
                    for p, a, d in r.files
                ],
                r.coverage_commit,
                r.patch,
                r.has_clone,
                r.markdown,
                str(r.report_path),
                str(r.plot_path) if r.plot_path else None,
                now,
            )
        )
    inputs = [*kept.items(), *((r.task_id, r.inputs_sha256) for r in reports)]
    con.execute("begin")
    try:
        con.execute(
            "delete from dataset.commit_reports where not list_contains($kept, task_id)", {"kept": list(kept)}
        )
        con.execute("delete from dataset.commit_report_inputs")
        if rows:
            placeholders = ", ".join("?" * len(rows[0]))
            con.executemany(f"insert into dataset.commit_reports values ({placeholders})", rows)
        if inputs:
            con.executemany("insert into dataset.commit_report_inputs values (?, ?)", inputs)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise


def discussion_as_json(discussion: Discussion) -> str:
    return json.dumps({"comments": discussion.comments, "reviews": discussion.reviews})

"""The sample project's planted history: its commits, the performance changes planted in them, and git.

The project (``fastfuncs``) is real files under ``samples/project/``: one folder per commit, oldest first,
holding the whole files that the commit writes (the first folder is the initial tree; a later folder holds
only what that commit adds or replaces). ``STEPS`` gives each folder its commit subject and the changes
planted in it. The files are data: their bytes go into the commits as they are, so ruff leaves
``samples/project`` alone (``extend-exclude``) and a plain ``pytest`` does not collect it (``testpaths`` is
``tests``).

Commit hashes are reproducible: names, e-mails, dates and file contents are fixed, and git runs with the
user's and system's configuration switched off. The committed sample (``results/``, ``dashboard/``,
``ground_truth.json``, ``agent/``) is keyed by these hashes.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

SAMPLES_DIR = Path(__file__).resolve().parent
PROJECT_DIR = SAMPLES_DIR / "project"
PROJECT = "fastfuncs"
GITHUB_REPO = "datasmith-demo/fastfuncs"
MACHINE = "datasmith-sample"
AUTHOR_NAME = "DataSmith Sample"
AUTHOR_EMAIL = "sample@datasmith.invalid"
FIRST_COMMIT_EPOCH = 1704110400  # 2024-01-01T12:00:00Z; each later commit is one day later.
SECONDS_PER_DAY = 86400


@dataclass(frozen=True)
class Planted:
    """One benchmark/parameter combination that a commit deliberately makes faster or slower."""

    benchmark: str
    params: str  # canonical "name=repr, name2=repr" text; "" when the benchmark has no parameters
    direction: str  # "improvement" or "regression"
    at_least: float  # the before/after (improvement) or after/before (regression) ratio to expect
    description: str


@dataclass(frozen=True)
class Step:
    subject: str
    files: dict[str, str]  # whole-file contents that this commit writes, by path in the repository
    planted: tuple[Planted, ...] = field(default=())


def params_text(names: list[str], values: tuple) -> str:
    # Same spelling as asv's params lists: each value is its repr (so strings keep their quotes).
    return ", ".join(f"{name}={value!r}" for name, value in zip(names, values, strict=True))


def distinct_count_changes() -> tuple[Planted, ...]:
    # The quadratic scan costs more the larger n is, so the larger input must gain much more.
    expected = {200: 4.0, 2000: 40.0}
    return tuple(
        Planted(
            benchmark="bench_core.DistinctCount.time_distinct_count",
            params=params_text(["n", "kind"], (n, kind)),
            direction="improvement",
            at_least=expected[n],
            description="distinct_count: set instead of a list scan (O(n^2) -> O(n))",
        )
        for n in (200, 2000)
        for kind in ("ints", "strs")
    )


def fib_changes() -> tuple[Planted, ...]:
    expected = {15: 20.0, 20: 100.0}
    return tuple(
        Planted(
            benchmark="bench_core.time_fib",
            params=params_text(["n"], (n,)),
            direction="improvement",
            at_least=expected[n],
            description="fib: iterative loop instead of naive recursion (exponential -> linear)",
        )
        for n in (15, 20)
    )


SORT_REGRESSION = Planted(
    benchmark="bench_core.time_sort_words",
    params="",
    direction="regression",
    at_least=5.0,
    description="sort_words: Python comparison function via cmp_to_key instead of plain sorted()",
)

DISTINCT_SET = distinct_count_changes()
FIB_LOOP = fib_changes()

# (folder under samples/project/, commit subject, planted changes), oldest first. Planted changes sit away
# from both ends so detectors see both sides. The benchmarks are written in the first commit and never
# change, so asv gives every benchmark the same version on every commit.
STEPS: list[tuple[str, str, tuple[Planted, ...]]] = [
    ("01-initial", "Initial fastfuncs package with asv benchmarks", ()),
    ("02-readme-usage", "docs: add usage examples to the README", ()),
    ("03-unit-tests", "tests: add unit tests for the core helpers", ()),
    ("04-distinct-set", "perf: count distinct items with a set instead of a list scan", DISTINCT_SET),
    ("05-rename-tokenizer", "refactor: rename the internal tokenizer helper", ()),
    ("06-fib-loop", "perf: compute fib with a loop instead of recursion", FIB_LOOP),
    ("07-sort-casefold", "sort_words: order words case-insensitively", (SORT_REGRESSION,)),
    ("08-changelog", "docs: add a changelog", ()),
    ("09-more-tests", "tests: cover case-insensitive sorting and large fib", ()),
    ("10-release-0.2.0", "release: 0.2.0", ()),
]


def step_files(folder: Path) -> dict[str, str]:
    """Every file under folder, by its path relative to folder (with '/'), as text; an empty folder is an error."""
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: the sample project's commit folder is missing")
    files = {
        path.relative_to(folder).as_posix(): path.read_bytes().decode("utf-8")
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }
    if not files:
        raise ValueError(f"{folder}: the sample project's commit folder holds no files")
    return files


def history(project_dir: Path = PROJECT_DIR) -> list[Step]:
    """The commits, oldest first, each with the files of its folder under project_dir."""
    return [Step(subject, step_files(project_dir / folder), planted) for folder, subject, planted in STEPS]


# --------------------------------------------------------------------------------------------------
# Git: a reproducible history.
# --------------------------------------------------------------------------------------------------


def isolated_env(**extra: str) -> dict[str, str]:
    """The environment for git and asv: no inherited GIT_* variables and no user or system git config."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    env.update(GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1", LC_ALL="C", TZ="UTC")
    env.update(extra)
    return env


GIT_OPTIONS = [
    "-c", "commit.gpgsign=false",
    "-c", "tag.gpgsign=false",
    "-c", "core.autocrlf=false",
    "-c", "core.hooksPath=" + os.devnull,
    "-c", "init.defaultBranch=main",
]  # fmt: skip


def git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        ["git", *GIT_OPTIONS, *args],
        cwd=repo,
        env=env or isolated_env(),
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


def write_files(repo: Path, files: dict[str, str]) -> None:
    for relative, content in files.items():
        path = repo / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode("utf-8"))  # bytes: no newline translation on any platform


def build_history(repo: Path, steps: list[Step]) -> list[dict]:
    """Create the repository and commit every step; return the commits, oldest first."""
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main", "--template=")
    commits: list[dict] = []
    for index, step in enumerate(steps):
        write_files(repo, step.files)
        git(repo, "add", "-A")
        stamp = f"@{FIRST_COMMIT_EPOCH + index * SECONDS_PER_DAY} +0000"
        env = isolated_env(
            GIT_AUTHOR_NAME=AUTHOR_NAME,
            GIT_AUTHOR_EMAIL=AUTHOR_EMAIL,
            GIT_AUTHOR_DATE=stamp,
            GIT_COMMITTER_NAME=AUTHOR_NAME,
            GIT_COMMITTER_EMAIL=AUTHOR_EMAIL,
            GIT_COMMITTER_DATE=stamp,
        )
        git(repo, "commit", "-q", "--no-verify", "-m", step.subject, env=env)
        sha = git(repo, "rev-parse", "HEAD")
        date = git(repo, "show", "-s", "--format=%cI", "HEAD")
        commits.append(
            {
                "commit": sha,
                "parent": commits[-1]["commit"] if commits else None,
                "date": date,
                "subject": step.subject,
            }
        )
    return commits

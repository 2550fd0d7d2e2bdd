"""Where a repository's local clone is, and what git says about one commit in it.

The GitHub stage keeps clones under ``ingest.github.clones_root(db, clones_dir)``; without it (or before it has
cloned anything) a clone placed at ``<warehouse folder>/clones/<owner>/<repo>`` is used, which is where
`make demo` puts the demo's rebuilt history. No clone means no patch and no commit message: the task
keeps its row with those fields null; so does a task whose commit hash (or pull request base) is not a hex
commit id (``ingest.identifiers``): such a value never reaches git, and every git call here ends its
options with ``--end-of-options`` before the revisions it names.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from ingest.github import clone_path, clones_root
from ingest.identifiers import END_OF_OPTIONS, commit_hash_problem, repo_problem

GIT_TIMEOUT_S = 60


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    subject: str
    message: str
    author: str
    authored_at: str
    committed_at: str
    files: tuple[tuple[str, int | None, int | None], ...]  # path, additions, deletions (None: binary)


def candidate_paths(db_path: Path, repo: str, clones_dir: Path | None = None) -> list[Path]:
    """Where a clone of repo may be, in the order they are tried: the GitHub stage's (under its
    `clones_dir` when the sources file sets one), then a plain checkout under <warehouse folder>/clones."""
    return [clone_path(clones_root(db_path, clones_dir), repo), clones_root(db_path) / repo]


def find_clone(db_path: Path, repo: str, clones_dir: Path | None = None) -> Path | None:
    """The first candidate path holding a clone; None also when repo is not a GitHub owner/name (``../..``
    would otherwise name a folder above the clones)."""
    if repo_problem(repo):
        return None
    for path in candidate_paths(db_path, repo, clones_dir):
        if (path / ".git").exists() or (path / "HEAD").exists():
            return path
    return None


def _git(clone: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-c", "core.quotepath=off", *args],
            cwd=clone,
            capture_output=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.decode("utf-8", errors="replace")


def unusable_commit(*shas: str | None) -> str | None:
    """Why git cannot be asked about these commits (one is not a hex commit hash), or None."""
    return next((problem for sha in shas if (problem := commit_hash_problem(sha))), None)


def commit_info(clone: Path, sha: str) -> CommitInfo | None:
    """What git says about sha; None when sha is not a hex commit hash, or git does not know it."""
    if unusable_commit(sha):
        return None
    header = _git(clone, "show", "-s", "--format=%H%x00%s%x00%an%x00%aI%x00%cI%x00%B", END_OF_OPTIONS, sha)
    if header is None or header.count("\x00") < 5:
        return None
    full, subject, author, authored, committed, message = header.split("\x00", 5)
    numstat = _git(clone, "show", "--numstat", "--format=", "--no-renames", END_OF_OPTIONS, sha) or ""
    files = []
    for line in numstat.splitlines():
        parts = line.split("\t", 2)
        if len(parts) == 3:
            added, deleted, path = parts
            files.append(
                (path, int(added) if added.isdigit() else None, int(deleted) if deleted.isdigit() else None)
            )
    return CommitInfo(full, subject, message.strip(), author, authored, committed, tuple(files))


def patch(clone: Path, base: str, head: str) -> str | None:
    """The diff from base to head (the task's whole change), as `git diff` writes it. base may be
    ``<hex>^`` (the first parent); None when either is not a hex commit hash."""
    if unusable_commit(base.removesuffix("^"), head):
        return None
    return _git(clone, "diff", "--no-color", "--binary", END_OF_OPTIONS, f"{base}..{head}")

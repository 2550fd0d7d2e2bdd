"""The git side of a run: a clone to read commits from and one worktree per concurrent job.

Every git call with data puts ``--end-of-options`` before it: the commits of a sources file are revision
names (``main``, a tag, a hash) and are resolved once (``resolve_commit``); only the resulting hex hash
(``ingest.identifiers``) is checked out. `git checkout` does not take ``--end-of-options`` (git 2.39), so
it gets the checked hash followed by ``--``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from pathlib import Path

from ingest.identifiers import END_OF_OPTIONS, commit_hash_problem

GIT = ["git", "-c", "core.hooksPath=" + os.devnull, "-c", "advice.detachedHead=false"]
_worktree_lock = threading.Lock()  # `git worktree add` edits the clone's admin files


class GitError(RuntimeError):
    pass


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run([*GIT, *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise GitError(f"git {' '.join(args)} in {cwd} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def is_local(repository: str) -> bool:
    return "://" not in repository and not repository.startswith("git@")


def prepare_clone(repository: str, clones_dir: Path, name: str) -> Path:
    """The local clone to read: the path itself when local, else a bare clone kept under clones_dir
    (fetched again on every run so new commits are there)."""
    if is_local(repository):
        path = Path(repository).expanduser().resolve()
        if not path.is_dir():
            raise GitError(f"repository {path} does not exist")
        git(path, "rev-parse", "--git-dir")
        return path
    path = clones_dir / f"{name}.git"
    if path.is_dir():
        git(path, "fetch", "--quiet", "--prune", END_OF_OPTIONS, "origin", "+refs/heads/*:refs/heads/*")
    else:
        clones_dir.mkdir(parents=True, exist_ok=True)
        git(clones_dir, "clone", "--quiet", "--bare", END_OF_OPTIONS, repository, str(path))
    return path


def resolve_commit(clone: Path, commit: str) -> str | None:
    done = subprocess.run(
        [*GIT, "rev-parse", "--verify", "--quiet", END_OF_OPTIONS, f"{commit}^{{commit}}"],
        cwd=clone,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip() if done.returncode == 0 else None


def checkout_worktree(clone: Path, worktree: Path, commit: str) -> None:
    """Put ``commit`` (a hex hash, as resolve_commit gives) into ``worktree`` (created on first use,
    detached, reused for later commits)."""
    problem = commit_hash_problem(commit)
    if problem:
        raise GitError(f"cannot check out in {worktree}: {problem}")
    with _worktree_lock:
        if (worktree / ".git").exists() and _common_dir(worktree) != _common_dir(clone):
            shutil.rmtree(worktree)  # left by an earlier run on another clone of the repository
        if not (worktree / ".git").exists():
            git(clone, "worktree", "prune")
            worktree.parent.mkdir(parents=True, exist_ok=True)
            git(clone, "worktree", "add", "--force", "--detach", END_OF_OPTIONS, str(worktree), commit)
            return
    git(worktree, "checkout", "--quiet", "--force", "--detach", commit, "--")
    git(worktree, "clean", "-qfdx")


def _common_dir(path: Path) -> str:
    return git(path, "rev-parse", "--path-format=absolute", "--git-common-dir")

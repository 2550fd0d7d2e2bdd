"""Bare, blob-less clones of the benchmarked projects, and the files each merged commit changed.

One ``git clone --bare --filter=blob:none`` per project (a later run fetches into it) gives every commit's
changed files and line counts from ``git diff --numstat`` against the commit's first parent (a root commit
against the empty tree), without one API call per commit. git fetches the few blobs a diff needs on demand.
The API's commit endpoint is used only when the project cannot be cloned at all. The clone is also what
the benchmark runner checks out.

    clones_root(db_path, clones_dir) -> clones_dir, else <warehouse folder>/clones
    clone_path(root, "owner/name") -> root / "owner__name.git"

Every git call with data (URLs, paths, commit hashes) puts ``--end-of-options`` before it, and a commit that
is not a hex hash (``ingest.identifiers``) is recorded as missing with that reason without asking git.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ingest.github.client import GitHubClient, GitHubError
from ingest.github.store import diffed_commits, store_commit_diff, store_commit_diffs
from ingest.identifiers import END_OF_OPTIONS, check_repo, commit_hash_problem

BATCH = 400  # commits per `git log` call


class CloneError(RuntimeError):
    pass


def clones_root(db_path: str | os.PathLike, configured: str | os.PathLike | None = None) -> Path:
    """Where the GitHub stage keeps its clones: the sources file's `github.clones_dir` when set, else
    <warehouse folder>/clones. The GitHub stage, the benchmark runner and the reports all ask here."""
    return Path(configured) if configured else Path(db_path).resolve().parent / "clones"


def clone_path(root: Path, repo_name: str) -> Path:
    """Raises IdentifierError for a repo_name that is not a GitHub owner/name (it would leave root)."""
    owner, name = check_repo(repo_name).split("/", 1)
    return Path(root) / f"{owner}__{name}.git"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_TERMINAL_PROMPT="0", GIT_CONFIG_NOSYSTEM="1", LC_ALL="C")
    return env


def git(path: Path | None, *args: str, input_text: str | None = None) -> str:
    command = ["git", "-c", "core.quotePath=false", *(["-C", str(path)] if path else []), *args]
    done = subprocess.run(command, env=_env(), capture_output=True, text=True, input=input_text)
    if done.returncode != 0:
        raise CloneError(f"git {' '.join(args[:3])} failed: {done.stderr.strip()[-500:]}")
    return done.stdout


def ensure_clone(clone_url: str, path: Path) -> Path:
    """A bare, blob-less clone at ``path`` (fetched up to date when it exists)."""
    path = Path(path)
    if (path / "HEAD").exists():
        git(
            path,
            "fetch",
            "--quiet",
            "--prune",
            END_OF_OPTIONS,
            "origin",
            "+refs/heads/*:refs/heads/*",
            "+refs/tags/*:refs/tags/*",
        )
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    if partial.exists():  # a clone interrupted earlier
        shutil.rmtree(partial)
    git(None, "clone", "--quiet", "--bare", "--filter=blob:none", END_OF_OPTIONS, clone_url, str(partial))
    partial.rename(path)  # only a finished clone gets the real name
    return path


def _empty_tree(path: Path) -> str:
    return git(path, "hash-object", "-t", "tree", "--stdin", input_text="").strip()


def existing_commits(path: Path, shas: Iterable[str]) -> set[str]:
    """The shas that are commits in the clone; one that is not a hex hash is never asked about."""
    shas = [sha for sha in shas if not commit_hash_problem(sha)]
    if not shas:
        return set()
    out = git(
        path, "cat-file", "--batch-check=%(objectname) %(objecttype)", input_text="\n".join(shas) + "\n"
    )
    return {line.split()[0] for line in out.splitlines() if line.endswith(" commit")}


def _unquote(path: str) -> str:
    if len(path) >= 2 and path[0] == path[-1] == '"':
        return (
            path[1:-1]
            .encode("latin-1", "backslashreplace")
            .decode("unicode_escape")
            .encode("latin-1")
            .decode()
        )
    return path


def _count(text: str) -> int | None:
    return None if text == "-" else int(text)


def changed_files_batch(path: Path, shas: list[str]) -> dict[str, tuple[str | None, list[tuple]]]:
    """sha -> (first parent or None, [(path, additions, deletions)]) for commits in the clone."""
    out: dict[str, tuple[str | None, list[tuple]]] = {}
    for start in range(0, len(shas), BATCH):
        chunk = shas[start : start + BATCH]
        text = git(
            path, "log", "--no-walk=unsorted", "--diff-merges=first-parent", "--numstat", "--no-renames",
            "--format=tformat:@@%H %P", END_OF_OPTIONS, *chunk,
        )  # fmt: skip
        current = None
        for line in text.splitlines():
            if line.startswith("@@"):
                sha, *parents = line[2:].split()
                current = sha
                out[sha] = (parents[0] if parents else None, [])
            elif line and current:
                added, deleted, name = line.split("\t", 2)
                out[current][1].append((_unquote(name), _count(added), _count(deleted)))
    return out


def changed_files(path: Path, sha: str) -> list[tuple[str, int | None, int | None]]:
    """The files ``sha`` changed against its first parent (the empty tree for a root commit)."""
    problem = commit_hash_problem(sha)
    if problem:
        raise CloneError(problem)
    parents = git(path, "rev-list", "--parents", "-n", "1", END_OF_OPTIONS, sha).split()
    base = parents[1] if len(parents) > 1 else _empty_tree(path)
    files = []
    for line in git(path, "diff", "--numstat", "--no-renames", END_OF_OPTIONS, base, sha).splitlines():
        added, deleted, name = line.split("\t", 2)
        files.append((_unquote(name), _count(added), _count(deleted)))
    return files


@dataclass
class ChangedFilesReport:
    repo_name: str
    method: str = "clone"
    commits_read: int = 0
    commits_missing: int = 0
    commits_already_read: int = 0
    api_requests: int = 0
    files: int = 0
    clone_error: str | None = None

    def summary(self) -> str:
        extra = f" (clone failed: {self.clone_error})" if self.clone_error else ""
        return (
            f"{self.repo_name}: changed files of {self.commits_read} commits via {self.method}{extra}, "
            f"{self.files} files; {self.commits_already_read} already read, {self.commits_missing} not found"
        )


def collect_changed_files(
    con: duckdb.DuckDBPyConnection,
    repo_name: str,
    clone_url: str,
    clone_dir: Path,
    commits: list[str],
    client: GitHubClient | None = None,
    progress: Callable[[str], None] = lambda message: None,
    refresh: bool = True,
) -> ChangedFilesReport:
    """Read (once) the changed files of ``commits`` into raw.github_commit_files / github_commit_diffs.
    ``refresh=False`` uses an existing clone as it is (the caller has just fetched it)."""
    report = ChangedFilesReport(repo_name)
    done = diffed_commits(con, repo_name)
    wanted = [sha for sha in dict.fromkeys(commits) if sha not in done]
    report.commits_already_read = len(set(commits)) - len(wanted)
    unusable = [(sha, problem) for sha in wanted if (problem := commit_hash_problem(sha))]
    if unusable:  # never asked of git or the API: recorded as missing, with the reason
        report.commits_missing += len(unusable)
        store_commit_diffs(
            con, repo_name, [(sha, None, "missing", clone_url, [], why) for sha, why in unusable]
        )
        wanted = [sha for sha in wanted if not commit_hash_problem(sha)]
    if not wanted:
        return report
    try:
        path = (
            clone_dir
            if not refresh and (Path(clone_dir) / "HEAD").exists()
            else ensure_clone(clone_url, clone_dir)
        )
    except CloneError as exc:
        report.clone_error = str(exc)
        if client is None:
            raise
        report.method = "api"
        _from_api(con, client, repo_name, wanted, report, progress)
        return report
    present = existing_commits(path, wanted)
    diffs = changed_files_batch(path, [sha for sha in wanted if sha in present])
    rows = []
    for sha in wanted:
        if sha not in diffs:
            report.commits_missing += 1
            rows.append((sha, None, "missing", clone_url, [], "not in the clone"))
            continue
        parent, files = diffs[sha]
        rows.append((sha, parent, "clone", clone_url, files, None))
        report.commits_read += 1
        report.files += len(files)
    store_commit_diffs(con, repo_name, rows)
    progress(report.summary())
    return report


def _from_api(
    con, client: GitHubClient, repo_name: str, shas: list[str], report: ChangedFilesReport, progress
):
    for index, sha in enumerate(shas, 1):
        files: list[tuple] = []
        parent = None
        url = f"/repos/{repo_name}/commits/{sha}"
        try:
            for page in client.pages(url, {"per_page": 100}):
                report.api_requests += 1
                if not page.ok:
                    raise GitHubError(f"{page.status} {page.message}")
                body = page.json()
                parent = (body.get("parents") or [{}])[0].get("sha")
                # every page repeats the commit and lists more of its files
                files += [
                    (f["filename"], f.get("additions"), f.get("deletions")) for f in body.get("files", [])
                ]
        except GitHubError as exc:
            report.commits_missing += 1
            store_commit_diff(
                con, repo_name, sha, None, "missing", client.url(url), [], client.redact(str(exc))
            )
            continue
        store_commit_diff(con, repo_name, sha, parent, "api", client.url(url), files)
        report.commits_read += 1
        report.files += len(files)
        if index % 100 == 0:
            progress(f"{repo_name}: changed files of {index}/{len(shas)} commits from the API")

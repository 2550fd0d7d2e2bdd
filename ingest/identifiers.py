"""The one validation of identifiers that come from data: commit hashes, GitHub repositories, names.

Result files, dashboards (``revision_to_hash``), the GitHub API and the sources file all hand us strings
that end up as git arguments, file names or URL paths. Every check here matches the whole string
(``fullmatch``, or ``\\Z`` in the exported patterns: ``$`` also matches before a final newline).

* Commit hash: 4 to 64 hex digits. 4 is the shortest abbreviation git accepts (``core.abbrev``'s minimum);
  64 is a SHA-256 object name; asv dashboards store 8-character hashes and result files 40. A value that
  fails never reaches git, so it cannot be read as an option (``--output=...``) or as a revision
  expression (``HEAD~3``, ``main``).
* Repository ``owner/name`` (GitHub's rules): the owner is 1 to 39 letters, digits, ``-`` or ``_`` (Enterprise
  Managed Users have ``_``), the name 1 to 100 letters, digits, ``.``, ``_`` or ``-``; neither starts with
  ``-`` and the name is not ``.`` or ``..``, so a repository can never name a parent folder or an option.
* Names (``name_problem``, for free-form names such as machines or task ids): not empty, no control
  characters (C0, DEL, C1) and no line or paragraph separators, which would split a log line or a report
  row. The sources file's own names are stricter (``SOURCE_NAME_PATTERN``: lower case, digits, ``._-``).

Every git call that carries such data also puts ``--end-of-options`` before it (git 2.24; `git rev-parse`
takes it from 2.30, and the runner already needs 2.31 for ``--path-format``), so a value that is not
checked here (a revision name from the sources file) is still never read as an option.
"""

from __future__ import annotations

import re
import unicodedata

END_OF_OPTIONS = "--end-of-options"

COMMIT_HASH_CHARS = "[0-9a-fA-F]{4,64}"  # also the raw results check (ingest/results/load.py), in SQL
COMMIT_HASH = re.compile(COMMIT_HASH_CHARS + r"\Z")
REPO_PATTERN = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,39}/(?!-)(?!\.\.?\Z)[A-Za-z0-9_.-]{1,100}\Z")
SOURCE_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]*\Z")
# user:password@ (or user@) after a URL's scheme, as earlier versions stored a URL given with them (SQL regex).
URL_CREDENTIALS = r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#@]*@"


class IdentifierError(ValueError):
    """A value that is not the identifier it should be; the message says which and why, in one line."""


def shown(value: object, limit: int = 80) -> str:
    """A value as it may appear in a one-line message (repr: control characters escaped), cut to a limit."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def commit_hash_problem(value: object) -> str | None:
    """Why value is not a commit hash, or None when it is one."""
    if not isinstance(value, str):
        return f"commit hash {shown(value)} is not text"
    if COMMIT_HASH.fullmatch(value) is None:
        return f"commit hash {shown(value)} is not 4 to 64 hex digits"
    return None


def is_commit_hash(value: object) -> bool:
    return commit_hash_problem(value) is None


def check_commit_hash(value: object) -> str:
    """The hash, lower case; IdentifierError when it is not 4 to 64 hex digits."""
    problem = commit_hash_problem(value)
    if problem:
        raise IdentifierError(problem)
    return str(value).lower()


def repo_problem(value: object, what: str = "repository") -> str | None:
    """Why value is not a GitHub ``owner/name``, or None when it is one."""
    if not isinstance(value, str):
        return f"{what} {shown(value)} is not text"
    if REPO_PATTERN.fullmatch(value) is None:
        return (
            f"{what} {shown(value)} must be written as owner/name (letters, digits, '-', '_'; "
            "the name also '.'; neither starting with '-', the name not '.' or '..')"
        )
    return None


def is_repo(value: object) -> bool:
    return repo_problem(value) is None


def check_repo(value: object) -> str:
    problem = repo_problem(value)
    if problem:
        raise IdentifierError(problem)
    return str(value)


def control_characters(value: str) -> list[str]:
    """The control characters (and line/paragraph separators) in value, as U+XXXX."""
    return [
        f"U+{ord(ch):04X}" for ch in dict.fromkeys(value) if unicodedata.category(ch) in ("Cc", "Zl", "Zp")
    ]


def name_problem(value: object, what: str = "name") -> str | None:
    """Why value cannot be a name (empty, or holding control characters), or None."""
    if not isinstance(value, str):
        return f"{what} {shown(value)} is not text"
    if not value:
        return f"{what} is empty"
    bad = control_characters(value)
    if bad:
        return f"{what} {shown(value)} holds control characters ({', '.join(bad)})"
    return None


def is_name(value: object) -> bool:
    return name_problem(value) is None


def check_name(value: object, what: str = "name") -> str:
    problem = name_problem(value, what)
    if problem:
        raise IdentifierError(problem)
    return str(value)

"""The sources file: which dashboards and results trees the warehouse ingests.

The file is YAML with two lists, ``dashboards:`` and ``results:``, and optional sections
(``replication:`` here; ``github:``, ``benchmarks:`` and ``agent_results:`` parsed by the modules that own
them, see ``SECTION_PARSERS``). Every mistake is reported with the file name and line, because a sources
file is edited by hand and a traceback helps nobody.
"""

from __future__ import annotations

import importlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import yaml

from ingest.identifiers import REPO_PATTERN as REPO_PATTERN  # re-exported for the section parsers
from ingest.identifiers import SOURCE_NAME_PATTERN, repo_problem

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCES_FILE = PROJECT_ROOT / "sources.yml"
DEFAULT_DB_PATH = PROJECT_ROOT / "artifacts" / "warehouse.duckdb"

# Anything that starts like a URL ("scheme:/"): it must then be a scheme we read, never a local folder.
URL_LIKE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):/")
DASHBOARD_SCHEMES = ("http", "https", "file")


class SourcesError(ValueError):
    """A sources file that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class DashboardSource:
    """A ``dashboards:`` entry. Credentials written into the URL (``https://user:pass@host/``) are
    taken out of ``url`` when the entry is made: ``url`` and ``location`` (what is stored and logged)
    never hold them; ``credentials`` (user, password) is kept apart, out of repr and comparisons, for
    HTTP Basic auth to that host only."""

    name: str
    url: str  # http(s) URL without credentials, or an absolute local folder
    repo: str | None = None
    kind: str = field(default="dashboard", init=False)
    credentials: tuple[str, str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme.lower() in ("http", "https") and "@" in parts.netloc:
            userinfo, _, host = parts.netloc.rpartition("@")
            user, _, password = userinfo.partition(":")
            object.__setattr__(self, "url", urlunsplit(parts._replace(netloc=host)))
            object.__setattr__(self, "credentials", (unquote(user), unquote(password)))

    @property
    def location(self) -> str:
        return self.url


@dataclass(frozen=True)
class ResultsSource:
    name: str
    path: Path  # absolute: a results folder or an asv project holding one
    repo: str | None = None
    kind: str = field(default="results", init=False)

    @property
    def location(self) -> str:
        return str(self.path)


@dataclass(frozen=True)
class Sources:
    file: Path
    dashboards: tuple[DashboardSource, ...]
    results: tuple[ResultsSource, ...]
    # Which measurement sets to compare (dbt vars of fct_replication_set_pairs): explicit pairs of
    # {a_source, a_machine, b_source, b_machine}, and the shared commits needed for automatic pairs.
    replication_pairs: tuple[dict, ...] = ()
    replication_min_shared_commits: int = 10
    # The optional sections parsed by their own modules (SECTION_PARSERS), by section name; absent
    # sections are absent here. Each value may offer ``dbt_vars() -> dict``.
    sections: dict[str, Any] = field(default_factory=dict)

    def section(self, name: str) -> Any:
        return self.sections.get(name)

    def dbt_vars(self) -> dict:
        out: dict = {
            "replication_pairs": [dict(p) for p in self.replication_pairs],
            "replication_min_shared_commits": self.replication_min_shared_commits,
        }
        for parsed in self.sections.values():
            if hasattr(parsed, "dbt_vars"):
                out.update(parsed.dbt_vars())
        return out

    @property
    def all(self) -> tuple[DashboardSource | ResultsSource, ...]:
        return (*self.dashboards, *self.results)

    def by_name(self, name: str) -> DashboardSource | ResultsSource:
        for source in self.all:
            if source.name == name:
                return source
        raise SourcesError(
            f"{self.file}: no source named {name!r}; known: {', '.join(s.name for s in self.all)}"
        )


def sources_file_from_env() -> Path:
    return Path(os.environ.get("DATASMITH_SOURCES", DEFAULT_SOURCES_FILE)).resolve()


def db_path_from_env() -> Path:
    return Path(os.environ.get("DATASMITH_DB", DEFAULT_DB_PATH)).resolve()


def load_sources(path: str | os.PathLike | None = None) -> Sources:
    file = Path(path).resolve() if path else sources_file_from_env()
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise SourcesError(f"cannot read sources file {file}: {exc.strerror or exc}") from exc
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown line"
        raise SourcesError(f"{file}: {where}: not valid YAML: {exc.problem}") from exc
    return _parse(file, root)


# Optional sections and the function (module:function) that parses each one. The function is called as
# parse(file, node, seen) with the section's YAML node and the source names seen so far (name -> line)
# and returns the parsed settings; it reports mistakes with fail_at(file, node, message).
SECTION_PARSERS = {
    "github": "ingest.github_sources:parse_github_section",
    "benchmarks": "benchmark_runner.sources:parse_benchmarks_section",
    "agent_results": "datasmith.sources:parse_agent_results_section",
}


def _fail(file: Path, node: yaml.Node | None, message: str) -> SourcesError:
    line = f"line {node.start_mark.line + 1}: " if node is not None else ""
    return SourcesError(f"{file}: {line}{message}")


def _mapping(file: Path, node: yaml.Node, what: str) -> dict[str, yaml.Node]:
    if not isinstance(node, yaml.MappingNode):
        raise _fail(file, node, f"{what} must be a mapping of keys to values")
    out: dict[str, yaml.Node] = {}
    for key_node, value_node in node.value:
        key = key_node.value
        if key in out:
            raise _fail(file, key_node, f"{what} has the key {key!r} twice")
        out[key] = value_node
    return out


def _scalar(file: Path, node: yaml.Node, what: str) -> str:
    if not isinstance(node, yaml.ScalarNode) or node.value == "":
        raise _fail(file, node, f"{what} must be a non-empty text value")
    return str(node.value)


def _parse(file: Path, root: yaml.Node | None) -> Sources:
    if root is None:
        raise SourcesError(f"{file}: the file is empty; expected 'dashboards:' and/or 'results:' lists")
    top = _mapping(file, root, "the sources file")
    for key_node, _ in root.value:
        if key_node.value not in {"dashboards", "results", "replication", *SECTION_PARSERS}:
            known = ", ".join(repr(k) for k in ("dashboards", "results", "replication", *SECTION_PARSERS))
            raise _fail(file, key_node, f"unknown section {key_node.value!r}; expected one of {known}")

    seen: dict[str, int] = {}
    dashboards = tuple(
        _dashboard(file, entry, seen) for entry in _entries(file, top.get("dashboards"), "dashboards")
    )
    results = tuple(_results(file, entry, seen) for entry in _entries(file, top.get("results"), "results"))
    pairs, min_shared = _replication(file, top.get("replication"), seen)
    sections = {}
    for name, target in SECTION_PARSERS.items():
        node = top.get(name)
        if node is None or (isinstance(node, yaml.ScalarNode) and node.value in ("", "null", "~")):
            continue
        module, function = target.split(":")
        sections[name] = getattr(importlib.import_module(module), function)(file, node, seen)
    return Sources(
        file=file,
        dashboards=dashboards,
        results=results,
        replication_pairs=pairs,
        replication_min_shared_commits=min_shared,
        sections=sections,
    )


PAIR_KEYS = {"a_source", "a_machine", "b_source", "b_machine"}


def _replication(file: Path, node: yaml.Node | None, seen: dict[str, int]) -> tuple[tuple[dict, ...], int]:
    """replication: {pairs: [{a_source, a_machine, b_source, b_machine}, ...], min_shared_commits: N}"""
    if node is None:
        return (), 10
    fields = _mapping(file, node, "'replication'")
    for key in fields:
        if key not in {"pairs", "min_shared_commits"}:
            raise _fail(
                file, fields[key], f"unknown key {key!r} in 'replication'; allowed: min_shared_commits, pairs"
            )
    min_shared = 10
    if "min_shared_commits" in fields:
        text = _scalar(file, fields["min_shared_commits"], "'min_shared_commits'")
        if not text.isdigit():
            raise _fail(file, fields["min_shared_commits"], "'min_shared_commits' must be a whole number")
        min_shared = int(text)
    pairs = []
    for entry in _entries(file, fields.get("pairs"), "replication.pairs"):
        pair = _mapping(file, entry, "a replication pair")
        if set(pair) != PAIR_KEYS:
            raise _fail(file, entry, f"a replication pair needs exactly {', '.join(sorted(PAIR_KEYS))}")
        values = {key: _scalar(file, value, f"'{key}'") for key, value in pair.items()}
        for side in ("a_source", "b_source"):
            if values[side] not in seen:
                raise _fail(
                    file, pair[side], f"replication names {values[side]!r}, which is not a source here"
                )
        pairs.append(values)
    return tuple(pairs), min_shared


def _entries(file: Path, node: yaml.Node | None, section: str) -> list[yaml.Node]:
    if node is None or (isinstance(node, yaml.ScalarNode) and node.value in ("", "null", "~")):
        return []
    if not isinstance(node, yaml.SequenceNode):
        raise _fail(file, node, f"'{section}' must be a list of entries (each starting with '- name: ...')")
    return list(node.value)


def _common(
    file: Path, node: yaml.Node, seen: dict[str, int], allowed: set[str], required: set[str], section: str
) -> dict[str, str]:
    fields = _mapping(file, node, f"an entry of '{section}'")
    for key in fields:
        if key not in allowed:
            raise _fail(
                file,
                fields[key],
                f"unknown key {key!r} in '{section}'; allowed: {', '.join(sorted(allowed))}",
            )
    for key in sorted(required):
        if key not in fields:
            raise _fail(file, node, f"an entry of '{section}' is missing {key!r}")
    values = {key: _scalar(file, value, f"'{key}'") for key, value in fields.items()}
    name = values["name"]
    if not SOURCE_NAME_PATTERN.fullmatch(name):
        raise _fail(
            file, fields["name"], f"source name {name!r} must be lower case letters, digits, '.', '_' or '-'"
        )
    if name in seen:
        raise _fail(file, fields["name"], f"source name {name!r} is used twice (first on line {seen[name]})")
    seen[name] = fields["name"].start_mark.line + 1
    repo = values.get("repo")
    problem = repo_problem(repo, "repo") if repo is not None else None
    if problem:
        raise _fail(file, fields["repo"], problem)
    return values


def _resolve_local(file: Path, location: str) -> Path:
    path = Path(os.path.expanduser(location))
    return path if path.is_absolute() else (file.parent / path).resolve()


def _dashboard(file: Path, node: yaml.Node, seen: dict[str, int]) -> DashboardSource:
    values = _common(file, node, seen, {"name", "url", "repo"}, {"name", "url"}, "dashboards")
    url_node = next(value for key, value in node.value if key.value == "url")
    url = _dashboard_location(file, url_node, values["url"])
    return DashboardSource(name=values["name"], url=url, repo=values.get("repo"))


def _without_userinfo(url: str) -> str:
    """The URL with any ``user:password@`` before the host replaced by ``***@``."""
    return re.sub(r"^([^/]*//)[^/@]*@", r"\1***@", url)


def _dashboard_location(file: Path, node: yaml.Node, url: str) -> str:
    """An http(s) URL (its scheme lower-cased), or an absolute local folder: a path, or a file:// URL
    (file:///abs/path or file://localhost/abs/path). Anything else that looks like a URL is a mistake."""
    scheme = URL_LIKE.match(url)
    if scheme is None:
        return str(_resolve_local(file, url))
    name = scheme.group(1).lower()
    shown = _without_userinfo(url)  # what an error may quote: never a password
    if name not in DASHBOARD_SCHEMES:
        raise _fail(
            file,
            node,
            f"dashboard url {shown!r} has the scheme {scheme.group(1)!r}; "
            "expected http://, https://, file:// or a local folder",
        )
    parts = urlsplit(url)
    if name == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise _fail(
                file,
                node,
                f"dashboard url {shown!r}: a file:// URL must name an absolute local folder (file:///path)",
            )
        return str(Path(unquote(parts.path)).resolve())
    if not url[len(scheme.group(0)) :].startswith("/") or not parts.hostname:
        raise _fail(file, node, f"dashboard url {shown!r} has no host; expected {name}://host/path")
    return name + url[len(scheme.group(1)) :]


def _results(file: Path, node: yaml.Node, seen: dict[str, int]) -> ResultsSource:
    values = _common(file, node, seen, {"name", "path", "repo"}, {"name", "path"}, "results")
    return ResultsSource(
        name=values["name"], path=_resolve_local(file, values["path"]), repo=values.get("repo")
    )


# The helpers section parsers use (public names for the modules in SECTION_PARSERS).
fail_at = _fail
mapping_of = _mapping
scalar_of = _scalar
entries_of = _entries
resolve_local = _resolve_local

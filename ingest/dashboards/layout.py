"""Where a published asv dashboard keeps its files, worked out from its ``index.json`` alone.

The index lists the benchmarks and the graph configurations; every other file's path follows from it.
This module holds the path rules of the three generations of sites (the "dialects" of the graph
paths), the list of files an index promises (``site_layout``, ``promised_files``), and the check a
fetched document must pass before it is stored (``check_document``). No I/O.

* ``asv``: asv >= 0.3-ish, with ``info.json``. Paths come from asv's own ``Graph.get_file_path``.
* ``asv-0.2``: revision-based sites without ``info.json`` (dask 2017). The same rule but unsanitised,
  so a value holding ``//`` became nested folders on disk.
* ``asv-0.1``: date-based sites (``date_to_hash``, photutils 2016). No ``graph_param_list``: the
  configurations are derived from ``params`` and ``machines`` and probed, None renders as the bare key.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from asv.environment import get_env_name
from asv.graph import Graph

DIALECT_ASV, DIALECT_0_2, DIALECT_0_1 = "asv", "asv-0.2", "asv-0.1"
KINDS = ("index", "info", "series", "summary_series", "config_summary", "regressions")


# --- graph paths ---------------------------------------------------------------------------------


def _collapse(path: str) -> str:
    """As the file system stored it: an empty segment (a value holding '//') is no folder."""
    return "/".join(part for part in path.split("/") if part)


def _legacy_file(params: Mapping[str, Any], name: str, dialect: str) -> str:
    # asv 0.1/0.2 (graph.py of the time): items sorted by key, nothing sanitised;
    # 0.1 wrote None as the bare key and "" as "key-", 0.2 None as "key-null" and "" as the bare key.
    parts = []
    for key, value in sorted(params.items(), key=lambda item: item[0]):
        if value is None:
            parts.append(key if dialect == DIALECT_0_1 else f"{key}-null")
        elif value == "" and dialect == DIALECT_0_2:
            parts.append(key)
        else:
            parts.append(f"{key}-{value}")
    return "/".join(["graphs", *parts, name])


def _graph_file(params: Mapping[str, Any], name: str, dialect: str) -> str:
    """'graphs/<config parts>/<name>' without '.json', as the site's asv wrote it."""
    if dialect == DIALECT_ASV:
        # asv's own rule, the oracle: sanitised parts sorted as strings (matches asv.js).
        return _collapse(Graph.get_file_path(dict(params), name))
    return _collapse(_legacy_file(params, name, dialect))


def graph_path(params: Mapping[str, Any], dialect: str = DIALECT_ASV) -> str:
    """The config folder under ``graphs/`` for one ``graph_param_list`` entry, e.g.
    ``branch-main/machine-macos-12/python-3.10`` (asv's ``Graph.get_file_path`` for ``asv``)."""
    folder = _graph_file(params, "x", dialect).rpartition("/")[0]
    return folder.removeprefix("graphs").lstrip("/")


def series_path(params: Mapping[str, Any], benchmark: str, dialect: str = DIALECT_ASV) -> str:
    return _graph_file(params, benchmark, dialect) + ".json"


def summary_series_path(benchmark: str, dialect: str = DIALECT_ASV) -> str:
    # asv publishes a benchmark's summary as the graph of the pseudo-config {"summary": ""}.
    return _graph_file({"summary": ""}, benchmark, dialect) + ".json"


def config_summary_path(params: Mapping[str, Any], dialect: str = DIALECT_ASV) -> str:
    # summarylist writes Graph.get_file_path(params, "summary") + ".json" beside the series.
    return _graph_file(params, "summary", dialect) + ".json"


# --- what an index.json promises --------------------------------------------------------------


@dataclass(frozen=True)
class PromisedFile:
    relative_path: str
    kind: str
    config_path: str | None = None
    benchmark: str | None = None
    # For files of one configuration: the configuration (JSON), its machine and environment name,
    # kept with the file so the warehouse can label its points without the index at hand.
    config: str | None = None
    machine: str | None = None
    env_name: str | None = None


@dataclass(frozen=True)
class SiteLayout:
    dialect: str
    configs: tuple[dict, ...]
    benchmarks: tuple[str, ...]
    machines: Mapping  # index.json's machine facts, which name environments
    probe_configs: bool  # configs are guesses (asv 0.1): absent ones are skipped, not reported
    summaries: bool  # graphs/summary/<benchmark>.json
    config_summaries: bool  # graphs/<config>/summary.json
    regressions: bool
    # graph_param_list entries that cannot be a configuration: (where in index.json, e.g.
    # 'graph_param_list[3]', and why). Their files are not asked for; each becomes one
    # raw.dashboard_missing row, and the rest of the site loads.
    bad_configs: tuple[tuple[str, str], ...] = ()


def config_problem(entry: Any) -> str | None:
    """Why a ``graph_param_list`` entry cannot be a configuration, or None. asv writes an object of
    parameter names to text or null (numbers and booleans pass too); the machine, when named, is text."""
    if not isinstance(entry, dict):
        return f"is {_JSON_TYPES.get(type(entry), 'a number')} ({json.dumps(entry)[:80]}), not an object of parameters"
    nested = sorted(key for key, value in entry.items() if isinstance(value, dict | list))
    if nested:
        return f"has a value that is not a single text, number or null: {', '.join(map(repr, nested))}"
    if "machine" in entry and not isinstance(entry["machine"], str):
        return f"names its machine with {_JSON_TYPES.get(type(entry['machine']), 'a number')}, not text"
    return None


def site_dialect(index: Mapping, has_info: bool) -> str:
    if "revision_to_hash" not in index and "date_to_hash" in index:
        return DIALECT_0_1
    return DIALECT_ASV if has_info else DIALECT_0_2


def legacy_configs(index: Mapping) -> list[dict]:
    """asv 0.1 sites list no configurations. A configuration is one machine (its facts fixed) with
    one value of every other parameter, so the candidates are the product per machine; facts a
    machine lacks are None, as asv 0.1 filled them in."""
    params = index.get("params") or {}
    machines = index.get("machines") or {}
    machine_keys = {key for facts in machines.values() for key in facts} | {"machine"}
    free = sorted(key for key in params if key not in machine_keys)
    configs = []
    for name, facts in sorted(machines.items()):
        fixed = {key: name if key == "machine" else facts.get(key) for key in params if key in machine_keys}
        for combo in itertools.product(*((params[key] or [None]) for key in free)):
            configs.append({**fixed, **dict(zip(free, combo, strict=True))})
    return configs


def site_layout(index: Mapping, has_info: bool) -> SiteLayout:
    dialect = site_dialect(index, has_info)
    pages = {page[0] for page in index.get("pages", []) if page}
    listed = "pages" in index
    modern = dialect != DIALECT_0_1
    listed_configs = (index.get("graph_param_list") or []) if modern else []
    if isinstance(listed_configs, list):
        problems = [
            (
                f"graph_param_list[{i}]",
                why and f"graph_param_list entry {i} {why}: its configuration is skipped",
            )
            for i, why in enumerate(map(config_problem, listed_configs))
        ]
    else:
        found = _JSON_TYPES.get(type(listed_configs), "a number")
        problems = [
            ("graph_param_list", f"graph_param_list is {found}, not a list: no configuration is known")
        ]
        listed_configs = [None]
    return SiteLayout(
        dialect=dialect,
        configs=(
            tuple(entry for entry, (_at, why) in zip(listed_configs, problems, strict=True) if why is None)
            if modern
            else tuple(legacy_configs(index))
        ),
        bad_configs=tuple((at, why) for at, why in problems if why is not None),
        benchmarks=tuple(sorted(index.get("benchmarks") or {})),
        machines=index.get("machines") or {},
        probe_configs=not modern,
        summaries=modern,
        config_summaries=modern and (not listed or "summarylist" in pages),
        regressions=modern and (not listed or "regressions" in pages),
    )


def _labels(layout: SiteLayout, config: Mapping) -> dict:
    return {
        "config": json.dumps(config, sort_keys=True),
        "machine": config.get("machine"),
        "env_name": env_name({"machines": layout.machines}, config),
    }


def config_series(layout: SiteLayout, config: Mapping) -> list[PromisedFile]:
    folder = graph_path(config, layout.dialect)
    labels = _labels(layout, config)
    return [
        PromisedFile(series_path(config, b, layout.dialect), "series", folder, b, **labels)
        for b in layout.benchmarks
    ]


def promised_files(layout: SiteLayout, configs: tuple[dict, ...] | None = None) -> list[PromisedFile]:
    """Every file but index.json and info.json that the site's index promises."""
    files = []
    for config in layout.configs if configs is None else configs:
        files += config_series(layout, config)
        if layout.config_summaries:
            path = config_summary_path(config, layout.dialect)
            files.append(
                PromisedFile(
                    path, "config_summary", graph_path(config, layout.dialect), **_labels(layout, config)
                )
            )
    if layout.summaries:
        files += [
            PromisedFile(summary_series_path(b, layout.dialect), "summary_series", None, b)
            for b in layout.benchmarks
        ]
    if layout.regressions:
        files.append(PromisedFile("regressions.json", "regressions"))
    return files


# --- checking a fetched document ---------------------------------------------------------------

_EXPECTED = {"index": dict, "info": dict, "regressions": dict}  # every other kind: a JSON array
_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}


def check_document(kind: str, body: bytes) -> tuple[Any, str | None]:
    """The parsed document, or None and why it is unusable. Python's parser accepts asv's bare NaN."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8 text (byte {exc.start})"
    try:
        doc = json.loads(text)
    except ValueError as exc:
        return None, f"not valid JSON (truncated or corrupt file): {getattr(exc, 'msg', exc)}"
    expected = _EXPECTED.get(kind, list)
    if not isinstance(doc, expected):
        found = _JSON_TYPES.get(type(doc), "a number")
        return None, f"top level is {found}, expected {_JSON_TYPES[expected]}"
    if kind == "index" and not (
        isinstance(doc.get("benchmarks"), dict)
        and isinstance(doc.get("revision_to_hash", doc.get("date_to_hash")), dict)
    ):
        return None, "index.json without 'benchmarks' and 'revision_to_hash' (or 'date_to_hash')"
    if kind in ("series", "summary_series"):
        # Every point must be [x, y] with a numeric x (the commit's revision or date): a point that is not
        # cannot be tied to a commit. A y of the wrong type is judged per value in the models ('invalid').
        for position, point in enumerate(doc):
            if not (
                isinstance(point, list)
                and len(point) == 2
                and isinstance(point[0], int | float)
                and not isinstance(point[0], bool)
            ):
                return None, f"point {position} is {_point_text(point)}, not [x, y] with a numeric x"
    return doc, None


def _point_text(point: Any) -> str:
    text = json.dumps(point)
    return text if len(text) <= 40 else text[:37] + "..."


# --- environment names ------------------------------------------------------------------------------


def env_name(index: Mapping, config: Mapping) -> str:
    """asv's environment name without the tool (a dashboard does not record it): the python version
    and every config key that is neither a machine fact nor the branch, e.g. 'py3.7-numpy'."""
    facts = (index.get("machines") or {}).get(config.get("machine"), {})
    skip = set(facts) | {"machine", "branch", "python"}
    requirements = {k: "" if v is None else str(v) for k, v in config.items() if k not in skip}
    return get_env_name(None, config.get("python", ""), requirements, {})

"""Generate the demo warehouse's bundled sample: real asv results for a tiny project with a planted history.

The script writes a small pure-Python package (``fastfuncs``) into a fresh git repository, one commit per
step of a scripted history that contains known speed-ups and a known regression, benchmarks every commit
with real asv, publishes the asv dashboard, and copies the JSON it needs into ``samples/``:

    samples/results/        the asv results tree, exactly as asv wrote it
    samples/dashboard/      the published dashboard's JSON (no html/js/css)
    samples/asv.conf.json   the asv configuration used
    samples/ground_truth.json  the commits and the performance changes planted in them
    samples/README.md, samples/sources.yml

Commit hashes are reproducible: names, e-mails, dates and file contents are fixed, and git runs with the
user's and system's configuration switched off. The timings are real measurements, so they change with
every regeneration. ``--skip-asv`` only builds the history and prints the hashes (a cheap way to check
that they did not move).

Run from the repository root:  .venv/bin/python samples/generate.py [--workdir DIR] [--keep] [--skip-asv]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

SAMPLES_DIR = Path(__file__).resolve().parent
PROJECT = "fastfuncs"
GITHUB_REPO = "datasmith-demo/fastfuncs"
MACHINE = "datasmith-sample"
# Fixed machine facts, so machine.json is identical everywhere and says nothing about the real host.
MACHINE_FACTS = {"arch": "x86_64", "cpu": "sample-cpu", "os": "Linux", "ram": "8GB", "num_cpu": "2"}
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
AUTHOR_NAME = "DataSmith Sample"
AUTHOR_EMAIL = "sample@datasmith.invalid"
FIRST_COMMIT_EPOCH = 1704110400  # 2024-01-01T12:00:00Z; each later commit is one day later.
SECONDS_PER_DAY = 86400
MAX_SAMPLE_BYTES = 2_000_000


# --------------------------------------------------------------------------------------------------
# The demo project's files. Each commit replaces whole files, so every version is spelled out here.
# --------------------------------------------------------------------------------------------------

GITIGNORE = """\
.asv/
results/
html/
__pycache__/
*.egg-info/
build/
dist/
"""

PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "fastfuncs"
version = "{version}"
description = "Small pure-Python helpers on items and words (the DataSmith demo project)."
readme = "README.md"
requires-python = ">=3.9"
license = {{text = "MIT"}}
dependencies = []

[tool.setuptools.packages.find]
where = ["src"]
"""

INIT = '''\
"""fastfuncs: small pure-Python helpers on items and words."""

from fastfuncs.core import distinct_count, fib, sort_words, split_words

__all__ = ["distinct_count", "fib", "sort_words", "split_words"]
__version__ = "{version}"
'''

CORE_DOC = '''\
"""Small helpers on lists of items and words."""
'''

CORE_ALL = """\
__all__ = ["distinct_count", "fib", "sort_words", "split_words"]
"""

DISTINCT_LIST_SCAN = '''\
def distinct_count(items):
    """Return how many distinct values ``items`` holds."""
    seen = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return len(seen)
'''

DISTINCT_SET = '''\
def distinct_count(items):
    """Return how many distinct values ``items`` holds (the items must be hashable)."""
    return len(set(items))
'''

FIB_RECURSIVE = '''\
def fib(n):
    """Return the n-th Fibonacci number (fib(0) == 0, fib(1) == 1)."""
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)
'''

FIB_ITERATIVE = '''\
def fib(n):
    """Return the n-th Fibonacci number (fib(0) == 0, fib(1) == 1)."""
    previous, current = 0, 1
    for _ in range(n):
        previous, current = current, previous + current
    return previous
'''

SORT_BUILTIN = '''\
def sort_words(words):
    """Return ``words`` in ascending order."""
    return sorted(words)
'''

SORT_CASEFOLD_CMP = '''\
def _compare_casefolded(left, right):
    left, right = left.casefold(), right.casefold()
    return (left > right) - (left < right)


def sort_words(words):
    """Return ``words`` in ascending order, ignoring case."""
    return sorted(words, key=functools.cmp_to_key(_compare_casefolded))
'''

TOKENIZER = '''\
def {helper}(text):
    for raw in text.split():
        word = raw.strip(".,;:!?\\"'()").lower()
        if word:
            yield word


def split_words(text):
    """Split ``text`` into lower-case words, dropping punctuation."""
    return list({helper}(text))
'''


def core_module(*, distinct: str, fib: str, sort: str, helper: str) -> str:
    imports = "import functools\n" if "functools" in sort else ""
    head = "\n".join(part for part in (CORE_DOC, imports, CORE_ALL) if part)
    body = "\n\n".join(part for part in (distinct, fib, sort, TOKENIZER.format(helper=helper)))
    return head + "\n\n" + body


README_V1 = """\
# fastfuncs

Small pure-Python helpers on items and words. Benchmarked with asv: `asv run`.
"""

README_V2 = """\
# fastfuncs

Small pure-Python helpers on items and words. Benchmarked with asv: `asv run`.

## Usage

```python
from fastfuncs import distinct_count, fib, sort_words, split_words

distinct_count([3, 1, 3, 2])  # 3
fib(10)  # 55
sort_words(["pear", "apple"])  # ['apple', 'pear']
split_words("Hello, world!")  # ['hello', 'world']
```
"""

TESTS_V1 = """\
from fastfuncs import distinct_count, fib, sort_words, split_words


def test_distinct_count():
    assert distinct_count([]) == 0
    assert distinct_count([3, 1, 3, 2, 1]) == 3
    assert distinct_count(["a", "b", "a"]) == 2


def test_fib():
    assert [fib(n) for n in range(8)] == [0, 1, 1, 2, 3, 5, 8, 13]


def test_sort_words():
    assert sort_words(["pear", "apple", "fig"]) == ["apple", "fig", "pear"]


def test_split_words():
    assert split_words("Hello, world! (again)") == ["hello", "world", "again"]
"""

TESTS_V2 = (
    TESTS_V1
    + """

def test_sort_words_ignores_case():
    assert sort_words(["pear", "Apple", "fig"]) == ["Apple", "fig", "pear"]


def test_fib_large():
    assert fib(90) == 2880067194370816120
"""
)

CHANGELOG_V1 = """\
# Changelog

## Unreleased

- `distinct_count` uses a set: linear instead of quadratic time.
- `fib` is iterative: linear instead of exponential time.
- `sort_words` ignores case.
"""

CHANGELOG_V2 = CHANGELOG_V1.replace("## Unreleased", "## 0.2.0 (2024-01-10)")

# The benchmarks never change, so asv gives every benchmark the same version on every commit.
BENCHMARKS = '''\
"""asv benchmarks for fastfuncs.

Inputs come from a fixed generator, so every commit sees the same data.
"""

from fastfuncs import distinct_count, fib, sort_words, split_words


def _pseudo_random(count, seed=12345):
    # A fixed linear congruential generator: the same numbers on any Python or platform.
    state = seed
    for _ in range(count):
        state = (state * 1103515245 + 12345) % 2**31
        yield state >> 8


def _words(count):
    letters = "abcdefghijklmnopqrstuvwxyz"
    return [
        "".join(letters[(value >> (5 * i)) % 26] for i in range(3 + value % 6))
        for value in _pseudo_random(count)
    ]


WORDS = _words(2000)
TEXT = " ".join(
    f"{word.capitalize()}," if i % 7 == 0 else word for i, word in enumerate(WORDS)
)


class DistinctCount:
    params = ([200, 2000], ["ints", "strs"])
    param_names = ["n", "kind"]

    def setup(self, n, kind):
        values = [value % (n // 2) for value in _pseudo_random(n)]
        self.items = values if kind == "ints" else [f"item-{value}" for value in values]

    def time_distinct_count(self, n, kind):
        distinct_count(self.items)


def time_fib(n):
    fib(n)


time_fib.params = [15, 20]
time_fib.param_names = ["n"]


def time_sort_words():
    sort_words(WORDS)


def time_split_words():
    split_words(TEXT)


def track_distinct_words():
    return distinct_count(WORDS)


track_distinct_words.unit = "items"


def peakmem_split_words():
    split_words(TEXT * 20)
'''


# --------------------------------------------------------------------------------------------------
# The scripted history and the performance changes planted in it.
# --------------------------------------------------------------------------------------------------


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
    files: dict[str, str]  # whole-file contents that this commit writes
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


def core(distinct=DISTINCT_LIST_SCAN, fib=FIB_RECURSIVE, sort=SORT_BUILTIN, helper="_tokens") -> str:
    return core_module(distinct=distinct, fib=fib, sort=sort, helper=helper)


def history() -> list[Step]:
    """The commits, oldest first. Planted changes sit away from both ends so detectors see both sides."""
    fast_distinct = {"distinct": DISTINCT_SET}
    renamed = {**fast_distinct, "helper": "_iter_tokens"}
    fast_fib = {**renamed, "fib": FIB_ITERATIVE}
    slow_sort = {**fast_fib, "sort": SORT_CASEFOLD_CMP}
    return [
        Step(
            "Initial fastfuncs package with asv benchmarks",
            {
                ".gitignore": GITIGNORE,
                "README.md": README_V1,
                "pyproject.toml": PYPROJECT.format(version="0.1.0"),
                "src/fastfuncs/__init__.py": INIT.format(version="0.1.0"),
                "src/fastfuncs/core.py": core(),
                "benchmarks/__init__.py": "",
                "benchmarks/bench_core.py": BENCHMARKS,
            },
        ),
        Step("docs: add usage examples to the README", {"README.md": README_V2}),
        Step("tests: add unit tests for the core helpers", {"tests/test_core.py": TESTS_V1}),
        Step(
            "perf: count distinct items with a set instead of a list scan",
            {"src/fastfuncs/core.py": core(**fast_distinct)},
            distinct_count_changes(),
        ),
        Step("refactor: rename the internal tokenizer helper", {"src/fastfuncs/core.py": core(**renamed)}),
        Step(
            "perf: compute fib with a loop instead of recursion",
            {"src/fastfuncs/core.py": core(**fast_fib)},
            fib_changes(),
        ),
        Step(
            "sort_words: order words case-insensitively",
            {"src/fastfuncs/core.py": core(**slow_sort)},
            (SORT_REGRESSION,),
        ),
        Step("docs: add a changelog", {"CHANGELOG.md": CHANGELOG_V1}),
        Step("tests: cover case-insensitive sorting and large fib", {"tests/test_core.py": TESTS_V2}),
        Step(
            "release: 0.2.0",
            {
                "CHANGELOG.md": CHANGELOG_V2,
                "pyproject.toml": PYPROJECT.format(version="0.2.0"),
                "src/fastfuncs/__init__.py": INIT.format(version="0.2.0"),
            },
        ),
    ]


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


# --------------------------------------------------------------------------------------------------
# asv: configure, measure every commit, publish.
# --------------------------------------------------------------------------------------------------


def asv_conf() -> dict:
    return {
        "version": 1,
        "project": PROJECT,
        "project_url": f"https://github.com/{GITHUB_REPO}",
        "repo": ".",
        "dvcs": "git",
        "branches": ["main"],
        "environment_type": "virtualenv",
        "pythons": [PYTHON],
        "matrix": {},
        "benchmark_dir": "benchmarks",
        "env_dir": ".asv/env",
        "results_dir": "results",
        "html_dir": "html",
        "show_commit_url": f"https://github.com/{GITHUB_REPO}/commit/",
        # One wheel build per commit without build isolation: the environment's bundled setuptools is
        # enough, and it spares a download of the build backend for every commit.
        "build_command": [
            "python -m pip wheel --no-deps --no-build-isolation -w {build_cache_dir} {build_dir}"
        ],
    }


def write_asv_conf(repo: Path) -> Path:
    # Not committed: it names the running Python's version, which must not feed into the commit hashes.
    path = repo / "asv.conf.json"
    path.write_text(json.dumps(asv_conf(), indent=4) + "\n", encoding="utf-8")
    return path


def asv_env(home: Path) -> dict[str, str]:
    """asv keeps its machine file in ~/.asv-machine.json: point HOME at the work dir so the user's is untouched.

    pip's own configuration and cache stay where they were (through XDG_*), so package indexes still work.
    """
    real_home = Path.home()
    home.mkdir(parents=True, exist_ok=True)
    return isolated_env(
        HOME=str(home),
        XDG_CONFIG_HOME=os.environ.get("XDG_CONFIG_HOME", str(real_home / ".config")),
        XDG_CACHE_HOME=os.environ.get("XDG_CACHE_HOME", str(real_home / ".cache")),
        # asv looks for "pythonX.Y" on PATH: find the interpreter running this script first.
        PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    )


def asv(repo: Path, conf: Path, env: dict[str, str], *args: str) -> None:
    command = [sys.executable, "-m", "asv", *args, "--config", str(conf)]
    print("$", " ".join(command[2:]), flush=True)
    subprocess.run(command, cwd=repo, env=env, check=True)


def write_machine_file(home: Path) -> None:
    """Describe the sample machine in asv's ~/.asv-machine.json format, with every fact fixed.

    `asv machine --yes --arch ... --num_cpu ...` stores only the values that differ from the host's own, so
    its output (and so machine.json) would depend on the host; writing the file keeps it identical everywhere.
    """
    machine = {"machine": MACHINE, **MACHINE_FACTS}
    (home / ".asv-machine.json").write_text(json.dumps({MACHINE: machine, "version": 1}, indent=4) + "\n")


def measure(repo: Path, conf: Path, home: Path) -> None:
    env = asv_env(home)
    write_machine_file(home)
    # Default asv sampling (2 rounds, interleaved across commits) with raw samples recorded: the files
    # then carry the full statistics (CI, quartiles, samples) that the warehouse ingests.
    asv(repo, conf, env, "run", "ALL", "--machine", MACHINE, "--record-samples", "--show-stderr", "--no-pull")
    asv(repo, conf, env, "publish", "--no-pull")


# --------------------------------------------------------------------------------------------------
# Export into samples/.
# --------------------------------------------------------------------------------------------------


def replace_tree(source: Path, target: Path, keep) -> None:
    """Copy the files under source that keep(path) accepts into target, replacing whatever was there."""
    if target.exists():
        shutil.rmtree(target)
    for path in sorted(source.rglob("*")):
        if path.is_file() and keep(path):
            destination = target / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination)


def ground_truth(commits: list[dict], steps: list[Step]) -> dict:
    changes = [
        {
            "commit": commit["commit"],
            "parent": commit["parent"],
            "benchmark": planted.benchmark,
            "params": planted.params,
            "direction": planted.direction,
            "expected_speedup_at_least": planted.at_least,
            "description": planted.description,
        }
        for commit, step in zip(commits, steps, strict=True)
        for planted in step.planted
    ]
    return {
        "project": PROJECT,
        "repo": GITHUB_REPO,
        "machine": MACHINE,
        "note": (
            "expected_speedup_at_least is old/new time for an improvement and new/old time for a regression; "
            "params uses asv's repr of each value, joined as 'name=value, name2=value2'."
        ),
        "commits": commits,
        "changes": changes,
    }


SOURCES_YML = """\
# Sources for the demo warehouse: the sample that `make sample` generates (see samples/README.md).
# Paths are relative to this file.
results:
  - name: sample
    path: results
    repo: datasmith-demo/fastfuncs
dashboards:
  - name: sample-dashboard
    url: dashboard
    repo: datasmith-demo/fastfuncs
"""


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def readme(truth: dict) -> str:
    commit_rows = [
        [str(i), f"`{c['commit'][:8]}`", c["date"][:10], c["subject"]]
        for i, c in enumerate(truth["commits"], 1)
    ]
    change_rows = [
        [f"`{c['commit'][:8]}`", f"`{c['benchmark']}`", f"`{c['params']}`" if c["params"] else "", c["direction"],
         f"{c['expected_speedup_at_least']:g}x"]
        for c in truth["changes"]
    ]  # fmt: skip
    return README_TEMPLATE.format(
        python=PYTHON,
        commits=markdown_table(["#", "commit", "date", "subject"], commit_rows),
        changes=markdown_table(["commit", "benchmark", "params", "direction", "at least"], change_rows),
    )


README_TEMPLATE = """\
# The bundled sample

Real asv data that the project makes itself, so the demo warehouse (and its tests) have something to
ingest without network access. `samples/sources.yml` points the warehouse at it.

It comes from `fastfuncs`, a tiny pure-Python package that `samples/generate.py` writes into a fresh git
repository as a scripted history of ten commits. A few of those commits make a function much faster or
slower on purpose; the rest touch only docs, tests or names. The script then runs real asv on every commit
(virtualenv environment, Python {python}, default sampling with raw samples recorded), publishes the asv
dashboard, and copies the JSON here.

Regenerate with `make sample`, which runs `.venv/bin/python samples/generate.py`. It takes a minute or two
on two cores and needs PyPI to set up asv's environment. `--skip-asv` only rebuilds the git history, prints
the commit hashes and checks them against `ground_truth.json`.

| path | what |
|---|---|
| `results/` | the asv results tree exactly as asv wrote it: `benchmarks.json`, `{machine}/machine.json`, one `<hash8>-<env>.json` per commit |
| `dashboard/` | the published dashboard's JSON (`index.json`, `info.json`, `regressions.json`, `graphs/**`) and `regressions.xml` |
| `asv.conf.json` | the asv configuration the run used |
| `ground_truth.json` | every commit in order, and every (commit, benchmark, params) that a planted change affects |
| `sources.yml` | the demo's sources file |

## Timings are real

The numbers are real measurements from the machine that ran the script. The machine description is
replaced by fixed values (`{machine}`, x86_64, 2 CPUs, 8GB). Regenerating changes every timing but never a
commit hash, because names, dates, file contents and git options are all fixed. The asv configuration is
kept out of the history (it sits untracked next to it) because it names the Python version.

## Benchmarks

The benchmark code is written in the first commit and never changes, so each benchmark keeps one asv
version through the whole history.

| benchmark | params | what |
|---|---|---|
| `bench_core.DistinctCount.time_distinct_count` | `n` in 200, 2000; `kind` in 'ints', 'strs' | two parameters; string values keep their quotes |
| `bench_core.time_fib` | `n` in 15, 20 | one parameter |
| `bench_core.time_sort_words` | none | the planted regression |
| `bench_core.time_split_words` | none | a control: a refactor touches its code, its speed stays the same |
| `bench_core.track_distinct_words` | none | a track benchmark (`unit = "items"`), always 1990 |
| `bench_core.peakmem_split_words` | none | a peak-memory benchmark, flat |

## Commits

{commits}

## Planted changes (ground truth)

"at least" is the old/new time ratio for an improvement and new/old for a regression; the real ratios are
far larger, so detection does not depend on noise. Params are spelled as `name=value, ...` with asv's repr
of each value. Every planted change persists to the last commit, so asv's own `regressions.json` lists the
regression.

{changes}
""".replace("{machine}", MACHINE)


def export(repo: Path, conf: Path, truth: dict) -> None:
    replace_tree(repo / "results", SAMPLES_DIR / "results", keep=lambda p: p.suffix == ".json")
    replace_tree(repo / "html", SAMPLES_DIR / "dashboard", keep=lambda p: p.suffix in (".json", ".xml"))
    shutil.copyfile(conf, SAMPLES_DIR / "asv.conf.json")
    write_static_files(truth)


def write_static_files(truth: dict) -> None:
    (SAMPLES_DIR / "ground_truth.json").write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    (SAMPLES_DIR / "sources.yml").write_text(SOURCES_YML, encoding="utf-8")
    (SAMPLES_DIR / "README.md").write_text(readme(truth), encoding="utf-8")


# --------------------------------------------------------------------------------------------------
# Checks: the planted changes must be visible in what asv measured.
# --------------------------------------------------------------------------------------------------


def load_measurements(results_dir: Path) -> dict[tuple[str, str, str], float]:
    """(commit, benchmark, params text) -> the value asv recorded; params text as in ground_truth.json."""
    catalogue = json.loads((results_dir / "benchmarks.json").read_text(encoding="utf-8"))
    values: dict[tuple[str, str, str], float] = {}
    for path in sorted((results_dir / MACHINE).glob("*-*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for name, row in data["results"].items():
            record = dict(zip(data["result_columns"], row, strict=False))
            names = catalogue[name].get("param_names", [])
            combos = combinations(record.get("params") or [])
            for combo, value in zip(combos, record["result"] or [], strict=True):
                text = ", ".join(f"{n}={v}" for n, v in zip(names, combo, strict=True))
                values[(data["commit_hash"], name, text)] = value
    return values


def combinations(param_lists: list[list[str]]) -> list[tuple[str, ...]]:
    # asv stores one result per combination, in the order of itertools.product over the params lists.
    combos: list[tuple[str, ...]] = [()]
    for options in param_lists:
        combos = [(*combo, option) for combo in combos for option in options]
    return combos


def check(truth: dict, results_dir: Path, dashboard_dir: Path) -> list[str]:
    """Print the measured values around each planted change; return what is missing or too small."""
    values = load_measurements(results_dir)
    commits = [c["commit"] for c in truth["commits"]]
    problems = [f"no results for commit {c[:8]}" for c in commits if not any(k[0] == c for k in values)]
    series = sorted({(c["benchmark"], c["params"]) for c in truth["changes"]})
    print_table(series, commits, values)
    for change in truth["changes"]:
        before = values.get((change["parent"], change["benchmark"], change["params"]))
        after = values.get((change["commit"], change["benchmark"], change["params"]))
        label = f"{change['benchmark']} [{change['params']}] at {change['commit'][:8]}"
        if before is None or after is None:
            problems.append(f"{label}: missing value")
            continue
        ratio = before / after if change["direction"] == "improvement" else after / before
        print(
            f"{label}: {change['direction']} x{ratio:.1f} (expected >= {change['expected_speedup_at_least']})"
        )
        if ratio < change["expected_speedup_at_least"]:
            problems.append(f"{label}: ratio {ratio:.2f} below {change['expected_speedup_at_least']}")
    problems += check_published_regressions(truth, dashboard_dir)
    return problems


def check_published_regressions(truth: dict, dashboard_dir: Path) -> list[str]:
    listed = json.loads((dashboard_dir / "regressions.json").read_text(encoding="utf-8"))["regressions"]
    names = {entry[0] for entry in listed}
    print(f"asv regressions.json lists: {sorted(names) or 'nothing'}")
    wanted = {c["benchmark"] for c in truth["changes"] if c["direction"] == "regression"}
    return [f"asv did not publish the planted regression of {name}" for name in sorted(wanted - names)]


def print_table(series: list[tuple[str, str]], commits: list[str], values: dict) -> None:
    print("\nmeasured value per commit (seconds):")
    header = ["commit"] + [f"{name.rsplit('.', 1)[-1]}[{params}]" for name, params in series]
    print("  ".join(f"{h:>26}" for h in header))
    for commit in commits:
        cells = [values.get((commit, name, params)) for name, params in series]
        print("  ".join([f"{commit[:8]:>26}", *(f"{v:>26.3e}" if v else f"{'-':>26}" for v in cells)]))
    print()


def directory_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# --------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--workdir", type=Path, help="where to build the demo repository (default: a temp dir)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp work dir afterwards")
    parser.add_argument(
        "--skip-asv", action="store_true", help="only build the git history and print its hashes"
    )
    parser.add_argument(
        "--clone",
        type=Path,
        metavar="DIR",
        help="only rebuild the git history at DIR (the demo's local clone for reports and patches); "
        "does nothing when DIR already holds it",
    )
    parser.add_argument(
        "--clone-for-db",
        type=Path,
        metavar="DB",
        help="like --clone, at the place the dataset stage looks for the demo's clone beside warehouse DB",
    )
    parser.add_argument(
        "--agent-only",
        action="store_true",
        help="only measure the demo's agent results (samples/agent/, see samples/agent_results.py)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.clone is not None:
        return write_clone(args.clone.resolve())
    if args.clone_for_db is not None:
        from dataset.clones import candidate_paths

        return write_clone(candidate_paths(args.clone_for_db, GITHUB_REPO)[0].resolve())
    if args.agent_only:
        from agent_results import measure_agent_results  # samples/agent_results.py, beside this file

        return measure_agent_results(args.workdir)
    started = time.monotonic()
    workdir = args.workdir.resolve() if args.workdir else Path(tempfile.mkdtemp(prefix="datasmith-sample-"))
    repo = workdir / PROJECT
    if repo.exists():
        sys.exit(f"{repo} already exists; pass an empty or new --workdir")
    try:
        steps = history()
        commits = build_history(repo, steps)
        truth = ground_truth(commits, steps)
        for commit in commits:
            print(commit["commit"], commit["subject"])
        if args.skip_asv:
            return compare_with_saved_hashes(commits)
        conf = write_asv_conf(repo)
        measure(repo, conf, workdir / "home")
        export(repo, conf, truth)
        problems = check(truth, SAMPLES_DIR / "results", SAMPLES_DIR / "dashboard")
        size = sum(directory_size(SAMPLES_DIR / name) for name in ("results", "dashboard"))
        print(
            f"samples written: results+dashboard {size / 1024:.0f} KiB in {time.monotonic() - started:.0f}s"
        )
        if size > MAX_SAMPLE_BYTES:
            problems.append(f"sample is {size} bytes, above the {MAX_SAMPLE_BYTES} budget")
        for problem in problems:
            print("PROBLEM:", problem, file=sys.stderr)
        return 1 if problems else 0
    finally:
        if args.workdir is None and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"work dir kept: {workdir}")


def write_clone(target: Path) -> int:
    """The demo's history at target: the same commits (hashes) the sample was measured on."""
    if (target / ".git").exists():
        return 0
    target.parent.mkdir(parents=True, exist_ok=True)
    commits = build_history(target, history())
    return compare_with_saved_hashes(commits)


def compare_with_saved_hashes(commits: list[dict]) -> int:
    saved_file = SAMPLES_DIR / "ground_truth.json"
    if not saved_file.exists():
        return 0
    saved = [c["commit"] for c in json.loads(saved_file.read_text(encoding="utf-8"))["commits"]]
    same = saved == [c["commit"] for c in commits]
    print(
        "commit hashes match samples/ground_truth.json"
        if same
        else "commit hashes DIFFER from the saved sample"
    )
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())

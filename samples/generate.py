"""Generate the demo warehouse's bundled sample: real asv results for a tiny project with a planted history.

The project (``fastfuncs``, a small pure-Python package) is real files under ``samples/project/``, one folder
per commit (see ``samples/history.py``). The script commits them into a fresh git repository, one commit per
step of a scripted history that contains known speed-ups and a known regression, benchmarks every commit
with real asv (``samples/measure.py``), publishes the asv dashboard, and copies the JSON it needs into
``samples/``:

    samples/results/        the asv results tree, as asv wrote it
    samples/dashboard/      the published dashboard's JSON (no html/js/css)
    samples/asv.conf.json   the asv configuration used
    samples/ground_truth.json  the commits and the performance changes planted in them
    samples/README.md

and then adds asv's profiles of the demo's tasks to their result files (``samples/measure.py``).

``samples/sources.yml`` (the demo's sources file) and ``samples/agent/`` (``--agent-only``) are not rewritten
by a full run.

Commit hashes are reproducible (see ``samples/history.py``). The timings are real measurements, so they
change with every regeneration. ``--skip-asv`` only builds the history and prints the hashes (a cheap way to
check that they did not move).

Run from the repository root:  .venv/bin/python samples/generate.py [--workdir DIR] [--keep] [--skip-asv]
[--profiles-only]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

# Run as a script or loaded from its path (tests/*_support.py): import `samples` from the repository root.
if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from samples.history import (
    GITHUB_REPO,
    MACHINE,
    PROJECT,
    SAMPLES_DIR,
    Planted,
    Step,
    build_history,
    history,
)
from samples.measure import (
    PYTHON,
    add_profiles,
    asv_conf,
    measure,
    merge_profiles,
    missing_profiles,
    run_profiles,
    write_asv_conf,
)

# Loaded by path (tests/*_support.py), this module hands on the sample's history and asv configuration.
__all__ = ["Planted", "Step", "asv_conf", "build_history", "history", "main", "write_asv_conf"]

MAX_SAMPLE_BYTES = 2_000_000


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


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def readme(truth: dict, python: str = PYTHON) -> str:
    """samples/README.md for the sample in truth (ground_truth.json), measured with that Python version."""
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
        python=python,
        commits=markdown_table(["#", "commit", "date", "subject"], commit_rows),
        changes=markdown_table(["commit", "benchmark", "params", "direction", "at least"], change_rows),
    )


README_TEMPLATE = """\
# The bundled sample

Real asv data that the project makes itself, so the demo warehouse (and its tests) have something to
ingest without network access. `samples/sources.yml` points the warehouse at it.

It comes from `fastfuncs`, a tiny pure-Python package kept as real files in `project/`, one folder per
commit of a scripted history of ten commits (`history.py` gives each folder its subject and planted
changes); `samples/generate.py` commits them into a fresh git repository. A few of those commits make a
function much faster or slower on purpose; the rest touch only docs, tests or names. The script then runs
real asv on every commit (virtualenv environment, Python {python}, default sampling with raw samples
recorded), publishes the asv dashboard, and copies the JSON here. Last, `samples/measure.py` runs real
`asv run --profile` on the demo's tasks (each improving commit and the commit before, their improved
benchmarks) and adds only asv's `profile` column to those four result files: their timings stay the timed
run's. `--profiles-only` runs just that step on the bundled results (22 s here).

The files under `project/` are data: their bytes make the commit hashes that everything here is keyed
by, so ruff skips them (`extend-exclude` in pyproject.toml) and a plain `pytest` does not collect them
(`testpaths` is `tests`). `tests/test_sample_project.py` checks that they still build the hashes of
`ground_truth.json`.

Regenerate with `make sample`, which runs `.venv/bin/python samples/generate.py`. It takes a minute or two
on two cores and needs PyPI to set up asv's environment. `--skip-asv` only rebuilds the git history, prints
the commit hashes and checks them against `ground_truth.json`.

| path | what |
|---|---|
| `results/` | the asv results tree as asv wrote it (the four task commits' files with the profiles added): `benchmarks.json`, `{machine}/machine.json`, one `<hash8>-<env>.json` per commit |
| `dashboard/` | the published dashboard's JSON (`index.json`, `info.json`, `regressions.json`, `graphs/**`) and `regressions.xml` |
| `asv.conf.json` | the asv configuration the run used |
| `ground_truth.json` | every commit in order, and every (commit, benchmark, params) that a planted change affects |
| `sources.yml` | the demo's sources file (kept by hand: a regeneration leaves it alone) |
| `project/` | the sample project's files: `01-initial/` is the first commit's tree, each later folder holds the whole files its commit writes |
| `agent/` | the demo's agent results (`--agent-only`, see `agent/README.md`) |

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


def export(repo: Path, conf: Path, truth: dict, out: Path = SAMPLES_DIR) -> None:
    replace_tree(repo / "results", out / "results", keep=lambda p: p.suffix == ".json")
    replace_tree(repo / "html", out / "dashboard", keep=lambda p: p.suffix in (".json", ".xml"))
    shutil.copyfile(conf, out / "asv.conf.json")
    write_static_files(truth, out)


def write_static_files(truth: dict, out: Path = SAMPLES_DIR) -> None:
    # sources.yml is not written: it is kept by hand (it also lists the agent results of samples/agent/).
    (out / "ground_truth.json").write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    (out / "README.md").write_text(readme(truth), encoding="utf-8")


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
    parser.add_argument(
        "--profiles-only",
        action="store_true",
        help="only add asv's profiles of the demo's tasks to the bundled results (samples/measure.py)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.clone is not None:
        return write_clone(args.clone.resolve())
    if args.clone_for_db is not None:
        from dataset.clones import candidate_paths

        return write_clone(candidate_paths(args.clone_for_db, GITHUB_REPO)[0].resolve())
    if args.profiles_only:
        return add_profiles(args.workdir, keep=args.keep)
    if args.agent_only:
        from samples.agent_results import measure_agent_results

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
        # The demo's tasks get asv's profiles in a pass of their own; only the "profile" column is kept.
        profiled = merge_profiles(run_profiles(repo, conf, workdir / "home", truth))
        problems = check(truth, SAMPLES_DIR / "results", SAMPLES_DIR / "dashboard")
        problems += missing_profiles(truth, profiled)
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

"""asv on the sample repository: its configuration, a machine description with every fact fixed, run and publish;
then asv's profiles of the demo's tasks, added to the bundled result files without touching their timings.

A task of the demo is an improving commit of ``ground_truth.json``. For each one, real ``asv run --profile``
(the same asv configuration, machine and environment as the timed run) profiles the task's improved
benchmarks at the commit before and at the commit, in a temporary folder; asv profiles each benchmark in a
pass of its own, after timing it. From the result files of that run only the ``profile`` column is taken:
it is written into the row of the same benchmark in the bundled result file of the same commit (the row
padded with nulls up to the column, as asv itself pads it). Every other value of the bundled files stays as
it was, so the demo's timings (and everything measured from them) do not move. ``samples/generate.py`` runs
this after a full regeneration; ``samples/generate.py --profiles-only`` runs just this step.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from samples.history import (
    GITHUB_REPO,
    MACHINE,
    PROJECT,
    SAMPLES_DIR,
    build_history,
    history,
    isolated_env,
)

# Fixed machine facts, so machine.json is identical everywhere and says nothing about the real host.
MACHINE_FACTS = {"arch": "x86_64", "cpu": "sample-cpu", "os": "Linux", "ram": "8GB", "num_cpu": "2"}
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


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
# asv's profiles of the demo's tasks.
# --------------------------------------------------------------------------------------------------

# One sample for asv's own timing in the profiling pass (its timings are thrown away), as the runner does.
PROFILE_ARGS = ("--profile", "-a", "rounds=1", "-a", "repeat=1")


def profile_tasks(truth: dict) -> list[tuple[str, str, tuple[str, ...]]]:
    """(commit before, commit, improved benchmarks) for every improving commit of the ground truth."""
    tasks: dict[tuple[str, str], list[str]] = {}
    for change in truth["changes"]:
        if change["direction"] == "improvement" and change["parent"]:
            names = tasks.setdefault((change["parent"], change["commit"]), [])
            if change["benchmark"] not in names:
                names.append(change["benchmark"])
    return [(before, commit, tuple(names)) for (before, commit), names in tasks.items()]


def run_profiles(repo: Path, conf: Path, home: Path, truth: dict) -> Path:
    """Real `asv run --profile` of each task's benchmarks at its two commits; returns asv's results tree."""
    env = asv_env(home)
    write_machine_file(home)
    for index, (before, commit, benchmarks) in enumerate(profile_tasks(truth)):
        hashes = home / f"task-{index}.txt"
        hashes.write_text(f"{before}\n{commit}\n", encoding="utf-8")
        pattern = "^(" + "|".join(re.escape(name) for name in benchmarks) + r")(\(.*\))?$"
        asv(repo, conf, env, "run", f"HASHFILE:{hashes}", *PROFILE_ARGS, "--bench", pattern,
            "--machine", MACHINE, "--show-stderr", "--no-pull")  # fmt: skip
    return repo / "results"


def profiles_of(doc: dict) -> dict[str, str]:
    """benchmark -> its profile text, from one parsed asv result file (schema 2)."""
    columns = doc["result_columns"]
    if "profile" not in columns:
        return {}
    index = columns.index("profile")
    return {
        name: row[index]
        for name, row in doc["results"].items()
        if len(row) > index and row[index] is not None
    }


def with_profiles(doc: dict, profiles: dict[str, str]) -> dict:
    """doc with each benchmark's profile set in its row; nothing else changes. A new dict."""
    out = json.loads(json.dumps(doc))
    columns = out["result_columns"]
    if "profile" not in columns:
        raise ValueError(f"{doc.get('commit_hash')}: the result file has no 'profile' column")
    index = columns.index("profile")
    for name, text in profiles.items():
        if name not in out["results"]:
            raise ValueError(
                f"{doc.get('commit_hash')}: no bundled result for {name} to attach its profile to"
            )
        row = out["results"][name]
        row.extend([None] * (index + 1 - len(row)))
        row[index] = text
    return out


def without_profiles(doc: dict) -> dict:
    """doc with the profile column emptied and trailing nulls trimmed (as asv writes a row without one)."""
    out = json.loads(json.dumps(doc))
    if "profile" not in out.get("result_columns", []):
        return out
    index = out["result_columns"].index("profile")
    for row in out["results"].values():
        if len(row) > index:
            row[index] = None
        while row and row[-1] is None:
            row.pop()
    return out


def merge_profiles(profiled_results: Path, bundled_results: Path = SAMPLES_DIR / "results") -> list[Path]:
    """Copy the profiles of asv's profiled run into the bundled files of the same commits; return those."""
    written: list[Path] = []
    for path in sorted((profiled_results / MACHINE).glob("*-*.json")):
        profiles = profiles_of(json.loads(path.read_text(encoding="utf-8")))
        if not profiles:
            continue
        target = bundled_results / MACHINE / path.name
        if not target.exists():
            raise FileNotFoundError(f"{target}: no bundled result file for the profiled commit")
        # asv writes the file as json.dumps does (one line, no trailing newline): so is it written back.
        bundled = json.loads(target.read_text(encoding="utf-8"))
        target.write_text(json.dumps(with_profiles(bundled, profiles)), encoding="utf-8")
        written.append(target)
    return written


def missing_profiles(truth: dict, written: list[Path]) -> list[str]:
    """One line per task commit whose bundled result file got no profile."""
    expected = {sha[:8] for before, commit, _ in profile_tasks(truth) for sha in (before, commit)}
    return [f"no profiles for {sha}" for sha in sorted(expected - {path.name[:8] for path in written})]


def add_profiles(workdir: Path | None = None, keep: bool = False) -> int:
    """The whole step on the bundled sample: build the history, profile the tasks, merge. Returns an exit code."""
    truth = json.loads((SAMPLES_DIR / "ground_truth.json").read_text(encoding="utf-8"))
    work = workdir.resolve() if workdir else Path(tempfile.mkdtemp(prefix="datasmith-sample-profiles-"))
    repo = work / PROJECT
    if repo.exists():
        print(f"{repo} already exists; pass an empty or new --workdir")
        return 2
    try:
        commits = build_history(repo, history())
        if [c["commit"] for c in commits] != [c["commit"] for c in truth["commits"]]:
            print("commit hashes DIFFER from samples/ground_truth.json: regenerate the sample first")
            return 1
        conf = write_asv_conf(repo)
        written = merge_profiles(run_profiles(repo, conf, work / "home", truth))
        for path in written:
            print(f"profiles added to {path.relative_to(SAMPLES_DIR)}")
        for problem in missing_profiles(truth, written):
            print("PROBLEM:", problem, file=sys.stderr)
            return 1
        return 0
    finally:
        if workdir is None and not keep:
            shutil.rmtree(work, ignore_errors=True)

"""asv on the sample repository: its configuration, a machine description with every fact fixed, run and publish."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from samples.history import GITHUB_REPO, MACHINE, PROJECT, isolated_env

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

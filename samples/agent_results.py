"""The demo's agent results: asv runs of two known "optimizers" on one task of the sample.

Task `datasmith-demo_fastfuncs_84667a78` (fib becomes a loop) starts from its base commit 8f389fd1.
Two "agents" attempt it, each a commit on top of the base in the rebuilt demo history:

- `human-patch`: applies the human's own diff (so its speed-up should match the human's: advantage ~ 0);
- `noop`: changes nothing (speed-up ~ 1: the advantage is about (1 - s_human) / sqrt(2), far below 0).

One asv run measures the base and both agent commits on the sample machine (time_fib only), and each
agent's folder under samples/agent/ gets the base's result file and its own, so the score compares
times measured in the same run. Run once with `python samples/generate.py --agent-only`; the JSON is
committed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# Run as a script: import `samples` from the repository root.
if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from samples.history import (
    AUTHOR_EMAIL,
    AUTHOR_NAME,
    FIRST_COMMIT_EPOCH,
    MACHINE,
    PROJECT,
    SAMPLES_DIR,
    build_history,
    git,
    history,
    isolated_env,
)
from samples.measure import asv, asv_env, write_asv_conf, write_machine_file

TASK_COMMIT = "84667a7876402eefa084da47674d67c2315a6116"
AGENT_DIR = SAMPLES_DIR / "agent"
BENCHMARK_FILTER = "time_fib"
AGENT_EPOCH = FIRST_COMMIT_EPOCH + 30 * 86400  # after the history: fixed, so the agent hashes are too


def _commit(repo: Path, message: str, *extra: str) -> str:
    stamp = f"@{AGENT_EPOCH} +0000"
    env = isolated_env(
        GIT_AUTHOR_NAME=AUTHOR_NAME, GIT_AUTHOR_EMAIL=AUTHOR_EMAIL, GIT_AUTHOR_DATE=stamp,
        GIT_COMMITTER_NAME=AUTHOR_NAME, GIT_COMMITTER_EMAIL=AUTHOR_EMAIL, GIT_COMMITTER_DATE=stamp,
    )  # fmt: skip
    git(repo, "commit", "-q", "--no-verify", *extra, "-m", message, env=env)
    return git(repo, "rev-parse", "HEAD")


def make_agent_commits(repo: Path) -> dict[str, str]:
    base = git(repo, "rev-parse", f"{TASK_COMMIT}^")
    human_patch = subprocess.run(
        ["git", "diff", "--binary", f"{base}..{TASK_COMMIT}"], cwd=repo, capture_output=True, check=True,
        env=isolated_env(),
    ).stdout  # fmt: skip
    git(repo, "checkout", "-q", "-b", "agent-human-patch", base)
    subprocess.run(["git", "apply", "-"], cwd=repo, input=human_patch, check=True, env=isolated_env())
    git(repo, "add", "-A")
    human = _commit(repo, "agent: apply the human's patch")
    git(repo, "checkout", "-q", "-b", "agent-noop", base)
    noop = _commit(repo, "agent: no change", "--allow-empty")
    git(repo, "checkout", "-q", "main")
    return {"base": base, "human-patch": human, "noop": noop}


def measure_agent_results(workdir: Path | None) -> int:
    work = workdir.resolve() if workdir else Path(tempfile.mkdtemp(prefix="datasmith-agent-"))
    repo = work / PROJECT
    try:
        build_history(repo, history())
        commits = make_agent_commits(repo)
        conf = write_asv_conf(repo)
        home = work / "home"
        env = asv_env(home)
        write_machine_file(home)
        hashes = work / "hashes.txt"
        hashes.write_text("\n".join(commits.values()) + "\n")
        asv(repo, conf, env, "run", f"HASHFILE:{hashes}", "--machine", MACHINE, "--bench", BENCHMARK_FILTER,
            "--record-samples", "--show-stderr", "--no-pull")  # fmt: skip
        results = repo / "results"
        for agent in ("human-patch", "noop"):
            target = AGENT_DIR / agent
            if target.exists():
                shutil.rmtree(target)
            (target / MACHINE).mkdir(parents=True)
            shutil.copyfile(results / "benchmarks.json", target / "benchmarks.json")
            shutil.copyfile(results / MACHINE / "machine.json", target / MACHINE / "machine.json")
            for sha in (commits["base"], commits[agent]):
                for path in (results / MACHINE).glob(f"{sha[:8]}-*.json"):
                    shutil.copyfile(path, target / MACHINE / path.name)
        for name, sha in commits.items():
            print(f"{name}: {sha}")
        return 0
    finally:
        if workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(measure_agent_results(None))

"""`python -m bench.runner`: the benchmark runner against plain sequential `asv run`, in the same run.

The demo's toy repository (samples/generate.py, 10 commits) is built in a temp folder and measured twice
with the same asv arguments (the runner's default: --interleave-rounds --append-samples -a rounds=2
-a repeat=2) and fresh environments:
  * baseline: what one would do by hand: `asv setup`, then one `asv run HASHFILE:<the commits>`, one
    process, one environment, no pinning;
  * ours: benchmark_runner with 2 jobs of 1 core each (one environment per job, pinned, one
    `asv run <sha>^!` per commit, results published and recorded per job).
Printed, not asserted: commits per hour, the environment-build share, the throughput ratio, and the
runner's overhead over asv's own time (wall clock minus the busiest job's time inside asv processes).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmark_runner import run_benchmarks  # noqa: E402
from benchmark_runner.settings import DEFAULT_ASV_ARGS, STABLE_ENV, RunSettings  # noqa: E402


def generator():
    spec = importlib.util.spec_from_file_location(
        "datasmith_sample_generate", ROOT / "samples" / "generate.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def baseline(gen, repo: Path, config: Path, shas: list[str], work: Path, asv_args: list[str]) -> dict:
    conf = json.loads(config.read_text())
    conf.update(
        repo=str(repo),
        env_dir=str(work / "env"),
        results_dir=str(work / "results"),
        html_dir=str(work / "html"),
    )
    conf["benchmark_dir"] = str(repo / conf.get("benchmark_dir", "benchmarks"))
    job_conf = work / "asv.conf.json"
    work.mkdir(parents=True)
    job_conf.write_text(json.dumps(conf))
    hashes = work / "commits.txt"
    hashes.write_text("\n".join(shas) + "\n")
    env = gen.asv_env(work / "home")
    env.update(STABLE_ENV, PIP_DISABLE_PIP_VERSION_CHECK="1")
    asv = [sys.executable, "-m", "asv"]
    with open(work / "asv.log", "w") as log:
        subprocess.run(
            [*asv, "machine", "--machine", "bench", "--yes", "--config", str(job_conf)],
            env=env,
            check=True,
            stdout=log,
        )
        started = time.monotonic()
        subprocess.run(
            [*asv, "setup", "--config", str(job_conf)],
            cwd=repo,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        setup = time.monotonic() - started
        code = subprocess.run(
            [*asv, "run", f"HASHFILE:{hashes}", "--config", str(job_conf), "--machine", "bench", "--show-stderr", *asv_args],
            cwd=repo, env=env, stdout=log, stderr=subprocess.STDOUT,
        ).returncode  # fmt: skip
        wall = time.monotonic() - started
    measured = len(list((work / "results" / "bench").glob("*-*.json")))
    return {"wall": wall, "env_build": setup, "exit": code, "measured": measured}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", type=int, default=10, help="how many of the toy repository's commits")
    parser.add_argument(
        "--asv-args", default=" ".join(DEFAULT_ASV_ARGS), help="asv run arguments for both sides"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    args = parser.parse_args(argv)
    asv_args = args.asv_args.split()
    tmp = Path(tempfile.mkdtemp(prefix="datasmith-runner-bench-"))
    try:
        gen = generator()
        repo = tmp / "fastfuncs"
        shas = [c["commit"] for c in gen.build_history(repo, gen.history())][: args.commits]
        config = tmp / "asv.conf.json"
        gen.write_asv_conf(repo).replace(config)
        print(f"toy repository: {len(shas)} commits; asv args: {' '.join(asv_args)}", flush=True)

        base = baseline(gen, repo, config, shas, tmp / "baseline", asv_args)
        print(
            f"baseline (sequential asv run, 1 process): {base['wall']:.1f} s, {base['measured']} commits",
            flush=True,
        )

        settings = RunSettings(
            repo="datasmith-demo/fastfuncs", repository=str(repo), asv_config=config, machine="bench",
            work_dir=tmp / "runner" / "work", results_dir=tmp / "runner" / "results", jobs=2, cores_per_job=1,
            timeout_s=1800, asv_args=tuple(asv_args),
        )  # fmt: skip
        started = time.monotonic()
        report = run_benchmarks(settings, shas)
        wall = time.monotonic() - started
        busiest = max(
            sum(r.env_build_seconds + r.benchmark_seconds for r in report.records if r.slot == slot)
            for slot in {r.slot for r in report.records}
        )
        print(f"runner (2 jobs x 1 core): {wall:.1f} s, {report.counts}", flush=True)

        per_hour = lambda seconds, n: n / seconds * 3600  # noqa: E731
        print()
        print(f"{'':34}{'baseline':>12}{'runner':>12}")
        print(f"{'commits measured':34}{base['measured']:>12}{report.counts.get('ok', 0):>12}")
        print(f"{'wall seconds':34}{base['wall']:>12.1f}{wall:>12.1f}")
        print(
            f"{'commits per hour':34}{per_hour(base['wall'], len(shas)):>12.0f}{per_hour(wall, len(shas)):>12.0f}"
        )
        print(f"{'environment build seconds':34}{base['env_build']:>12.1f}{report.env_build_seconds:>12.1f}")
        env_share_runner = report.env_build_seconds / report.asv_seconds
        print(
            f"{'environment build share of asv time':34}{base['env_build'] / base['wall']:>12.1%}{env_share_runner:>12.1%}"
        )
        print()
        print(f"throughput: {base['wall'] / wall:.2f}x the sequential asv run (target >= 1.7x on 2 cores)")
        overhead = (wall - busiest) / busiest
        print(
            f"runner overhead: wall {wall:.1f} s vs the busiest job's {busiest:.1f} s inside asv: {overhead:.1%} "
            f"(target < 5%); mean asv time per commit {sum(r.benchmark_seconds for r in report.records) / len(report.records):.1f} s"
        )
        return 0
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

"""`python -m bench.cluster`: the runner's Dask backend against local execution, in the same run.

The demo's toy repository (samples/generate.py, 10 commits) is built in a temp folder and measured three
times with the same asv arguments, each with fresh environments:
  * local: benchmark_runner with 1 job of 1 core (the baseline);
  * cluster x1: a `dask scheduler` and 1 `dask worker` (1 core) on 127.0.0.1;
  * cluster x2: the same with 2 workers, one core each.
Printed, not asserted: commits per hour (with and without the environment builds, which happen once per
slot), the 2-vs-1-worker speed-up, the coordinator's overhead over the local run (wall clock of cluster x1
against local, both one slot), and the bytes moved per job (results and log back, the bundle out).
Run it on a quiet machine: two single-core slots on a 2-core host leave nothing for anything else.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmark_runner import run_benchmarks  # noqa: E402
from benchmark_runner.runner import RunReport  # noqa: E402
from benchmark_runner.settings import DEFAULT_ASV_ARGS, RunSettings  # noqa: E402
from tests.support.runner_support import REPO, dask_cluster, toy_repository  # noqa: E402


def measure(label: str, settings: RunSettings, shas: list[str]) -> dict:
    report: RunReport = run_benchmarks(settings, shas, progress=lambda m: print(f"  {m}", file=sys.stderr))
    assert report.counts == {"ok": len(shas)}, report.counts
    wall = report.wall_seconds
    # environment builds run once per slot, in parallel across slots: take the longest one out
    slots: dict[int, float] = {}
    for record in report.records:
        slots[record.slot] = slots.get(record.slot, 0.0) + record.env_build_seconds
    build = max(slots.values(), default=0.0)
    return {
        "label": label,
        "wall": wall,
        "commits_per_hour": len(shas) / wall * 3600,
        "steady_per_hour": len(shas) / max(wall - build, 1e-9) * 3600,
        "asv_seconds": report.asv_seconds,
        "bytes_back_per_job": report.bytes_received / len(shas),
        "bundle_bytes": report.bytes_shipped,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", type=int, default=10, help="how many of the toy repository's commits")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="datasmith-bench-cluster-"))
    try:
        repo, config, shas = toy_repository(tmp / "toy")
        shas = shas[: args.commits]

        def settings(name: str, **extra) -> RunSettings:
            return RunSettings(
                repo=REPO, repository=str(repo), asv_config=config, machine="bench-box",
                work_dir=tmp / name / "work", results_dir=tmp / name / "out", timeout_s=900,
                asv_args=DEFAULT_ASV_ARGS, **extra,
            )  # fmt: skip

        rows = [measure("local, 1 job", settings("local", jobs=1), shas)]
        for n in (1, 2):
            with dask_cluster(tmp / f"cluster{n}" / "dask", n_workers=n) as cluster:
                rows.append(
                    measure(f"cluster, {n} worker(s)", settings(f"cluster{n}", cluster=cluster.address), shas)
                )
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"{len(shas)} commits of the toy repository, asv args {' '.join(DEFAULT_ASV_ARGS)}")
    print(
        "| run | wall s | commits/h | commits/h without env builds | asv s | bytes back/job | bundle bytes |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['label']} | {r['wall']:.1f} | {r['commits_per_hour']:.0f} | {r['steady_per_hour']:.0f} | "
            f"{r['asv_seconds']:.1f} | {r['bytes_back_per_job']:.0f} | {r['bundle_bytes']} |"
        )
    local, one, two = rows
    print(f"2 vs 1 worker: {two['commits_per_hour'] / one['commits_per_hour']:.2f}x commits/hour")
    print(
        f"coordinator overhead (cluster x1 vs local, wall): {(one['wall'] / local['wall'] - 1) * 100:+.1f}%"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

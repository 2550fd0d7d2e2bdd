"""`python -m bench.sampling`: noise-aware sampling against asv's default sampling, on the toy project.

The demo's toy repository (samples/generate.py) is built in a temp folder and its newest commit measured by the
runner, one job on one pinned core, in one environment (built once, reused by every run):
  * a warm-up run (builds the environment; not counted);
  * default, `--repeats` times (default 3): the runner's default asv settings (`-a rounds=2 -a repeat=2`);
  * the pilot and its floor (`sampling:`'s defaults, 2 x 10 samples recorded, and 2 x 1), once per target;
  * tuned, `--repeats` times: the chooser's rounds/repeat for `--precision` (default 0.02) within a budget
    equal to the default runs' median benchmark seconds (asv's own per-benchmark `duration`, summed), so
    the tuned run is not meant to take longer; with rounds >= 2 (asv's default) and, from the same pilot,
    with `min_rounds: 1`.
All runs drop --interleave-rounds, which for a single commit changes only the order of the rounds, so that
asv's `duration` of each benchmark counts every round (with interleaving asv keeps the last round's only).

Printed, per timing benchmark: the widest 99% CI half-width over its parameter sets, relative to the median
(asv's own `ci_99_a/b` in the result file, asv_runner.statistics), and asv's seconds for the benchmark; the
median over the repeats of each side. Run it on a quiet machine; on a shared one say so with the numbers.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from asv.results import Results  # noqa: E402

from benchmark_runner import run_benchmarks  # noqa: E402
from benchmark_runner.sampling import measure_noise, tune  # noqa: E402
from benchmark_runner.settings import DEFAULT_ASV_ARGS, RunSettings  # noqa: E402
from ingest.sources import SamplingSettings  # noqa: E402
from tests.support.runner_support import REPO, toy_repository  # noqa: E402

BASE_ARGS = tuple(a for a in DEFAULT_ASV_ARGS if a != "--interleave-rounds")


def say(message: str) -> None:
    print(f"  {message}", file=sys.stderr)


def measure(settings: RunSettings, sha: str) -> tuple[dict, float, float]:
    """({benchmark: (half-width, seconds)}, asv's seconds over all benchmarks, the `asv run` wall seconds)."""
    report = run_benchmarks(settings, [sha], progress=say)
    (record,) = report.records
    assert record.status == "ok", (record.status, record.message)
    (file,) = [report.source_dir / p for p in record.results_paths]
    noise = {n.name: (n.half_width, n.duration) for n in measure_noise(file)}
    durations = Results.load(str(file)).duration
    total = sum(v for k, v in durations.items() if not k.startswith("<"))
    return noise, total, record.benchmark_seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--precision", type=float, default=0.02)
    parser.add_argument("--repeats", type=int, default=2, help="default and tuned runs, alternating")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="datasmith-bench-sampling-"))
    load = os.getloadavg()
    try:
        repo, config, shas = toy_repository(tmp / "toy")
        sha = shas[-1]
        base = RunSettings(
            repo=REPO, repository=str(repo), asv_config=config, machine="bench-box", work_dir=tmp / "work",
            results_dir=tmp / "default-0", timeout_s=900, asv_args=BASE_ARGS,
        )  # fmt: skip
        runs: dict[str, list] = {"default": [], "tuned": [], "tuned, min_rounds 1": []}
        measure(replace(base, results_dir=tmp / "warm-up"), sha)  # builds the one environment
        for i in range(args.repeats):
            runs["default"].append(measure(replace(base, results_dir=tmp / f"default-{i}"), sha))
        budget = statistics.median(r[1] for r in runs["default"])
        variants, choices = {}, {}
        for label, min_rounds in (("tuned", 2), ("tuned, min_rounds 1", 1)):
            sampling = SamplingSettings(
                precision=args.precision, budget_seconds=budget, min_rounds=min_rounds
            )
            with_pilot = replace(base, results_dir=tmp / "tuned", sampling=sampling)  # one pilot for both
            variants[label] = tune(with_pilot, [sha], lambda s, c: run_benchmarks(s, c, progress=say), say)
            choices[label] = variants[label].sampling_record
        for i in range(args.repeats):
            for label, tuned in variants.items():
                runs[label].append(measure(replace(tuned, results_dir=tmp / f"{label}-{i}"), sha))
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    load_after = os.getloadavg()

    def median(side: str, name: str, i: int) -> float:
        return statistics.median(run[0][name][i] for run in runs[side])

    names = sorted(runs["default"][0][0])
    print(
        f"toy project, commit {sha[:8]}, 1 job on 1 pinned core; {args.repeats} runs of each (medians); "
        f"load average {load[0]:.1f} before, {load_after[0]:.1f} after; precision {args.precision:g}, budget "
        f"{budget:.2f} s (the default runs' median asv seconds)"
    )
    print("default: -a rounds=2 -a repeat=2")
    for label, choice in choices.items():
        settings, c = choice["settings"], choice["choice"]
        print(
            f"{label}: -a rounds={settings['rounds']} -a repeat={settings['repeat']} (predicted {c['predicted_seconds']:.2f} s, "
            f"half-width {c['predicted_half_width']}, reached {c['reached']})"
        )
    pilot = choices["tuned"]["pilot"]
    print(f"pilot: {pilot['benchmark_seconds']:.1f} s `asv run` wall, once per target (plus its floor run)")
    labels = list(runs)
    print("| benchmark | " + " | ".join(f"{lab} CI half-width % | {lab} s" for lab in labels) + " |")
    print("|---|" + "---|---|" * len(labels))
    for name in names:
        cells = [f"{100 * median(lab, name, 0):.1f} | {median(lab, name, 1):.2f}" for lab in labels]
        print(f"| {name.removeprefix('bench_core.')} | " + " | ".join(cells) + " |")
    total = [statistics.median(r[1] for r in runs[lab]) for lab in labels]
    wall = [statistics.median(r[2] for r in runs[lab]) for lab in labels]
    print("| all benchmarks, asv's seconds | " + " | ".join(f" | {t:.2f}" for t in total) + " |")
    print("| `asv run` wall seconds (with install) | " + " | ".join(f" | {w:.1f}" for w in wall) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

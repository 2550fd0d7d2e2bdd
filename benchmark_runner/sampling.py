"""Noise-aware sampling: a pilot measures each benchmark's noise on the target machine, and asv's
`rounds`/`repeat` are chosen to reach a relative precision within a time budget per commit.

The pilot is two ordinary jobs on the newest commit, on the target's own slots (local or on the cluster):
`asv run <sha>^! --record-samples -a rounds=R0 -a repeat=r0`, and the same with `repeat=1` (the floor), both
without --interleave-rounds so asv's per-benchmark `duration` covers every round. Its result file is read with asv's reader (`asv.results.Results.load`) and the noise is what asv
itself computed from the samples (asv_runner.statistics.compute_stats, stored as `stats_ci_99_a/b` and
`stats_q_25/75`): per benchmark, the widest parameter set's 99% CI half-width and interquartile range, relative
to the median.

The choice (``choose``) models, per benchmark b:

* precision: the CI half-width of a median shrinks as 1/sqrt(samples), so b needs
  ``n_b = n0_b * (hw_b / precision)**2`` samples (n0_b the pilot's samples);
* time: ``rounds * f_b + rounds * repeat * s_b`` seconds. s_b, one sample of every parameter set, is measured
  from asv's two durations: ``(d_pilot - d_floor) / (R0 * (r0 - 1))``, and at least the timed part
  ``number * median`` (a sample also re-runs the benchmark's setup, which asv does not time, hence the two
  runs). f_b (process start, import, warm-up, calibration) is what the floor's duration leaves:
  ``d_floor / R0 - s_b``. Without a floor, ``d_pilot / R0 - r0 * s_b``.

It keeps ``rounds = min_rounds`` (each round is a new process per benchmark: fixed cost, while the 1/sqrt law
is over samples) and takes the smallest `repeat` whose samples bring every benchmark to the precision, at least
MIN_SAMPLES samples; if that would take longer than the budget, the largest `repeat` that fits (``reached`` is
then false and the predicted half-width is recorded), but never fewer than MIN_SAMPLES samples (then
``over_budget`` is true: the budget cannot buy a bounded CI). `number` stays asv's own calibration (0): one global
`number` cannot suit benchmarks whose calls take microseconds and seconds, and asv's calibration already makes
each sample last `sample_time`. The choice is kept in ``<source>/sampling/<key>.json`` (key: machine,
environment, asv arguments, sampling settings) so later runs of the target reuse it and skip what they have
measured; a new choice (other settings) means other asv arguments, and so a new measurement.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from benchmark_runner.settings import RunSettings
from benchmark_runner.store import write_atomic

# The smallest sample count for which asv's nonparametric 99% CI of the median is finite (both ends
# inside the samples: 2 * 0.5**n < 0.01); below it asv falls back to a Laplace posterior.
MIN_SAMPLES = 8
# asv attributes the chooser sets; any the base arguments give are replaced.
TUNED_ATTRIBUTES = ("rounds", "repeat", "number", "warmup_time")

Progress = Callable[[str], None]


class SamplingError(RuntimeError):
    """The pilot could not measure the noise (it failed, or wrote no timing samples)."""


@dataclass
class BenchmarkNoise:
    """One benchmark's noise in the pilot (the widest of its parameter sets)."""

    name: str
    samples: int  # per parameter set (asv's stats `repeat`): rounds x repeat
    half_width: float  # 99% CI half-width / median (asv's ci_99_a/b); inf when asv's CI is unbounded
    iqr: float  # (q_75 - q_25) / median
    duration: float  # asv's `duration`: the benchmark's seconds over all rounds and parameter sets
    sample_seconds: float  # s_b: one sample of every parameter set (see the module docstring)
    param_sets: int
    fixed: float | None = None  # f_b, once measured against the floor run (with_floor)

    def as_json(self) -> dict:
        return {
            "samples": self.samples,
            "ci99_half_width": _finite(self.half_width),
            "iqr": round(self.iqr, 6),
            "duration_s": round(self.duration, 4),
            "sample_s": round(self.sample_seconds, 6),
            "fixed_s": None if self.fixed is None else round(self.fixed, 4),
            "param_sets": self.param_sets,
        }


def _finite(x: float) -> float | None:
    return round(x, 6) if math.isfinite(x) else None


def _strip_attributes(args: tuple[str, ...] | list[str], names=TUNED_ATTRIBUTES) -> list[str]:
    """``args`` without the `-a NAME=...` / `--attribute NAME=...` pairs for ``names``."""
    out: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-a", "--attribute") and i + 1 < len(args) and args[i + 1].split("=", 1)[0] in names:
            i += 2
            continue
        if a.startswith("--attribute=") and a.split("=", 2)[1] in names:
            i += 1
            continue
        out.append(a)
        i += 1
    return out


def pilot_args(base: tuple[str, ...], rounds: int, repeat: int) -> list[str]:
    """The pilot's asv arguments: the target's, with samples recorded, its own rounds/repeat, and no
    --interleave-rounds / --append-samples (one `asv run` of all rounds, so `duration` counts them all)."""
    args = [a for a in _strip_attributes(base) if a not in ("--interleave-rounds", "--append-samples")]
    return [*args, "--record-samples", "-a", f"rounds={rounds}", "-a", f"repeat={repeat}"]


def tuned_args(base: tuple[str, ...], settings: dict) -> tuple[str, ...]:
    """The target's asv arguments with the chosen attributes in place of its own."""
    extra: list[str] = []
    for name in TUNED_ATTRIBUTES:
        if settings.get(name) is not None and not (name == "number" and settings[name] == 0):
            extra += ["-a", f"{name}={settings[name]}"]
    return (*_strip_attributes(base), *extra)


def measure_noise(result_file: Path) -> list[BenchmarkNoise]:
    """Per timing benchmark of one asv result file (with samples): its noise, from asv's own stats."""
    from asv.results import Results  # late: asv is heavy

    results = Results.load(str(result_file))
    out = []
    for key in sorted(results.get_all_result_keys()):
        params = results.get_result_params(key)
        values = results.get_result_value(key, params)
        stats = results.get_result_stats(key, params)
        samples = results.get_result_samples(key, params)
        if not samples or all(s is None for s in samples):
            continue  # track_/peakmem_/mem_ benchmarks: one value, no samples
        half, iqr, counts, per_sample = 0.0, 0.0, [], 0.0
        for value, st, sa in zip(values, stats, samples, strict=False):
            if value is None or st is None or not sa or not value > 0:
                continue
            a, b = st.get("ci_99_a", math.inf), st.get("ci_99_b", math.inf)
            half = max(half, (b - a) / 2 / value if math.isfinite(a) and math.isfinite(b) else math.inf)
            iqr = max(iqr, (st["q_75"] - st["q_25"]) / value)
            counts.append(int(st.get("repeat") or len(sa)))
            per_sample += float(st.get("number") or 1) * value  # the timed part; with_floor measures the rest
        if counts:
            out.append(
                BenchmarkNoise(
                    name=key, samples=min(counts), half_width=half, iqr=iqr,
                    duration=float(results.duration.get(key) or 0.0), sample_seconds=per_sample,
                    param_sets=len(counts),
                )
            )  # fmt: skip
    return out


def fixed_seconds(noise: BenchmarkNoise, pilot_rounds: int, pilot_repeat: int) -> float:
    """f_b: a benchmark's seconds per round that do not grow with `repeat`."""
    if noise.fixed is not None:
        return noise.fixed
    return max(noise.duration / pilot_rounds - pilot_repeat * noise.sample_seconds, 0.0)


def with_floor(
    noise: list[BenchmarkNoise], floor: dict[str, float], pilot_rounds: int, pilot_repeat: int
) -> list[BenchmarkNoise]:
    """The noise with s_b and f_b measured from asv's durations of the pilot and of the floor run (repeat=1)."""
    out = []
    for n in noise:
        if n.name not in floor or pilot_repeat < 2:
            out.append(n)
            continue
        measured = (n.duration - floor[n.name]) / (pilot_rounds * (pilot_repeat - 1))
        sample = max(measured, n.sample_seconds)
        out.append(replace(n, sample_seconds=sample, fixed=max(floor[n.name] / pilot_rounds - sample, 0.0)))
    return out


def choose(
    noise: list[BenchmarkNoise],
    *,
    pilot_rounds: int,
    pilot_repeat: int,
    precision: float,
    budget_seconds: float,
    min_rounds: int = 2,
    max_repeat: int = 1000,
    other_seconds: float = 0.0,
) -> dict:
    """asv's rounds/repeat for the target (see the module docstring); ``other_seconds`` is the pilot's time
    in benchmarks without samples, which the budget must also hold."""
    if not noise:
        raise SamplingError("the pilot recorded no timing samples to measure the noise from")
    rounds = max(min_rounds, 1)
    finite = [n for n in noise if math.isfinite(n.half_width)]
    needed = {
        n.name: math.ceil(n.samples * (n.half_width / precision) ** 2) if n.half_width > 0 else 1
        for n in finite
    }
    unbounded = sorted(n.name for n in noise if not math.isfinite(n.half_width))
    want = max([MIN_SAMPLES, *needed.values()])
    if unbounded:  # asv could not bound the CI with the pilot's samples: take as many as the budget allows
        want = max(want, rounds * max_repeat)
    fixed = other_seconds + sum(rounds * fixed_seconds(n, pilot_rounds, pilot_repeat) for n in noise)
    per_repeat = sum(rounds * n.sample_seconds for n in noise)

    def seconds(repeat: int) -> float:
        return fixed + repeat * per_repeat

    least = math.ceil(MIN_SAMPLES / rounds)  # fewer samples leave asv's CI unbounded: nothing to judge by
    repeat = min(max(math.ceil(want / rounds), least), max(max_repeat, least))
    if seconds(repeat) > budget_seconds:
        affordable = math.floor((budget_seconds - fixed) / per_repeat) if per_repeat > 0 else repeat
        repeat = max(min(repeat, affordable), least)
    samples = rounds * repeat

    def predicted(n: BenchmarkNoise) -> float:
        return n.half_width * math.sqrt(n.samples / samples)

    worst = max(noise, key=lambda n: (predicted(n), n.name))
    return {
        "settings": {"rounds": rounds, "repeat": repeat, "number": 0},
        "precision": precision,
        "budget_seconds": budget_seconds,
        "predicted_seconds": round(seconds(repeat), 3),
        "predicted_half_width": _finite(predicted(worst)),
        "limiting_benchmark": worst.name,
        "reached": bool(math.isfinite(predicted(worst)) and predicted(worst) <= precision + 1e-12),
        "over_budget": seconds(repeat) > budget_seconds,
        "needed_samples": {k: needed[k] for k in sorted(needed)},
        "unbounded": unbounded,
    }


# --- the pilot on the target ------------------------------------------------------------------------


def pilot_key(settings: RunSettings) -> str:
    """What the pilot measures depends on the machine, environment, asv arguments and its own samples only: a
    new precision or budget is chosen again from the same pilot."""
    sampling = settings.sampling
    document = {
        "machine": settings.machine,
        "env": settings.env_id,
        "asv_args": list(settings.asv_args),
        "pilot": [sampling.pilot_rounds, sampling.pilot_repeat] if sampling is not None else None,
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:12]


def choice_key(settings: RunSettings) -> str:
    sampling = settings.sampling
    document = {
        "machine": settings.machine,
        "env": settings.env_id,
        "asv_args": list(settings.asv_args),
        "sampling": sampling.model_dump(mode="json") if sampling is not None else None,
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:12]


def choice_path(settings: RunSettings) -> Path:
    return settings.source_dir / "sampling" / f"{choice_key(settings)}.json"


def chosen_args_hash(settings: RunSettings) -> str | None:
    """The asv-arguments hash the target's jobs run with once its choice is made; None before."""
    path = choice_path(settings)
    if not path.is_file():
        return None
    return replace(
        settings, asv_args=tuple(json.loads(path.read_text(encoding="utf-8"))["asv_args"])
    ).asv_args_hash


def tune(
    settings: RunSettings,
    commits: list[str],
    run: Callable[[RunSettings, list[str]], object],
    progress: Progress | None = None,
) -> RunSettings:
    """The target's settings with the chosen asv arguments and what to record with every job.

    The choice comes from ``<source>/sampling/<key>.json`` when an earlier run made it, else from a pilot
    run now (``run(settings, [commit])``: the runner that will run the jobs, so the pilot runs where they
    run) on the newest commit. A pilot that fails raises SamplingError: the target is not run on
    settings nobody chose.
    """
    say = progress or (lambda _m: None)
    sampling = settings.sampling
    if sampling is None or not commits:
        return settings
    path = choice_path(settings)
    if path.is_file():
        choice = json.loads(path.read_text(encoding="utf-8"))
        say(f"{settings.source_name}: sampling settings from {path}: {choice['settings']}")
    else:
        choice = run_pilot(settings, commits[-1], run, say)
        write_atomic(path, json.dumps(choice, indent=2, sort_keys=True).encode())
        say(
            f"{settings.source_name}: sampling pilot chose {choice['settings']} (predicted half-width "
            f"{choice['predicted_half_width']}, {choice['predicted_seconds']} s per commit; "
            f"target {sampling.precision:g} within {sampling.budget_seconds:g} s)"
        )
    return replace(
        settings,
        asv_args=tuple(choice["asv_args"]),
        sampling=None,
        sampling_record={"key": choice["key"], "settings": choice["settings"], "noise": choice["noise"],
                         "choice": {k: choice[k] for k in ("precision", "budget_seconds", "predicted_seconds",
                                                           "predicted_half_width", "limiting_benchmark", "reached", "over_budget")},
                         "pilot": choice["pilot"]},
    )  # fmt: skip


def run_pilot(settings: RunSettings, commit: str, run, say: Progress) -> dict:
    sampling = settings.sampling
    key = choice_key(settings)
    measured = pilot_key(settings)
    args = pilot_args(settings.asv_args, sampling.pilot_rounds, sampling.pilot_repeat)
    pilot_settings = replace(
        settings,
        results_dir=settings.source_dir / "sampling" / f"pilot-{measured}",
        asv_args=tuple(args),
        jobs=1,
        sampling=None,
        sampling_record=None,
    )
    say(f"{settings.source_name}: sampling pilot on {commit[:12]}: asv run {' '.join(args)}")
    report = run(pilot_settings, [commit])
    records = [r for r in report.records if r.status == "ok"]
    if not records:
        from benchmark_runner.store import read_records

        # an earlier pilot of the same measurement that finished (another precision or budget, or a run killed
        # before it chose)
        done = [r for _, _, r in read_records(pilot_settings.source_dir) if r.get("status") == "ok"]
        if not done:
            statuses = ", ".join(f"{r.commit[:12]} {r.status} ({r.message})" for r in report.records)
            raise SamplingError(
                f"{settings.source_name}: the sampling pilot did not finish: {statuses or 'nothing ran'}; "
                f"see the log under {pilot_settings.source_dir / 'logs'}"
            )
        record = done[-1]
        result_paths, pilot_commit, pilot_seconds = (
            record["results_paths"],
            record["commit"],
            record["benchmark_seconds"],
        )
    else:
        record = records[-1]
        result_paths, pilot_commit, pilot_seconds = (
            record.results_paths,
            record.commit,
            record.benchmark_seconds,
        )
    files = [pilot_settings.source_dir / p for p in result_paths]
    floor_settings = replace(
        pilot_settings,
        results_dir=settings.source_dir / "sampling" / f"floor-{measured}",
        asv_args=tuple(pilot_args(settings.asv_args, sampling.pilot_rounds, 1)),
    )
    say(
        f"{settings.source_name}: sampling floor on {pilot_commit[:12]}: asv run {' '.join(floor_settings.asv_args)}"
    )
    run(floor_settings, [pilot_commit])
    floor = _durations(floor_settings.source_dir)
    noise = with_floor(
        [n for f in files for n in measure_noise(f)], floor, sampling.pilot_rounds, sampling.pilot_repeat
    )
    other = _untimed_seconds(files, {n.name for n in noise})
    choice = choose(
        noise, pilot_rounds=sampling.pilot_rounds, pilot_repeat=sampling.pilot_repeat,
        precision=sampling.precision, budget_seconds=sampling.budget_seconds,
        min_rounds=sampling.min_rounds, max_repeat=sampling.max_repeat,
        other_seconds=other / sampling.pilot_rounds * sampling.min_rounds,
    )  # fmt: skip
    if sampling.warmup_time is not None:
        choice["settings"]["warmup_time"] = sampling.warmup_time
    return {
        "key": key,
        **choice,
        "asv_args": list(tuned_args(settings.asv_args, choice["settings"])),
        "noise": {n.name: n.as_json() for n in noise},
        "pilot": {
            "commit": pilot_commit, "asv_args": args, "benchmark_seconds": pilot_seconds,
            "result_files": [str(f) for f in files], "floor_asv_args": list(floor_settings.asv_args),
            "floor_durations": {k: round(v, 4) for k, v in sorted(floor.items())},
        },
    }  # fmt: skip


def _durations(source_dir: Path) -> dict[str, float]:
    """asv's duration per benchmark in the `ok` jobs' result files under ``source_dir`` (this run's or an
    earlier one's); none when the floor run failed, and then the time model uses the pilot alone."""
    from asv.results import Results

    from benchmark_runner.store import read_records

    out: dict[str, float] = {}
    for _, _, record in read_records(source_dir):
        for rel in record.get("results_paths") or [] if record.get("status") == "ok" else []:
            durations = Results.load(str(source_dir / rel)).duration
            out.update({k: v for k, v in durations.items() if not k.startswith("<")})
    return out


def _untimed_seconds(files: list[Path], timed: set[str]) -> float:
    """asv's duration of the benchmarks without samples (track_, peakmem_): they run every round too."""
    from asv.results import Results

    total = 0.0
    for file in files:
        durations = Results.load(str(file)).duration
        total += sum(v for k, v in durations.items() if not k.startswith("<") and k not in timed)
    return total

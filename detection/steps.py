"""Change points of benchmark series: the configuration, the result type, and the two methods.

Methods (both keep every change point they find, in both directions):

``rbf``
    PELT with the RBF kernel cost, exactly ``ruptures.Pelt(model="rbf", min_size=rbf_min_size, jump=1)
    .fit(signal).predict(pen=penalty)`` (see ``detection.rbf``; the fast implementation returns ruptures'
    breakpoints exactly). The signal is ``log(values)`` when every value is positive and ``rbf_log`` is on (the
    default), the values themselves otherwise. The default penalty is ``RBF_PENALTY_MULTIPLIER * ln(n)``; see
    ``RBF_PENALTY_MULTIPLIER`` for why.

``asv``
    asv's own step detection, ``asv.step_detect.detect_steps(values, w=weights)`` (reproduced exactly by
    ``detection.asvfast``): a piecewise-constant fit whose consecutive steps meet at the change points. The
    weights are asv's (``asv_weights`` from each point's 99% confidence interval), or none.

For every change point the two adjacent segments (between neighbouring change points or the series' ends) are
summarised (median, mean, count, interquartile range) on the original values, compared with the two-sided
Mann-Whitney U test (``detection.stats``), and classified by the benchmark's direction.
"""

from __future__ import annotations

import itertools
import math
import os
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from detection import asvfast
from detection.evidence import evidence_splits
from detection.rbf import default_penalty, rbf_breakpoints
from detection.stats import mannwhitney_p, segment_summary

METHODS = ("rbf", "asv", "evidence")
DEFAULT_METHODS = ("rbf", "asv")  # ``evidence`` (detection.evidence) is opt-in: see docs/detection.md
LOWER_IS_BETTER = frozenset({"time", "peakmemory", "memory"})

RBF_PENALTY_MULTIPLIER = 1.0
"""Default rbf penalty: ``1.0 * ln(n)`` on the log-values (the original used ``3 * ln(n)`` on raw values).

Why ``c * ln(n)``: the RBF cost is scale-free (the kernel bandwidth is the median pairwise distance, so a
segment's cost is counted in "points": between 0 and its length), so a BIC-like ``c * ln(n)`` means the same on
every series. Why ``c = 1``, from ``python -m bench.detection --penalty-study`` on the django dashboard
(523 series, log-values, min_size 2):

* false alarms: each series shuffled (its real noise, no change by construction): c = 0.5 finds a change point
  in 79 of 523 series, c = 0.75 in 5, c = 1 and above in none;
* power: a step injected into the shuffled series at a random position, found at the exact index: for 10/20/50%
  steps 45/58/80% of series at c = 1, 35/49/72% at c = 2, 27/40/63% at c = 3 (the rest are series whose noise
  is larger than the step);
* short series: a perfectly clean split of n points into n1 + n2 lowers the cost by at most about
  ``2 * n1 * n2 / n``, so with c = 3 nothing can be found in a 10-point series (the bundled sample: its planted
  4x-1000x changes are missed), while c = 1 finds each of them at the right commit.

So c = 1 is the smallest multiplier without false alarms on real noise, and the most sensitive such one.
Log-values: timings have multiplicative noise, so on the log scale both sides of a large step have the same
spread and one kernel bandwidth fits both (and a 2x speed-up and a 2x slow-down are symmetric). Raw values are
used when a value is not positive.
"""


@dataclass(frozen=True)
class DetectionConfig:
    """How to detect change points.

    ``asv`` has no tunable of its own: ``detect_steps(y, w)`` takes only the data and weights (its penalty is
    chosen inside by an information criterion, its pieces have no minimum size). ``magnitude_floor`` is asv's
    default regression threshold (5%).
    """

    methods: tuple[str, ...] = DEFAULT_METHODS
    rbf_penalty: float | None = None  # None -> RBF_PENALTY_MULTIPLIER * ln(n)
    rbf_min_size: int = 2
    rbf_log: bool = True  # detect on log(values) when all values are positive
    min_points: int = 4
    magnitude_floor: float = 0.05
    significance_alpha: float = 0.05
    track_direction: Mapping[str, str] = field(default_factory=dict)  # benchmark -> higher_/lower_is_better

    def __post_init__(self):
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown:
            raise ValueError(f"unknown detection method(s) {unknown}; known: {list(METHODS)}")
        bad = {
            k: v for k, v in self.track_direction.items() if v not in ("higher_is_better", "lower_is_better")
        }
        if bad:
            raise ValueError(f"track_direction values must be 'higher_is_better' or 'lower_is_better': {bad}")

    def penalty(self, n: int) -> float:
        return (
            self.rbf_penalty if self.rbf_penalty is not None else default_penalty(n, RBF_PENALTY_MULTIPLIER)
        )


@dataclass(frozen=True)
class ChangePoint:
    method: str  # 'rbf' | 'asv'
    index_before: int  # position (0-based, in the series as given) of the last point before the change
    index_after: int  # position of the first point after it
    value_before: float  # median of the segment before
    value_after: float  # median of the segment after
    mean_before: float
    mean_after: float
    n_before: int
    n_after: int
    spread_before: float  # interquartile range
    spread_after: float
    relative_change: float  # (after - before) / before, on the medians
    speedup: float  # before / after
    direction: str  # 'improvement' | 'regression' | 'unknown'
    p_value: float | None  # two-sided Mann-Whitney U between the two segments
    significant: bool  # p_value < significance_alpha
    passes_floor: bool  # abs(relative_change) >= magnitude_floor


def better_direction(benchmark_type: str, config: DetectionConfig, benchmark: str = "") -> str | None:
    """'lower' or 'higher' (which values are better), or None when unknown."""
    if benchmark_type in LOWER_IS_BETTER:
        return "lower"
    if benchmark_type == "track":
        given = config.track_direction.get(benchmark)
        if given == "lower_is_better":
            return "lower"
        if given == "higher_is_better":
            return "higher"
    return None


def asv_weights(values: Sequence, ci_99_a: Sequence, ci_99_b: Sequence) -> list[float | None]:
    """Per-point weights exactly as ``asv publish`` gives them to ``detect_steps``: ``2 / |ci_99_b - ci_99_a|``.

    This is ``asv._stats.get_weight``: None when the interval is missing, infinite (too few samples) or has zero
    width, and for missing values. (asv would give NaN for a NaN bound; ``detect_steps`` treats None and NaN alike.)
    When several results share a revision, ``asv publish`` averages their values and their weights (None and
    NaN ignored); do that before calling ``detect``.
    """
    if not (len(values) == len(ci_99_a) == len(ci_99_b)):
        raise ValueError("values, ci_99_a and ci_99_b must have the same length")
    out: list[float | None] = []
    for v, a, b in zip(values, ci_99_a, ci_99_b, strict=True):
        if (
            v is None
            or a is None
            or b is None
            or v != v
            or a != a
            or b != b
            or math.isinf(a)
            or math.isinf(b)
            or a == b
        ):
            out.append(None)
        else:
            out.append(2 / abs(b - a))
    return out


def persisting_regressions(
    values: Sequence,
    weights: Sequence | None = None,
    revisions: Sequence[int] | None = None,
    threshold: float = 0.05,
    min_size: int = 2,
):
    """asv's ``detect_regressions`` on asv's steps: the regressions that persist to the latest point.

    Reproduces what ``asv publish`` writes to ``regressions.json`` for one series: ``(latest_value, best_value,
    [(before, after, value_before, best_value_after), ...])``, or ``(None, None, None)``. ``values``/``weights``
    are the graph's points in revision order (None for missing points, as in asv's graphs). With ``revisions``
    the steps are mapped to revisions before ``detect_regressions`` runs, as ``asv.graph`` does (which matters:
    its ``min_size`` counts revisions), and positions are revisions; without, positions are indices. asv then
    replaces ``before`` by None when the range before..after is a single commit in git (for a linear history
    with consecutive revision numbers: ``after - before == 1``); that needs the repository and is left to callers.
    """
    from asv.step_detect import detect_regressions

    steps = asvfast.detect_steps(list(values), None if weights is None else list(weights))
    if revisions is not None:
        x = list(revisions)
        steps = [(x[lft], x[r - 1] + 1, v, mn, err) for lft, r, v, mn, err in steps]
    return detect_regressions(steps, threshold, min_size)


def _clean(values, weights) -> tuple[np.ndarray, list[int], list | None]:
    """Finite values as floats, their original positions, and the matching weights."""
    keep = []
    vals = []
    for i, v in enumerate(values):
        if v is None:
            continue
        try:
            f = float(v)
        except (TypeError, ValueError):
            continue
        if math.isfinite(f):
            keep.append(i)
            vals.append(f)
    w = None if weights is None else [weights[i] for i in keep]
    return np.asarray(vals, dtype=float), keep, w


def _skip_reason(x: np.ndarray, total: int, config: DetectionConfig) -> str | None:
    if len(x) == 0:
        return f"no finite values ({total} points)"
    if len(x) < config.min_points:
        return f"too short: {len(x)} finite points < min_points={config.min_points}"
    if np.all(x == x[0]):
        return f"constant series ({len(x)} points equal to {x[0]!r})"
    return None


def _rbf_segments(x: np.ndarray, config: DetectionConfig) -> list[tuple[int, int]]:
    signal = np.log(x) if config.rbf_log and np.all(x > 0) else x
    n = len(x)
    if n < config.rbf_min_size:
        return [(0, n)]
    bkps = rbf_breakpoints(signal, config.penalty(n), config.rbf_min_size)
    out = []
    start = 0
    for end in bkps:
        out.append((start, end))
        start = end
    return out


def _change_points(
    method: str,
    x: np.ndarray,
    positions: list[int],
    segments: list[tuple[int, int]],
    better: str | None,
    config: DetectionConfig,
) -> list[ChangePoint]:
    out = []
    summaries = [segment_summary(x[a:b]) for a, b in segments]
    for k in range(len(segments) - 1):
        (a0, b0), (a1, b1) = segments[k], segments[k + 1]
        med0, mean0, n0, iqr0 = summaries[k]
        med1, mean1, n1, iqr1 = summaries[k + 1]
        rel = (med1 - med0) / med0 if med0 != 0 else (0.0 if med1 == 0 else math.copysign(math.inf, med1))
        speedup = med0 / med1 if med1 != 0 else (math.inf if med0 != 0 else 1.0)
        if better is None or med1 == med0:
            direction = "unknown"
        elif (med1 < med0) == (better == "lower"):
            direction = "improvement"
        else:
            direction = "regression"
        p = mannwhitney_p(x[a0:b0], x[a1:b1])
        out.append(
            ChangePoint(
                method=method,
                index_before=positions[b0 - 1],
                index_after=positions[a1],
                value_before=med0,
                value_after=med1,
                mean_before=mean0,
                mean_after=mean1,
                n_before=n0,
                n_after=n1,
                spread_before=iqr0,
                spread_after=iqr1,
                relative_change=rel,
                speedup=speedup,
                direction=direction,
                p_value=p,
                significant=p is not None and p < config.significance_alpha,
                passes_floor=abs(rel) >= config.magnitude_floor,
            )
        )
    return out


def _detect_batch(
    items: list[tuple], config: DetectionConfig
) -> list[tuple[Any, list[ChangePoint], str | None]]:
    """Detection for several series; asv's step detection runs lock-stepped over the whole batch."""
    prepared = []
    stats_of = []
    for key, values, benchmark_type, weights, benchmark, *point_stats in items:
        values = list(values)
        if weights is not None and len(weights) != len(values):
            raise ValueError(f"{key!r}: {len(weights)} weights for {len(values)} values")
        x, positions, w = _clean(values, weights)
        reason = _skip_reason(x, len(values), config)
        prepared.append((key, x, positions, w, reason, better_direction(benchmark_type, config, benchmark)))
        stats_of.append(point_stats[0] if point_stats else None)  # per-point recorded stats, for `evidence`
        if stats_of[-1] is not None and len(stats_of[-1]) != len(values):
            raise ValueError(f"{key!r}: {len(stats_of[-1])} point stats for {len(values)} values")
    asv_steps = {}
    if "asv" in config.methods:
        todo = [i for i, p in enumerate(prepared) if p[4] is None]
        found = asvfast.detect_steps_many([(prepared[i][1].tolist(), prepared[i][3]) for i in todo])
        asv_steps = dict(zip(todo, found, strict=True))
    out = []
    for i, (key, x, positions, _w, reason, better) in enumerate(prepared):
        if reason is not None:
            out.append((key, [], reason))
            continue
        cps: list[ChangePoint] = []
        for method in config.methods:
            if method == "evidence":
                st = stats_of[i]
                cps.extend(
                    _evidence_change_points(x, positions, st and [st[p] for p in positions], better, config)
                )
                continue
            if method == "rbf":
                segments = _rbf_segments(x, config)
            else:
                segments = [(lft, r) for lft, r, *_ in asv_steps[i]]
            cps.extend(_change_points(method, x, positions, segments, better, config))
        out.append((key, cps, None))
    return out


def detect(
    values: Sequence[float],
    benchmark_type: str,
    config: DetectionConfig,
    weights: Sequence[float | None] | None = None,
    benchmark: str = "",
    point_stats: Sequence | None = None,
) -> tuple[list[ChangePoint], str | None]:
    """Change points of one series (values in commit order, failed/skipped already removed).

    Returns ``(change_points, skip_reason)``: the change points of each configured method (in ``config.methods``
    order, each method's in series order), or ``([], reason)`` for a series that is too short, constant, or has no
    finite value. None/NaN/inf values are ignored (indices still refer to the series as given). Never raises on
    such data. ``weights`` (aligned with ``values``) are used by the ``asv`` method only; ``point_stats`` (aligned
    with ``values``: per point None or a mapping with ``ci_99_a``, ``ci_99_b``, optionally ``samples``) by the
    ``evidence`` method only.
    """
    item = (None, values, benchmark_type, weights, benchmark, point_stats)
    ((_, cps, reason),) = _detect_batch([item], config)
    return cps, reason


def _detect_chunk(args):
    items, config = args
    return _detect_batch(items, config)


def _default_context():
    import multiprocessing

    # fork is the cheapest start, but is unsafe once other threads exist (e.g. inside Dagster).
    if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    if "forkserver" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("forkserver")
    return multiprocessing.get_context("spawn")


def _die_with_parent(main: int, direct: bool) -> None:
    """Pool initializer: end this worker when the process ``main`` that started the pool dies, so a killed
    run leaves no workers computing for nobody (or holding what they inherited). When ``main`` is the
    worker's parent (fork, spawn), the kernel does it: prctl(PR_SET_PDEATHSIG, SIGKILL) on Linux. Under
    forkserver the parent is the fork server, which lives as long as any worker, so a daemon thread waits
    on a pidfd of ``main`` (polls it each second without pidfd_open) and ends the worker."""
    import sys

    if direct and sys.platform.startswith("linux"):
        import ctypes
        import signal

        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
            if os.getppid() != main:  # it died before the request took effect
                os._exit(1)
            return
        except (OSError, AttributeError):  # no prctl: watch as below
            pass
    threading.Thread(target=_exit_when_gone, args=(main,), daemon=True, name="die-with-parent").start()


def _exit_when_gone(pid: int) -> None:
    import select

    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        os._exit(1)
    except (AttributeError, OSError):  # no pidfd: poll the pid
        while True:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                os._exit(1)
            except PermissionError:
                pass
            threading.Event().wait(1.0)
    select.select([fd], [], [])  # readable once the process has exited
    os._exit(1)


def _start_pool(workers: int, mp_context=None) -> ProcessPoolExecutor:
    """The detection pool: ``workers`` processes that die with this process (see ``_die_with_parent``)."""
    ctx = mp_context or _default_context()
    direct = ctx.get_start_method() in ("fork", "spawn")  # the workers' parent is this process
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx, initializer=_die_with_parent, initargs=(os.getpid(), direct)
    )


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def detect_many(
    series: Iterable[tuple[Any, Sequence[float], str, Sequence[float | None] | None, str]],
    config: DetectionConfig,
    workers: int | None = None,
    chunk_size: int = 48,
    mp_context=None,
) -> Iterator[tuple[Any, list[ChangePoint], str | None]]:
    """``detect`` over many ``(key, values, benchmark_type, weights, benchmark)``; yields ``(key, cps, reason)``.

    Results come in input order. Series are sent to a process pool (``workers``, default: all usable cores) in
    chunks of ``chunk_size``; a chunk is one task, so per-task overhead is paid once per chunk, and asv's step
    detection runs lock-stepped inside it. ``workers=1`` runs in this process.
    """
    workers = default_workers() if workers is None else max(1, int(workers))
    it = iter(series)

    def chunks():
        while True:
            chunk = []
            for item in it:
                chunk.append(tuple(item))
                if len(chunk) == chunk_size:
                    break
            if not chunk:
                return
            yield chunk

    if workers == 1:
        for chunk in chunks():
            yield from _detect_batch(chunk, config)
        return
    with _start_pool(workers, mp_context) as pool:
        pending = []
        source = chunks()
        for chunk in source:
            pending.append(pool.submit(_detect_chunk, (chunk, config)))
            if len(pending) >= 2 * workers:
                yield from pending.pop(0).result()
        for fut in pending:
            yield from fut.result()


def _evidence_change_points(x, positions, stats, better, config):
    """``ChangePoint``s of the ``evidence`` method for one clean series: detection.evidence finds the splits."""
    splits = evidence_splits(x, stats, min_size=config.rbf_min_size, alpha=config.significance_alpha)
    bounds = [0, *splits, len(x)]
    segments = list(itertools.pairwise(bounds))
    cps = _change_points("evidence", x, positions, segments, better, config)
    # every kept boundary passed step 3; significance is that verdict, not the segment Mann-Whitney p
    return [replace(c, significant=True) for c in cps]

"""The ``evidence`` change-point method: significance from the evidence recorded at the commits around a split.

Why: the ``rbf`` and ``asv`` methods judge a change point by a Mann-Whitney U test between the per-commit values of
the two adjacent segments. On a short series that test cannot reach significance however large the step: 3 vs 4
commits give at best p = 0.057. But a results source recorded, at each commit, the benchmark's 99% confidence
interval (and, with ``--record-samples``, every sample), and asv itself decides "these two commits differ" from
exactly that (``asv._stats.is_different``, used by ``asv compare``). This method uses it.

How, per series (values in commit order, failures removed):

1. Candidates: PELT with the RBF kernel cost on the log-values (``detection.rbf``), penalty ``c * ln(n)``:
   ``c = STATS_PENALTY_MULTIPLIER`` (0.75) when the series carries recorded stats, whose test at the commits is
   strict (p < 0.002 on the samples, or disjoint 99% CIs) and so can afford more candidates;
   ``c = CANDIDATE_PENALTY_MULTIPLIER`` (1.0, the ``rbf`` method's) without, where lower penalties were measured
   to lose precision on real noise (docs/detection.md).
2. Attribution: each candidate boundary may be moved, within ``REFINE_RADIUS`` points and inside its two
   neighbouring segments, to the split minimising the absolute error of a two-median fit of the log-values. The
   default radius is 0 (off): on the synthetic benchmark it did not name the planted commit more often.
3. Significance, per boundary between the last commit before and the first commit after:

   * when both commits carry recorded stats (a 99% CI, optionally samples): asv's ``is_different(samples_before,
     samples_after, stats_before, stats_after)``, asv's own function (Mann-Whitney U on the samples when there
     are enough of them to reach p < 0.002, else "the 99% CIs do not overlap"), *or* the segment test below;
   * otherwise (dashboards: one value per commit) the segment test only: the two-sided Mann-Whitney U test
     between the per-commit values of the two adjacent segments, p < ``config.significance_alpha``.

   The least significant failing boundary is removed, its two segments merged, and the test repeated until
   every remaining boundary passes (the ``rbf`` method keeps every boundary and only marks it).

The change points then carry the same fields as the other methods' (``detection.steps.ChangePoint``: segment
medians, the segment Mann-Whitney p-value in ``p_value``), with ``significant`` set by step 3.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from detection.rbf import default_penalty, rbf_breakpoints
from detection.stats import mannwhitney_p

CANDIDATE_PENALTY_MULTIPLIER = 1.0
STATS_PENALTY_MULTIPLIER = 0.75
REFINE_RADIUS = 0
ASV_P_THRESHOLD = 0.002  # asv's default for is_different


def point_stats(stats: Mapping | None) -> tuple[list[float] | None, dict | None]:
    """``(samples, {'ci_99_a', 'ci_99_b'})`` of one point's recorded stats, or None for what is missing."""
    if not stats:
        return None, None
    a, b = stats.get("ci_99_a"), stats.get("ci_99_b")
    ci = None
    if a is not None and b is not None:
        a, b = float(a), float(b)
        if math.isfinite(a) and math.isfinite(b):
            ci = {"ci_99_a": a, "ci_99_b": b}
    samples = stats.get("samples")
    if samples is not None:
        samples = [float(s) for s in samples if s is not None]
        if not samples:
            samples = None
    return samples, ci


def commits_differ(
    before: Mapping | None, after: Mapping | None, p_threshold: float = ASV_P_THRESHOLD
) -> bool | None:
    """asv's ``is_different`` on two commits' recorded stats; None when there is no evidence to judge by.

    Samples are used when both commits have them (asv's Mann-Whitney U, if the sample sizes can reach
    ``p_threshold``); otherwise both need a finite 99% CI.
    """
    from asv._stats import is_different

    sa, ca = point_stats(before)
    sb, cb = point_stats(after)
    have_samples = sa is not None and sb is not None
    if ca is None or cb is None:
        if not have_samples:
            return None
        # no CI: is_different needs one for its fallback, so judge by the samples only when they suffice
        from asv._stats import binom

        if 1 / binom(len(sa) + len(sb), min(len(sa), len(sb))) >= p_threshold:
            return None
        ca = cb = {"ci_99_a": -math.inf, "ci_99_b": math.inf}
    return bool(is_different(sa if have_samples else None, sb if have_samples else None, ca, cb, p_threshold))


def _refine(signal: np.ndarray, lo: int, split: int, hi: int, radius: int) -> int:
    """The split in ``[max(lo+1, split-radius), min(hi-1, split+radius)]`` minimising the two-level absolute error.

    Each side is fitted by its median (least absolute deviations: robust to the one-sided outliers of timings);
    ties keep the split closest to the candidate.
    """
    best, best_cost = split, math.inf
    for t in sorted(
        range(max(lo + 1, split - radius), min(hi - 1, split + radius) + 1), key=lambda t: abs(t - split)
    ):
        a, b = signal[lo:t], signal[t:hi]
        cost = float(np.abs(a - np.median(a)).sum() + np.abs(b - np.median(b)).sum())
        if cost < best_cost * (1 - 1e-12):
            best, best_cost = t, cost
    return best


def _boundary_evidence(
    signal: np.ndarray, stats: Sequence | None, lo: int, split: int, hi: int, alpha: float
) -> tuple[bool, float]:
    """(significant, strength for ordering: the segment p-value, 0 when the commits differ by asv)."""
    if stats is not None:
        differ = commits_differ(stats[split - 1], stats[split])
        if differ:
            return True, 0.0
    p = mannwhitney_p(signal[lo:split], signal[split:hi])
    if p is None:
        return False, 1.0
    return p < alpha, p


def evidence_splits(
    x: np.ndarray,
    stats: Sequence | None = None,
    min_size: int = 2,
    penalty_multiplier: float | None = None,
    refine_radius: int = REFINE_RADIUS,
    alpha: float = 0.05,
) -> list[int]:
    """The kept change points of one clean series, as split indices (first point after each change).

    ``stats`` (aligned with ``x``): per point a mapping with ``ci_99_a``/``ci_99_b`` and optionally ``samples``,
    or None. ``penalty_multiplier`` None: ``STATS_PENALTY_MULTIPLIER`` when some point has a CI or samples, else
    ``CANDIDATE_PENALTY_MULTIPLIER``.
    """
    n = len(x)
    if penalty_multiplier is None:
        has_stats = stats is not None and any(point_stats(st) != (None, None) for st in stats)
        penalty_multiplier = STATS_PENALTY_MULTIPLIER if has_stats else CANDIDATE_PENALTY_MULTIPLIER
    signal = np.log(x) if np.all(x > 0) else np.asarray(x, dtype=float)
    if n < 2 * min_size:
        return []
    bkps = rbf_breakpoints(signal, default_penalty(n, penalty_multiplier), min_size)
    splits = list(bkps[:-1])
    # attribution: move each split to the best commit between its neighbours
    bounds = [0, *splits, n]
    refined = []
    for k in range(1, len(bounds) - 1):
        lo = refined[-1] if refined else 0
        t = _refine(signal, lo, bounds[k], bounds[k + 1], refine_radius)
        refined.append(t)
    splits = sorted(set(refined))
    # significance: drop the weakest failing boundary until all pass
    while splits:
        bounds = [0, *splits, n]
        verdicts = [
            _boundary_evidence(signal, stats, bounds[k - 1], bounds[k], bounds[k + 1], alpha)
            for k in range(1, len(bounds) - 1)
        ]
        failing = [(p, i) for i, (ok, p) in enumerate(verdicts) if not ok]
        if not failing:
            break
        _, worst = max(failing)
        del splits[worst]
    return splits

"""Segment statistics and the two-sample test used to qualify change points.

The test is the two-sided Mann-Whitney U test, computed the way ``scipy.stats.mannwhitneyu`` does by default
(``method="auto"``: the exact null distribution when one sample has at most 8 points and there are no ties,
otherwise the normal approximation with tie correction and continuity correction), but without scipy's
per-call overhead. Why Mann-Whitney rather than Welch's t-test (Apache Otava's choice): benchmark timings are
skewed with heavy right tails (a busy machine only ever makes a run slower), so a rank test is not dragged by
a few outliers and assumes no normality; and it still works, exactly, for the short segments that change points
often leave (Welch's test is undefined for a one-point segment). With n1 = 1 no split can reach p < 0.05 unless
the other side has 39+ points, which is the honest answer for a single point.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np


@lru_cache(maxsize=512)
def _exact_sf(m: int, n: int) -> np.ndarray:
    """``sf[u] = P(U >= u)`` under the null for sample sizes m <= n (no ties): Gaussian binomial coefficients."""
    size = m * n + 1
    c = np.zeros(size)
    c[0] = 1.0
    for i in range(1, m + 1):
        k = n + i
        if k < size:
            c[k:] -= c[: size - k].copy()  # times (1 - q^(n+i))
        for r in range(i):  # divided by (1 - q^i): a running sum with stride i
            np.cumsum(c[r::i], out=c[r::i])
    pmf = c / c.sum()
    return np.cumsum(pmf[::-1])[::-1]


def mannwhitney_p(a: np.ndarray, b: np.ndarray) -> float | None:
    """Two-sided Mann-Whitney U p-value (as ``scipy.stats.mannwhitneyu(a, b).pvalue``); None if a side is empty."""
    n1, n2 = len(a), len(b)
    if n1 == 0 or n2 == 0:
        return None
    x = np.concatenate([a, b])
    n = n1 + n2
    order = np.argsort(x, kind="stable")
    xs = x[order]
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    counts = np.diff(np.r_[starts, n])
    ranks = np.empty(n)
    ranks[order] = np.repeat(starts + (counts + 1) / 2, counts)
    U1 = float(ranks[:n1].sum()) - n1 * (n1 + 1) / 2
    U = max(U1, n1 * n2 - U1)
    ties = bool((counts > 1).any())
    if (n1 <= 8 or n2 <= 8) and not ties:
        sf = _exact_sf(min(n1, n2), max(n1, n2))
        u = round(U)
        p = 2 * float(sf[u]) if u < len(sf) else 0.0
    else:
        tie_term = float((counts.astype(float) ** 3 - counts).sum())
        var = n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1)))
        if var <= 0:
            return 1.0
        z = (U - n1 * n2 / 2 - 0.5) / math.sqrt(var)
        p = math.erfc(z / math.sqrt(2))  # 2 * normal sf(z)
    return min(max(p, 0.0), 1.0)


def segment_summary(v: np.ndarray) -> tuple[float, float, int, float]:
    """(median, mean, count, interquartile range) of one segment."""
    q25, q50, q75 = np.percentile(v, (25, 50, 75))
    return float(q50), float(v.mean()), len(v), float(q75 - q25)

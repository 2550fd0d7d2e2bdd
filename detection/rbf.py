"""PELT with the RBF kernel cost: an exact, fast re-implementation of ``ruptures.Pelt(model="rbf", jump=1)``.

``rbf_reference`` is the plain ruptures call. ``rbf_breakpoints`` returns exactly the same breakpoints for
``jump=1`` (asserted by the tests on real series and by ``python -m bench.detection`` on every django series), but is
hundreds of times faster. How it stays identical:

* The Gram matrix is computed by the same expressions as ``ruptures.costs.CostRbf`` (pdist, median heuristic,
  clipping, exp), so it is bit-identical.
* Segment costs ``c(t, e) = (e - t) - sum(G[t:e, t:e]) / (e - t)`` come from running segment sums
  (``S(t, e + 1) = S(t, e) + 2 * sum(G[t:e, e]) + 1``, vectorised over a block of 64 new points and every
  candidate ``t``) instead of summing a sub-matrix for every candidate, and the Gram entries are only computed
  for the candidates still admissible. The costs then differ from ruptures' by rounding only (at most
  ``0.03 * eps * n**2`` on the django series), so every decision of the PELT recursion (which candidate is the
  minimum, which candidates are pruned) is the same as ruptures' *unless* two of the compared quantities lie
  within a tolerance far above that rounding error (``64 * eps * n**2`` per segment cost). Such near-ties are
  detected and re-decided with ruptures' own arithmetic: ``F(t)`` summed segment by segment exactly as ruptures
  sums its partition dict, and each segment cost summed from a Gram sub-matrix with the same memory layout as
  ``CostRbf.error``'s view. Ruptures keeps the first minimal candidate in index order and prunes a candidate
  when its total exceeds ``F(e) + pen``; both rules are reproduced.
* The recursion runs block by block: for a block of consecutive ends ``e`` the cost block is built in a few
  vectorised operations, the minimum for each ``e`` is taken over all candidates still admissible at the start of
  the block (pruning inside a block cannot change a clear minimum, because PELT only prunes candidates that can
  never win again), and the pruning and near-tie checks for the whole block are then done vectorised. A block that
  shows any near-tie, or whose minimum would have been pruned inside the block, is recomputed step by step with
  exact pruning and exact tie resolution.

Ruptures' ``jump=1`` admissible set never contains an index ``0 < t < min_size`` that could be used (such indices
have no partition and are skipped), which is what the recursion here assumes.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial.distance import pdist

_INF = math.inf
_EPS = np.finfo(float).eps
_BLOCK = 64


def default_penalty(n: int, multiplier: float) -> float:
    """``multiplier * ln(n)`` (at least ``multiplier * ln(2)``)."""
    return multiplier * math.log(max(n, 2))


def rbf_reference(signal, jump: int = 5, penalty: float | None = None, min_size: int = 2) -> list[int]:
    """The plain ruptures call (the original loop used ``jump=5`` and ``penalty=3*ln(n)``).

    Returns ruptures' breakpoints: the sorted end indices (exclusive) of the segments, the last one being ``n``.
    """
    import ruptures as rpt

    x = np.asarray(signal, dtype=float)
    pen = 3 * math.log(len(x)) if penalty is None else penalty
    return rpt.Pelt(model="rbf", min_size=min_size, jump=jump).fit(x).predict(pen=pen)


def rbf_gamma(x: np.ndarray) -> float:
    """``CostRbf``'s median heuristic: ``1 / median(pdist(x, "sqeuclidean"))`` (1.0 if that median is 0).

    The median is the one ``np.median`` returns (mean of the two middle order statistics for an even count),
    found with a single ``np.partition`` instead of ``np.median``'s two-index selection on a copy.
    """
    K = pdist(x.reshape(-1, 1), metric="sqeuclidean")
    h = len(K) // 2
    P = np.partition(K, h)
    # np.median's value: the middle order statistic, or the mean of the two middle ones
    K_median = P[h] if len(K) % 2 else np.mean(np.array([P[:h].max(), P[h]]))
    return 1 / K_median if K_median != 0 else 1.0


def rbf_kernel(x_rows: np.ndarray, x_cols: np.ndarray, gamma: float) -> np.ndarray:
    """Gram entries ``exp(-clip(gamma * (a - b)**2, 0.01, 100))``, bit-identical to ``CostRbf.gram``.

    The caller sets entries of a point with itself to 1 (ruptures' diagonal is ``exp(0)``, never clipped).
    """
    d = x_rows[:, None] - x_cols[None, :]
    K = d * d
    K *= gamma
    np.clip(K, 1e-2, 1e2, K)
    np.negative(K, out=K)
    return np.exp(K, out=K)


def rbf_gram(x: np.ndarray) -> np.ndarray:
    """The whole Gram matrix exactly as ``ruptures.costs.CostRbf.gram`` computes it."""
    G = rbf_kernel(x, x, rbf_gamma(x))
    np.fill_diagonal(G, 1.0)
    return G


class _Exact:
    """Ruptures' own arithmetic for segment costs and partition totals, used to settle near-ties."""

    def __init__(self, x: np.ndarray, gamma: float, pen: float, prev: np.ndarray):
        self.x = x
        self.gamma = gamma
        self.pen = pen
        self.prev = prev
        self.total: dict[int, float] = {0: 0}

    def cost(self, start: int, end: int) -> float:
        """``CostRbf.error(start, end)``: trace minus the sub-matrix sum over the length.

        Ruptures sums a view ``gram[start:end, start:end]`` of the n x n matrix; numpy's summation order (and so
        the rounding) depends on that memory layout, so the block is laid out with the same row stride.
        """
        seg = self.x[start:end]
        size, n = end - start, len(self.x)
        sub = rbf_kernel(seg, seg, self.gamma)
        np.fill_diagonal(sub, 1.0)
        if size < n:
            buf = np.empty((size, n))
            buf[:, :size] = sub
            sub = buf[:, :size]
        val = np.diagonal(sub).sum()
        val -= sub.sum() / (end - start)
        return val

    def F(self, t: int) -> float:
        """``sum(partitions[t].values())`` in ruptures: the segment values summed left to right."""
        path = []
        while t not in self.total:
            path.append(t)
            t = int(self.prev[t])
        for u in reversed(path):
            s = int(self.prev[u])
            self.total[u] = self.total[s] + (self.cost(s, u) + self.pen)
        return self.total[path[0]] if path else self.total[t]

    def value(self, t: int, e: int) -> float:
        return self.F(t) + (self.cost(t, e) + self.pen)


def rbf_breakpoints(
    signal, penalty: float, min_size: int = 2, stats: dict | None = None, tolerance_scale: float = 1.0
) -> list[int]:
    """Breakpoints of ``ruptures.Pelt(model="rbf", min_size=min_size, jump=1).fit(signal).predict(pen=penalty)``.

    ``signal`` is 1-D. Raises ``ValueError`` when ``len(signal) < min_size`` (ruptures raises
    ``BadSegmentationParameters`` there). ``stats``, if given, counts blocks redone step by step
    (``slow_blocks``) and decisions settled with ruptures' arithmetic (``exact_min``, ``exact_prune``).
    ``tolerance_scale`` widens the near-tie band (tests use a huge value to send every decision through the
    exact path); the result does not depend on it.
    """
    x = np.ascontiguousarray(signal, dtype=float).ravel()
    n = len(x)
    m = max(int(min_size), 1)
    if n == 0 or n < m:
        raise ValueError(f"series of {n} points is shorter than min_size={m}")
    pen = float(penalty)
    if n < 2 * m:
        return [n]  # one segment only: any split would leave a side shorter than min_size
    gamma = rbf_gamma(x)
    # Each cost here differs from ruptures' by rounding only; 64 * eps * n**2 bounds it with a wide margin (the
    # largest difference seen on the django series is 0.03 * eps * n**2). A total F(t) carries one such error
    # per segment of its partition, so the tolerance of a comparison grows with the segment counts involved.
    cost_err = 64 * _EPS * (n + 1) ** 2 * tolerance_scale

    F = np.full(n + 1, _INF)  # totals; inf = no partition (0 < t < m), not computed yet, or pruned
    F[0] = 0.0
    prev = np.zeros(n + 1, dtype=np.int64)
    nseg = np.zeros(n + 1, dtype=np.int64)  # segments in each end's partition
    S = np.zeros(n + 1)  # S[t] = sum of G[t:p, t:p] for the points p added so far (0 for t >= p)
    exact = _Exact(x, gamma, pen, prev)
    lo = 0  # smallest admissible candidate
    p0 = 0
    while p0 < n:
        # Add points p in [p0, p1): segment sums S(t, p + 1) for t in [lo, p1), i.e. ends e in (p0, p1].
        p1 = min(p0 + _BLOCK, n)
        Z = rbf_kernel(x[p0:p1], x[lo:p1], gamma)  # Z[k, i] = G[p0 + k, lo + i]
        ii = np.arange(lo, p1)
        pp = np.arange(p0, p1)[:, None]
        Z[ii[None, :] >= pp] = 0.0  # only i < p enter G[i, p]
        # R[k, i] = sum of G[j, p] for j in [lo + i, p); then S(t, p + 1) = S(t, p) + 2 R + 1 for t <= p.
        R = np.cumsum(Z[:, ::-1], axis=1)[:, ::-1]
        R *= 2.0
        R += ii[None, :] <= pp
        np.cumsum(R, axis=0, out=R)
        R += S[lo:p1][None, :]
        S[lo:p1] = R[-1]
        e_first = max(p0 + 1, m)
        if e_first <= p1:
            r0 = e_first - (p0 + 1)
            Sb = R[r0:]
            ends = np.arange(e_first, p1 + 1, dtype=float)[:, None]
            width = p1 + 1 - m - lo  # candidates t in [lo, p1 - m]
            L = ends - np.arange(lo, lo + width, dtype=float)[None, :]  # e - t
            with np.errstate(divide="ignore", invalid="ignore"):
                CB = L - Sb[:, :width] / L
            CB += pen
            CB[m > L] = _INF  # t > e - m is not a candidate (yet)
            if not _block_fast(F, prev, nseg, CB, lo, e_first, pen, cost_err):
                if stats is not None:
                    stats["slow_blocks"] = stats.get("slow_blocks", 0) + 1
                _block_slow(F, prev, nseg, CB, lo, e_first, cost_err, exact, stats)
            while F[lo] == _INF:
                lo += 1
        p0 = p1
    bkps = []
    e = n
    while e > 0:
        bkps.append(e)
        e = int(prev[e])
    return bkps[::-1]


def _tolerance(F, nseg, lo, e1, pen, cost_err) -> float:
    """Bound on |fast - ruptures| for the difference of two totals compared in this block."""
    Fw = F[lo:e1]
    top = float(Fw[np.isfinite(Fw)].max()) + abs(pen)
    return (2 * int(nseg[lo:e1].max()) + 4) * cost_err + 16 * _EPS * top


def _block_fast(F, prev, nseg, CB, lo, e0, pen, cost_err) -> bool:
    """Each end's minimum over the candidates admissible at the block start; then check the block vectorised.

    ``CB[r, t - lo]`` is the cost of segment (t, e0 + r) plus the penalty (inf when t is not a candidate).
    Returns False (leaving the block to ``_block_slow``) on any near-tie or if a minimum would have been pruned.
    """
    nrow, width = CB.shape
    e1 = e0 + nrow
    Fc = F[lo : lo + width].copy()
    for r in range(nrow):
        e = e0 + r
        v = Fc + CB[r]
        i = int(v.argmin())
        fe = v[i]
        F[e] = fe
        prev[e] = lo + i
        nseg[e] = nseg[lo + i] + 1
        if e - lo < width:
            Fc[e - lo] = fe  # t = e is a candidate of ends e + m and later
    tol = _tolerance(F, nseg, lo, e1, pen, cost_err)
    V = Fc[None, :] + CB  # every candidate's total at every end of the block
    thr = F[e0:e1, None] + pen
    cand = np.isfinite(V)
    P = (thr < V) & cand  # ruptures prunes these at that end
    pruned_before = np.zeros_like(P)
    if nrow > 1:
        np.logical_or.accumulate(P[:-1], axis=0, out=pruned_before[1:])
    adm = cand & ~pruned_before
    D = np.abs(V - thr)
    if np.any(D[adm] <= tol):
        return False
    rr = np.arange(nrow)
    ci = prev[e0:e1] - lo
    if not adm[rr, ci].all():
        return False
    V[~adm] = _INF
    V[rr, ci] = _INF
    if np.any(V.min(axis=1) <= F[e0:e1] + tol):
        return False
    F[lo : lo + width][P.any(axis=0)] = _INF
    return True


def _block_slow(F, prev, nseg, CB, lo, e0, cost_err, exact, stats) -> None:
    """Ruptures' recursion step by step: exact pruning; near-ties re-decided with ruptures' arithmetic."""
    pen = exact.pen
    nrow, width = CB.shape
    for r in range(nrow):
        e = e0 + r
        tol = _tolerance(F, nseg, lo, e, pen, cost_err)
        v = F[lo : lo + width] + CB[r]
        i = int(v.argmin())
        fe = v[i]
        near_min = np.flatnonzero(v <= fe + tol)
        ambiguous = np.flatnonzero(np.abs(v - (fe + pen)) <= tol)
        if len(near_min) > 1:
            if stats is not None:
                stats["exact_min"] = stats.get("exact_min", 0) + 1
            best_v = _INF
            for k in near_min:  # the first minimal candidate in index order, as ruptures' min()
                val = exact.value(lo + int(k), e)
                if val < best_v:
                    i, best_v = int(k), val
        prune = (v > fe + pen) & np.isfinite(v)
        if len(near_min) > 1 or len(ambiguous):
            fe = exact.value(lo + i, e)
            exact.total[e] = fe
            for k in ambiguous:
                if stats is not None:
                    stats["exact_prune"] = stats.get("exact_prune", 0) + 1
                prune[k] = exact.value(lo + int(k), e) > fe + pen
        F[e] = fe
        prev[e] = lo + i
        nseg[e] = nseg[lo + i] + 1
        F[lo : lo + width][prune] = _INF

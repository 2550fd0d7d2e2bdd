"""asv's step detection (``asv.step_detect.detect_steps``), reproduced exactly but several times faster.

``detect_steps_many`` returns, for each series, exactly what ``asv.step_detect.detect_steps(y, w)`` returns (same
tuples, same floats); the tests and ``python -m bench.detection`` check this on real series. The algorithm is asv's,
step for step: a golden-section search over the Potts penalty ``gamma``; for each ``gamma`` the exact Potts
solution with pieces of at most 20 points, merged and nudged by ``merge_pieces``, scored by an information
criterion whose noise term is itself minimised over an AR(1) coefficient ``rho`` by a second golden search.
What changes is only how the numbers are computed:

* The weighted median and L1 deviation of every window of at most 20 points (all that the dynamic program
  reads) are computed once per series, vectorised, with the same operations in the same order as asv's C++
  ``_rangemedian`` (lexicographic sort of (value, weight) pairs, sequential sums), so they are bit-identical.
* The dynamic program (``RangeMedian.find_best_partition``) runs vectorised across many series at once: the
  golden searches of a group of series advance in lock step (each is a generator), and each step of the
  recursion handles every series of the group in one numpy operation, with asv's tie rule (the last left edge
  among equal totals wins).
* ``merge_pieces`` keeps asv's rules but finds each merge incrementally instead of rescanning from the start,
  and remembers boundary nudges, which depend only on the three boundaries involved. Ranges longer than 20 points
  are read from asv's own C ``RangeMedian`` object, as asv does.
* The noise term ``sigma_star`` is a vectorised expression summed with ``np.cumsum`` (a strictly sequential sum,
  so equal to asv's Python loop), and it is computed once per distinct segmentation (different ``gamma`` often
  give the same one).

If asv's C extension is missing (asv then uses its pure-Python ``L1Dist``, whose median rule differs slightly),
``detect_steps_many`` simply calls ``asv.step_detect.detect_steps``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import median

import numpy as np
from asv import step_detect as _sd
from numpy.lib.stride_tricks import sliding_window_view

_MAX = 20  # solve_potts_approx's max_size for min_size=1
_RATIO = 2 / (1 + math.sqrt(5))


def _golden(a, b, xatol=1e-6, ftol=1e-8, expand_bounds=False):
    """``asv.step_detect.golden_search`` as a generator: yields each x and receives f(x)."""
    ratio = _RATIO
    if not expand_bounds:
        x0 = a
        x3 = b
    else:
        x0 = (ratio * a - (1 - ratio) * b) / (2 * ratio - 1)
        x3 = (ratio * b - (1 - ratio) * a) / (2 * ratio - 1)

    x1 = ratio * x0 + (1 - ratio) * x3
    x2 = (1 - ratio) * x0 + ratio * x3

    f1 = yield x1
    f2 = yield x2

    f0 = max(abs(f1), abs(f2))

    while True:
        if abs(x0 - x3) < xatol or abs(f1 - f2) < ftol * f0:
            break

        if f2 < f1:
            x0 = x1
            x1 = x2
            x2 = ratio * x1 + (1 - ratio) * x3
            f1 = f2
            f2 = yield x2
        else:
            x3 = x2
            x2 = x1
            x1 = ratio * x2 + (1 - ratio) * x0
            f2 = f1
            f1 = yield x1

    if f2 < f1:
        return x2
    else:
        return x1


def _golden_min(f, a, b, xatol, ftol=1e-8, expand_bounds=False):
    gen = _golden(a, b, xatol, ftol, expand_bounds)
    x = next(gen)
    try:
        while True:
            x = gen.send(f(x))
    except StopIteration as stop:
        return stop.value


def _band(y: np.ndarray, w: np.ndarray, unweighted: bool) -> tuple[np.ndarray, np.ndarray]:
    """Weighted median and L1 deviation of every window of 1..20 points, as asv's C++ computes them.

    Returns ``mu, dist`` of shape (n, 20): entry ``[r, j]`` is the window ``[r - 19 + j, r]`` (nan/inf where the
    left edge is below 0). Per window: the (value, weight) pairs sorted lexicographically, the weights summed in
    that order to find the half-weight point (the mean of two values when a partial sum equals half exactly),
    and the deviation ``sum(w * |y - mu|)`` summed in the original order.
    """
    n = len(y)
    mu = np.full((n, _MAX), np.nan)
    dist = np.full((n, _MAX), np.inf)
    pad = _MAX - 1
    Yall = sliding_window_view(np.concatenate((np.full(pad, np.nan), y)), _MAX)  # row r: points r-19 .. r
    Wall = None if unweighted else sliding_window_view(np.concatenate((np.ones(pad), w)), _MAX)
    for k in range(1, min(_MAX, n) + 1):
        Y = Yall[k - 1 :, _MAX - k :]
        if unweighted:
            Ys = np.sort(Y, axis=1)
            h = k // 2
            m = Ys[:, h] if k % 2 else (Ys[:, h] + Ys[:, h - 1]) / 2
            d = np.abs(Y[:, 0] - m)
            for j in range(1, k):
                d += np.abs(Y[:, j] - m)
        else:
            W = Wall[k - 1 :, _MAX - k :]
            order = np.lexsort((W, Y), axis=-1)
            Ys = np.take_along_axis(Y, order, axis=1)
            Ws = np.take_along_axis(W, order, axis=1)
            cs = np.cumsum(Ws, axis=1)
            mid = cs[:, -1] / 2
            reach = cs >= mid[:, None]
            found = reach.any(axis=1)
            idx = np.where(found, reach.argmax(axis=1), k - 1)
            rows = np.arange(len(Y))
            m = Ys[rows, idx]
            nxt = np.minimum(idx + 1, k - 1)
            avg = found & (cs[rows, idx] == mid) & (idx + 1 < k)
            m = np.where(avg, (Ys[rows, nxt] + m) / 2, m)
            d = W[:, 0] * np.abs(Y[:, 0] - m)
            for j in range(1, k):
                d += W[:, j] * np.abs(Y[:, j] - m)
        mu[k - 1 :, _MAX - k] = m
        dist[k - 1 :, _MAX - k] = d
    return mu, dist


class _Series:
    """One series prepared as ``detect_steps`` prepares it, and its golden search state."""

    def __init__(self, y, w):
        index_map = []
        y_filtered = []
        for j, x in enumerate(y):
            if x is None or x != x:
                continue
            if w is not None and w[j] is not None and (w[j] <= 0):
                continue
            index_map.append(j)
            y_filtered.append(x)
        if w is None:
            w_filtered = [1.0] * len(y_filtered)
        else:
            w_valid = [ww for ww in w if ww is not None and ww == ww]
            if w_valid:
                w_median = median(w_valid)
                if w_median == 0:
                    w_median = 1.0
            else:
                w_median = 1.0
            w_filtered = [1.0] * len(y_filtered)
            for j in range(len(w_filtered)):
                jj = index_map[j]
                if w[jj] is not None and w[jj] == w[jj]:
                    w_filtered[j] = w[jj] / w_median
        self.index_map = index_map
        self.y = y_filtered
        self.w = w_filtered
        self.n = n = len(y_filtered)
        self.steps: list | None = None
        if n == 0:
            self.steps = []
            return
        self.ya = np.asarray(y_filtered, dtype=float)
        self.wa = np.asarray(w_filtered, dtype=float)
        self.unweighted = bool(np.all(self.wa == 1.0))
        self.rm = _sd.get_mu_dist(y_filtered, w_filtered)
        self.beta = 4 * math.log(n) / n
        gamma_0 = self.rm.dist(0, n - 1)
        self.gamma_0 = 1.0 if gamma_0 == 0 else gamma_0
        self.best = None
        self.best_obj = math.inf
        self.seg_cache: dict[tuple, float] = {}
        self.nudge_cache: dict[tuple, int] = {}
        a = math.log(0.1 / n)
        self.search = _golden(a, 0.0, xatol=abs(a) * 0.1, ftol=0, expand_bounds=True)
        self.x = next(self.search)
        self.band_mu = self.band_dist = None
        if n > 1:
            self.band_mu, self.band_dist = _band(self.ya, self.wa, self.unweighted)

    # -- one evaluation of asv's f(x) ------------------------------------------------------------------------

    def evaluate(self, gamma: float, p: list[int] | None) -> float:
        """asv's ``f(x)`` for ``gamma``, given ``find_best_partition``'s result ``p`` (None when n == 1)."""
        right = self._solve_potts(p)
        right = self._merge_pieces(gamma, right)
        key = tuple(right)
        obj = self.seg_cache.get(key)
        if obj is None:
            obj = self._objective(right, self._values(right))
            self.seg_cache[key] = obj
        if obj < self.best_obj:
            self.best = right
            self.best_obj = obj
        return obj

    def _values(self, right):
        mu = self.rm.mu
        values = []
        left = 0
        for r in right:
            values.append(mu(left, r - 1))
            left = r
        return values

    def _solve_potts(self, p):
        n = self.n
        if p is None:
            return [n]
        r = n - 1
        left = p[r]
        right = []
        while r >= 0:
            right.append(r + 1)
            r = left
            left = p[r]
        right.reverse()
        return right

    def _window_dist(self, lefts: np.ndarray, rights: np.ndarray) -> np.ndarray:
        """``dist(l, r)`` for arrays of windows: band lookups for windows of at most 20 points, C otherwise."""
        k = rights - lefts
        short = k < _MAX
        out = np.empty(len(k))
        out[short] = self.band_dist[rights[short], (_MAX - 1) - k[short]]
        if not short.all():
            dist = self.rm.dist
            for i in np.flatnonzero(~short).tolist():
                out[i] = dist(int(lefts[i]), int(rights[i]))
        return out

    def _merge_pieces(self, gamma, right):
        """asv's ``merge_pieces`` (merges, then boundary nudges); same decisions from the same numbers."""
        dist = self.rm.dist
        count = len(right)
        if count == 1:
            return list(right)
        ra = np.asarray(right)
        la = np.concatenate(([0], ra[:-1]))  # left edge of each piece
        # Merging: asv rescans from the start for every merge and merges at the end of the first non-increasing
        # run of non-positive changes. Changes left of the last merge are unchanged, so scan on from there.
        piece_a = self._window_dist(la, ra - 1)
        merged = self._window_dist(la[:-1], ra[1:] - 1)
        ch_a = merged - ((piece_a[:-1] + piece_a[1:]) + gamma)
        if (ch_a <= 0).any():
            right = ra.tolist()
            piece = piece_a.tolist()
            ch = [0.0, *ch_a.tolist()]

            def change(j):
                lft = right[j - 2] if j >= 2 else 0
                return dist(lft, right[j] - 1) - (piece[j - 1] + piece[j] + gamma)

            start = 1
            while True:
                count = len(right)
                j0 = start
                while j0 < count and not (ch[j0] <= 0):
                    j0 += 1
                if j0 >= count:
                    break
                js = j0
                while js + 1 < count and ch[js + 1] <= ch[js]:
                    js += 1
                # merge pieces js - 1 and js
                del right[js - 1]
                piece[js - 1] = dist(right[js - 2] if js >= 2 else 0, right[js - 1] - 1)
                del piece[js]
                del ch[js]
                if js - 1 >= 1:
                    ch[js - 1] = change(js - 1)
                if js < len(right):
                    ch[js] = change(js)
                start = max(1, min(j0, js - 1))
            ra = np.asarray(right)
        if len(ra) == 1:
            return ra.tolist()
        # Boundary nudges (asv's second loop), first computed for every boundary at once from the band, assuming
        # the boundary before it did not move; then walked in order, recomputing exactly where that assumption
        # fails or a window is longer than the band.
        L = np.concatenate(([0], ra[:-2]))
        Bd = ra[:-1]
        R = ra[1:]
        short = (R - L) <= _MAX + 1
        offs = np.zeros(len(Bd), dtype=np.int64)
        if short.any():
            Ls, Bs, Rs = L[short], Bd[short], R[short]
            C = Bs[:, None] + np.arange(-_MAX, _MAX + 1)[None, :]
            valid = (Ls[:, None] + 1 <= C) & (Rs[:, None] - 1 >= C)
            Cc = np.where(valid, C, Bs[:, None])
            k1 = Cc - 1 - Ls[:, None]
            k2 = (Rs - 1)[:, None] - Cc
            band = self.band_dist
            score = band[Cc - 1, (_MAX - 1) - k1] + band[(Rs - 1)[:, None], (_MAX - 1) - k2]
            score_b = score[:, _MAX].copy()
            score[~valid] = np.inf
            score[:, _MAX] = np.inf
            kbest = score.argmin(axis=1)  # first minimal offset, as asv's strict `<` scan
            best = score[np.arange(len(Bs)), kbest]
            offs[short] = np.where(best < score_b, kbest - _MAX, 0)
        if short.all() and not offs.any():
            return ra.tolist()
        right = ra.tolist()
        Ll, offl, shortl = L.tolist(), offs.tolist(), short.tolist()
        cache = self.nudge_cache
        left = 0
        for j in range(1, len(right)):
            b = right[j - 1]
            if shortl[j - 1] and left == Ll[j - 1]:
                off = offl[j - 1]
            else:
                r = right[j]
                key = (left, b, r)
                off = cache.get(key)
                if off is None:
                    off = cache[key] = _nudge(dist, left, b, r)
            if off:
                right[j - 1] = b + off
            left = right[j - 1]
        return right

    def _objective(self, right, values):
        y, w = self.ya, self.wa
        n = self.n
        vexp = np.repeat(np.asarray(values, dtype=float), np.diff([0, *right]))
        E = y - vexp
        buf = np.empty(n)
        buf[0] = abs(E[0]) * w[0]
        Eh, Ep = E[1:], E[:-1]
        wt = None if self.unweighted else w[1:]
        tail = buf[1:]

        def sigma_star(rho):
            np.multiply(Ep, rho, out=tail)
            np.subtract(Eh, tail, out=tail)
            np.abs(tail, out=tail)
            if wt is not None:
                np.multiply(tail, wt, out=tail)
            return float(np.cumsum(buf)[-1])

        rho_best = _golden_min(sigma_star, -1, 1, xatol=0.05, expand_bounds=True)
        if len(values) > 2:
            absdiff = [abs(values[j + 1] - values[j]) for j in range(len(values) - 1)]
            sigma_0 = 0.1 * min(absdiff)
        else:
            absv = [abs(z) for z in values]
            sigma_0 = 0.001 * min(absv)
        sigma_0 = max(1e-300, sigma_0)
        s = sigma_star(rho_best)
        return self.beta * len(right) + math.log(sigma_0 + s)

    def finish(self):
        right = self.best
        values = self._values(right)
        dists = []
        left = 0
        for r in right:
            dists.append(self.rm.dist(left, r - 1))
            left = r
        y = self.y
        index_map = self.index_map
        steps = []
        left = 0
        for r, v, d in zip(right, values, dists, strict=True):
            steps.append((index_map[left], index_map[r - 1] + 1, v, min(y[left:r]), abs(d / (r - left))))
            left = r
        self.steps = steps


def _nudge(dist, left, b, r):
    """asv's boundary perturbation for one boundary: the offset (or 0) that lowers the two pieces' cost most."""
    prev_score = dist(left, b - 1) + dist(b, r - 1)
    new_off = 0
    r1 = r - 1
    for c in range(max(b - _MAX, left + 1), min(b + _MAX, r1) + 1):
        if c == b:
            continue
        new_score = dist(left, c - 1) + dist(c, r1)
        if new_score < prev_score:
            new_off = c - b
            prev_score = new_score
    return new_off


def _band_stack(series: list[_Series]) -> np.ndarray:
    """The series' window deviations for ``_dp_batch``: ``D[r, s, i] = dist(r - i, r)`` (zero-padded)."""
    D = np.zeros((max(s.n for s in series), len(series), _MAX))
    for k, s in enumerate(series):
        D[: s.n, k, :] = s.band_dist[:, ::-1]
    return D


def _dp_batch(D: np.ndarray, gammas: np.ndarray) -> np.ndarray:
    """``find_best_partition(gamma, 1, 20, 0, n)`` for several series at once; row s holds series s's ``p``.

    asv's recursion: ``B[r + 1] = min over left in [r - 19, r] of (B[left] + gamma) + dist(left, r)``, keeping
    the last left edge among equal totals (its ``<=``), ``p[r] = left - 1``. Here the candidate lefts are stored in
    descending order, so numpy's argmin (first minimum) picks the last left edge.
    """
    N, S, _ = D.shape
    # Bq[:, N + 19 - left] = B[left]: B[0] = -gamma; lefts below 0 are +inf.
    Bq = np.full((S, N + 2 * _MAX - 1), np.inf)
    Bq[:, N + _MAX - 1] = -gammas
    P = np.empty((N, S), dtype=np.int64)
    g = gammas[:, None]
    rows = np.arange(S)
    cand = np.empty((S, _MAX))
    top = N + _MAX - 1
    for r in range(N):
        lo = top - r  # column of B[r]; lefts r, r-1, ..., r-19 are columns lo .. lo+19
        np.add(Bq[:, lo : lo + _MAX], g, out=cand)
        cand += D[r]
        i = cand.argmin(axis=1)
        Bq[:, lo - 1] = cand[rows, i]
        P[r] = (r - 1) - i
    return P.T


def detect_steps_many(
    items: Sequence[tuple[Sequence, Sequence | None]], group: int = 64
) -> list[list[tuple]]:
    """``[asv.step_detect.detect_steps(y, w) for y, w in items]``, computed in lock-stepped groups of series."""
    if _sd._rangemedian is None:  # asv's pure-Python fallback: just call it
        return [_sd.detect_steps(list(y), None if w is None else list(w)) for y, w in items]
    prepared = [_Series(list(y), None if w is None else list(w)) for y, w in items]
    todo = sorted((s for s in prepared if s.steps is None), key=lambda s: s.n)
    for g0 in range(0, len(todo), group):
        _run_group(todo[g0 : g0 + group])
    return [s.steps for s in prepared]


def _run_group(group: list[_Series]) -> None:
    """Advance the golden searches of a group together (every search makes the same number of evaluations)."""
    active = list(group)
    stacks: dict[tuple[int, ...], np.ndarray] = {}
    while active:
        gammas = np.array([s.gamma_0 * math.exp(s.x) for s in active])
        multi = [k for k, s in enumerate(active) if s.n > 1]
        P = None
        if multi:
            ids = tuple(id(active[k]) for k in multi)
            if ids not in stacks:
                stacks.clear()
                stacks[ids] = _band_stack([active[k] for k in multi])
            P = _dp_batch(stacks[ids], gammas[multi])
        rows = {k: i for i, k in enumerate(multi)}
        still = []
        for k, s in enumerate(active):
            p = P[rows[k], : s.n].tolist() if k in rows else None
            obj = s.evaluate(float(gammas[k]), p)
            try:
                s.x = s.search.send(obj)
                still.append(s)
            except StopIteration:
                s.finish()
        active = still


def detect_steps(y: Sequence, w: Sequence | None = None) -> list[tuple]:
    """``asv.step_detect.detect_steps(y, w)``, exactly."""
    return detect_steps_many([(y, w)])[0]

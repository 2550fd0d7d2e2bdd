"""The ``evidence`` detection method (``detection.evidence``): significance from the stats recorded at each commit.

Oracle: asv's own ``asv._stats.is_different`` (what ``asv compare`` uses), on real samples and 99% CIs from
``results/django`` in the fixtures folder (schema v2, ``--record-samples``: 10 samples per commit).
"""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from asv._stats import is_different

from detection import DetectionConfig, detect, detect_many
from detection.evidence import STATS_PENALTY_MULTIPLIER, commits_differ, evidence_splits
from tests.support.common import fixture_path

ENV = "conda-py3.10"
BENCH = "data_struct_benchmarks.multi_value_dict.benchmark.MultiValueDictBench.time_multi_value_dict"
BOTH = DetectionConfig(methods=("rbf", "evidence"))


def real_points(n: int, bench: str = BENCH) -> list[dict]:
    """The first ``n`` commits (by date) of one benchmark on ubuntu-latest/py3.10: value, CI and samples."""
    folder = fixture_path("results", "django", "results", "ubuntu-latest")
    rows = []
    for path in sorted(folder.glob(f"*-{ENV}.json")):
        data = json.loads(path.read_text())
        cols = data["result_columns"]
        res = data["results"].get(bench)
        if res is None:
            continue
        r = dict(zip(cols, res, strict=False))
        if r["result"][0] is None or not r.get("samples"):
            continue
        rows.append(
            (
                data["date"],
                {
                    "value": r["result"][0],
                    "ci_99_a": r["stats_ci_99_a"][0],
                    "ci_99_b": r["stats_ci_99_b"][0],
                    "samples": r["samples"][0],
                },
            )
        )
    rows.sort(key=lambda t: t[0])
    if len(rows) < n:
        pytest.fail(f"{bench}: only {len(rows)} commits with samples in the fixtures, need {n}")
    return [p for _, p in rows[:n]]


def scaled(point: dict, factor: float) -> dict:
    return {
        "value": point["value"] * factor,
        "ci_99_a": point["ci_99_a"] * factor,
        "ci_99_b": point["ci_99_b"] * factor,
        "samples": [s * factor for s in point["samples"]],
    }


def asv_verdict(a: dict, b: dict, samples: bool = True) -> bool:
    return is_different(a["samples"] if samples else None, b["samples"] if samples else None, a, b)


def test_commits_differ_is_asv_is_different_on_real_neighbouring_commits():
    pts = real_points(40)
    pairs = list(itertools.pairwise(pts))
    pairs += [(a, scaled(b, 0.9)) for a, b in pairs]  # a real 10% step between the same commits
    seen = set()
    for a, b in pairs:
        for with_samples in (True, False):
            a2 = a if with_samples else {k: v for k, v in a.items() if k != "samples"}
            b2 = b if with_samples else {k: v for k, v in b.items() if k != "samples"}
            ours = commits_differ(a2, b2)
            assert ours == asv_verdict(a, b, with_samples)
            seen.add((with_samples, ours))
    # both verdicts occur with samples and with CIs only, so the comparison can fail either way
    assert seen == {(True, True), (True, False), (False, True), (False, False)}


def test_commits_differ_without_evidence_is_none():
    (a,) = real_points(1)
    assert commits_differ(None, a) is None
    assert commits_differ({"ci_99_a": None, "ci_99_b": 1.0}, a) is None
    assert (
        commits_differ({"ci_99_a": -math.inf, "ci_99_b": math.inf}, {"ci_99_a": 1.0, "ci_99_b": math.inf})
        is None
    )
    # samples alone are enough when there are enough of them to reach asv's threshold
    b = scaled(a, 0.5)
    assert commits_differ({"samples": a["samples"]}, {"samples": b["samples"]}) is True
    assert commits_differ({"samples": a["samples"][:2]}, {"samples": b["samples"][:2]}) is None


def test_a_13000x_step_on_7_commits_is_kept_by_the_evidence_at_the_commits():
    """The issue's case: 3 commits then 4 commits 13,000x faster; rbf finds it but cannot call it significant."""
    pts = real_points(7)
    series = pts[:3] + [scaled(p, 1 / 13000) for p in pts[3:]]
    values = [p["value"] for p in series]
    cps, why = detect(values, "time", BOTH, point_stats=series)
    assert why is None
    rbf = [c for c in cps if c.method == "rbf"]
    assert [(c.index_after, c.significant) for c in rbf] == [(3, False)]  # the failure the method is for
    (ev,) = [c for c in cps if c.method == "evidence"]
    assert (ev.index_before, ev.index_after, ev.direction, ev.significant) == (2, 3, "improvement", True)
    assert ev.speedup == pytest.approx(13000, rel=0.2)
    assert asv_verdict(series[2], series[3])  # the oracle agrees on the verdict
    # the same through detect_many (a 6-tuple item), in this process and in a pool
    for workers in (1, 2):
        ((_, cps_many, _),) = detect_many([("k", values, "time", None, "", series)], BOTH, workers=workers)
        assert cps_many == cps


def test_without_recorded_stats_a_short_step_is_not_claimed():
    """Dashboards: one value per commit; with 3 vs 4 commits nothing reaches significance, so nothing is claimed."""
    pts = real_points(7)
    values = [p["value"] for p in pts[:3]] + [p["value"] / 13000 for p in pts[3:]]
    cps, _ = detect(values, "time", DetectionConfig(methods=("evidence",)))
    assert cps == []


def test_a_candidate_is_kept_exactly_when_asv_says_its_commits_differ():
    """Short real series with a mild step: the verdict follows is_different on the two commits around the split."""
    pts = real_points(40)
    kept = dropped = 0
    for start in range(0, 33, 3):
        window = pts[start : start + 7]
        for factor in (0.97, 0.9, 0.5):
            series = window[:3] + [scaled(p, factor) for p in window[3:]]
            x = np.array([p["value"] for p in series])
            # every candidate (alpha 2: no segment test can fail), at the penalty used for series with stats
            candidates = evidence_splits(x, None, penalty_multiplier=STATS_PENALTY_MULTIPLIER, alpha=2.0)
            splits = evidence_splits(x, series)
            for t in candidates:
                if len(candidates) == 1:
                    expected = asv_verdict(series[t - 1], series[t])
                    assert (t in splits) == expected
                    kept += expected
                    dropped += not expected
    assert kept and dropped


def test_point_stats_must_align_with_values():
    pts = real_points(7)
    with pytest.raises(ValueError, match="6 point stats for 7 values"):
        detect([p["value"] for p in pts], "time", BOTH, point_stats=pts[:6])


def test_default_methods_unchanged_and_evidence_is_opt_in():
    assert DetectionConfig().methods == ("rbf", "asv")
    with pytest.raises(ValueError, match="unknown detection method"):
        DetectionConfig(methods=("nope",))


def test_with_recorded_stats_the_lower_candidate_penalty_finds_more_steps_asv_confirms():
    """6-commit real windows, 10% step at commit 3: 0.75 ln n candidates find steps 1.0 ln n misses, all confirmed."""
    pts = real_points(60)
    found = {1.0: 0, None: 0}
    for start in range(0, 54):
        window = pts[start : start + 6]
        series = window[:3] + [scaled(p, 0.9) for p in window[3:]]
        x = np.array([p["value"] for p in series])
        for c in found:
            splits = evidence_splits(x, series, penalty_multiplier=c)
            found[c] += 3 in splits
            # 3 vs 3 commits: no segment test can pass, so every kept split is asv's verdict on its two commits
            assert all(asv_verdict(series[t - 1], series[t]) for t in splits)
    assert found[None] > found[1.0]


def test_without_recorded_stats_evidence_keeps_the_significant_rbf_change_points():
    """Dashboards: on real django series (and with a 20% step planted), evidence = rbf's significant ones."""
    from tests.detection.test_detection_core import real_series

    for values in real_series().values():
        half = len(values) // 2
        for series in (values, values[:half] + [v * 0.8 for v in values[half:]]):
            cps, _ = detect(series, "time", BOTH)
            rbf = [c.index_after for c in cps if c.method == "rbf" and c.significant]
            assert [c.index_after for c in cps if c.method == "evidence"] == rbf

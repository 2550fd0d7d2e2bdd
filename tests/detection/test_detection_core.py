"""The change-point detection core (``detection``), tested against the libraries it reproduces and real data.

Oracles: ``ruptures.Pelt(model="rbf", jump=1)`` for the rbf method, ``asv.step_detect.detect_steps`` for the asv
method, the ``regressions.json`` that ``asv publish`` wrote for the bundled sample, and the sample's planted
changes (``samples/ground_truth.json``). Real series come from ``dashboards/django`` in the fixtures folder.
"""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from asv import step_detect

from detection import (
    DetectionConfig,
    asv_detect_steps,
    asv_weights,
    better_direction,
    detect,
    detect_many,
    persisting_regressions,
    rbf_breakpoints,
    rbf_reference,
)
from detection.stats import mannwhitney_p
from tests.support.common import PROJECT_ROOT, fixture_path

SAMPLE = PROJECT_ROOT / "samples"
UBUNTU_310 = "branch-main/machine-ubuntu-latest/python-3.10"
# Real django series of various machines and lengths (graph paths under dashboards/django/graphs).
REAL_SERIES = (
    "branch-main/machine-macos-12/python-3.10/form_benchmarks.form_render.benchmark.FormRender.time_small_form_render.json",
    "branch-main/machine-windows-2022/python-3.10/form_benchmarks.form_create.benchmark.FormCreate.time_form_create.json",
    "branch-main/machine-ubuntu-22.04/python-3.9/query_benchmarks.query_all.benchmark.QueryAll.time_query_all.json",
    "branch-main/machine-ubuntu-22.04/python-3.10/form_benchmarks.form_create.benchmark.FormCreate.time_form_create.json",
    "branch-main/machine-ubuntu-latest/python-3.11/query_benchmarks.query_all.benchmark.QueryAll.time_query_all.json",
    "branch-main/machine-ubuntu-latest/python-3.8/template_benchmarks.template_render.benchmark.TemplateRender.time_template_render.json",
    "branch-main/machine-ubuntu-latest/python-3.13/model_benchmarks.model_bulk_create.benchmark.ModelCreate.time_model_bulk_creation.json",
    f"{UBUNTU_310}/model_benchmarks.model_create.benchmark.ModelCreate.time_model_creation.json",  # 920 points
)


def django_series(rel: str) -> list[float]:
    path = fixture_path("dashboards", "django", "graphs", *rel.split("/"))
    return [v for _, v in json.loads(path.read_text()) if v is not None]


def real_series() -> dict[str, list[float]]:
    graphs = fixture_path("dashboards", "django", "graphs")
    out = {}
    for rel in REAL_SERIES:
        if not (graphs / rel).exists():  # keep the list honest: a renamed file must fail, not vanish
            pytest.fail(f"fixture series {rel} is missing")
        out[rel] = django_series(rel)
    return out


def boundaries(steps) -> list[tuple[int, int]]:
    """(last index before, first index after) between consecutive asv steps."""
    return [(a[1] - 1, b[0]) for a, b in itertools.pairwise(steps)]


# --- the bundled sample, built the way `asv publish` builds its graphs ------------------------------------------


def sample_commits() -> list[dict]:
    return json.loads((SAMPLE / "ground_truth.json").read_text())["commits"]


def sample_series() -> dict[tuple[str, int | None], dict]:
    """Every (benchmark, param index) series of samples/results, ordered by commit date.

    As ``asv publish``: one point per result file (one machine, one environment here, so no averaging), the
    value from the row's ``result`` column, the weight ``2 / |ci_99_b - ci_99_a|`` from its ``stats_ci_99_*``
    columns (None where a row has no statistics); a parameterised benchmark gives one series per combination
    (``itertools.product`` order), keyed by its flat index as ``regressions.json`` does.
    """
    benchmarks = json.loads((SAMPLE / "results" / "benchmarks.json").read_text())
    files = [
        json.loads(p.read_text()) for p in sorted((SAMPLE / "results" / "datasmith-sample").glob("*-*.json"))
    ]
    files.sort(key=lambda d: d["date"])
    series: dict[tuple[str, int | None], dict] = {}
    for d in files:
        for name, row in d["results"].items():
            bench = benchmarks[name]
            assert row[2] == bench["version"]  # asv publish skips results of another benchmark version
            cols = dict(zip(d["result_columns"], row, strict=False))
            result = cols["result"]
            count = len(result)
            ci_a = cols.get("stats_ci_99_a") or [None] * count
            ci_b = cols.get("stats_ci_99_b") or [None] * count
            for idx in range(count):
                key = (name, idx if bench["params"] else None)
                s = series.setdefault(
                    key, {"type": bench["type"], "values": [], "a": [], "b": [], "commits": []}
                )
                s["values"].append(result[idx])
                s["a"].append(ci_a[idx])
                s["b"].append(ci_b[idx])
                s["commits"].append(d["commit_hash"])
    for s in series.values():
        s["weights"] = asv_weights(s["values"], s["a"], s["b"])
    return series


def param_label(name: str, idx: int | None) -> str:
    """ground_truth.json's spelling of a parameter combination: `n=200, kind='ints'`."""
    if idx is None:
        return ""
    bench = json.loads((SAMPLE / "results" / "benchmarks.json").read_text())[name]
    combo = list(itertools.product(*bench["params"]))[idx]
    return ", ".join(f"{k}={v}" for k, v in zip(bench["param_names"], combo, strict=True))


# --- skipping -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ([], "no finite values"),
        ([float("nan")] * 12, "no finite values"),
        ([None, None, None, None, None], "no finite values"),
        ([1.0, 2.0, 3.0], "too short"),
        ([1.0, None, 2.0, float("nan"), 3.0, float("inf")], "too short"),
        ([0.25] * 40, "constant"),
        ([7] * 5, "constant"),
    ],
)
def test_short_constant_or_empty_series_are_skipped_with_a_reason(values, reason):
    cps, why = detect(values, "time", DetectionConfig())
    assert cps == []
    assert why is not None and why.startswith(reason)


def test_missing_values_are_ignored_and_indices_refer_to_the_given_series():
    base = [1.0, 1.01, 0.99, 1.0, 1.02, 0.98, 1.0, 1.01] * 3
    values = [*base[:12], None, float("nan"), *[v * 2 for v in base[12:]]]
    cps, why = detect(values, "time", DetectionConfig())
    assert why is None
    assert {(c.method, c.index_before, c.index_after) for c in cps} == {("rbf", 11, 14), ("asv", 11, 14)}


# --- a step of known size in real noise -------------------------------------------------------------------------

FLAT = f"{UBUNTU_310}/form_benchmarks.form_create.benchmark.FormCreate.time_form_create.json"
FLAT_START, FLAT_LEN, STEP_AT = 560, 80, 40


@pytest.mark.parametrize(("factor", "direction"), [(1.2, "regression"), (1 / 1.2, "improvement")])
def test_a_20_percent_step_in_real_noise_is_found_at_its_index(factor, direction):
    stretch = django_series(FLAT)[FLAT_START : FLAT_START + FLAT_LEN]
    config = DetectionConfig()
    assert detect(stretch, "time", config) == ([], None)  # the stretch itself is flat for both methods
    values = stretch[:STEP_AT] + [v * factor for v in stretch[STEP_AT:]]
    cps, why = detect(values, "time", config)
    assert why is None
    assert [(c.method, c.index_before, c.index_after) for c in cps] == [
        ("rbf", STEP_AT - 1, STEP_AT),
        ("asv", STEP_AT - 1, STEP_AT),
    ]
    for c in cps:
        assert c.direction == direction
        assert c.speedup == pytest.approx(1 / factor, rel=0.03)
        assert c.relative_change == pytest.approx(factor - 1, rel=0.15)
        assert c.value_after / c.value_before == pytest.approx(factor, rel=0.03)
        assert (c.n_before, c.n_after) == (STEP_AT, FLAT_LEN - STEP_AT)
        assert c.significant and c.p_value < 1e-6
        assert c.passes_floor


# --- the rbf method is ruptures' PELT exactly ------------------------------------------------------------------


def test_rbf_breakpoints_equal_ruptures_jump_1_on_real_series():
    for rel, values in real_series().items():
        x = np.asarray(values, dtype=float)
        n = len(x)
        settings = [(np.log(x), math.log(n))]  # the default: log-values, ln n
        if n <= 300:
            settings.append((x, 3 * math.log(n)))  # the original's: raw values, 3 ln n
        for signal, pen in settings:
            expected = rbf_reference(signal, jump=1, penalty=pen, min_size=2)
            assert rbf_breakpoints(signal, pen, 2) == expected, rel


def test_rbf_near_ties_settled_with_ruptures_arithmetic():
    """Ties everywhere (few distinct values), every decision forced through the exact path, several min sizes."""
    rng = np.random.default_rng(7)
    for trial in range(40):
        n = int(rng.integers(4, 70))
        if trial % 2:
            x = rng.integers(0, 3, size=n).astype(float)
        else:
            x = np.repeat(rng.integers(0, 4, size=n // 4 + 1), 4)[:n].astype(float)
        for m in (1, 2, 3):
            for pen in (0.5, math.log(n), 3 * math.log(n)):
                expected = rbf_reference(x, jump=1, penalty=pen, min_size=m)
                assert rbf_breakpoints(x, pen, m) == expected
                assert rbf_breakpoints(x, pen, m, tolerance_scale=1e12) == expected


def test_detect_rbf_uses_log_values_and_the_default_penalty():
    values = django_series(REAL_SERIES[4])
    cps, _ = detect(values, "time", DetectionConfig(methods=("rbf",)))
    x = np.log(np.asarray(values, dtype=float))
    bkps = rbf_reference(x, jump=1, penalty=math.log(len(x)), min_size=2)
    assert [c.index_after for c in cps] == bkps[:-1]


# --- the asv method is asv's step detection exactly ------------------------------------------------------------


def test_asv_steps_equal_detect_steps_on_real_series():
    graphs = fixture_path("dashboards", "django", "graphs")
    longest = max(
        (
            p
            for p in graphs.glob("branch-main/machine-ubuntu-latest/python-3.10/*.json")
            if p.name != "summary.json"
        ),
        key=lambda p: p.stat().st_size,
    )
    cases = {**real_series(), "longest": django_series(str(longest.relative_to(graphs)))}
    config = DetectionConfig(methods=("asv",))
    for rel, values in cases.items():
        reference = step_detect.detect_steps(values)
        assert asv_detect_steps(values) == reference, rel
        cps, why = detect(values, "time", config)
        assert why is None
        assert [(c.index_before, c.index_after) for c in cps] == boundaries(reference), rel


def test_asv_weighted_steps_equal_detect_steps_on_the_sample():
    """Weighted as asv publish weights them: from each point's 99% confidence interval."""
    for s in sample_series().values():
        assert asv_detect_steps(s["values"], s["weights"]) == step_detect.detect_steps(
            s["values"], s["weights"]
        )


def test_asv_weighted_steps_equal_detect_steps_with_ties_and_missing_weights():
    rng = np.random.default_rng(3)
    values = django_series(REAL_SERIES[3])
    weights = rng.choice([0.5, 1.0, 2.0, None, 3.5, 0.0], size=len(values)).tolist()  # 0: point left out
    rounded = [round(v, 4) for v in values]  # equal values with different weights
    for ys in (values, rounded):
        assert asv_detect_steps(ys, weights) == step_detect.detect_steps(ys, weights)


def test_asv_weights_are_asv_publish_weights():
    from asv import _stats

    a = [1.0, 2.0, None, 1.0, -math.inf, 3.0]
    b = [1.5, 2.0, 1.0, 1.2, 1.0, 2.5]
    values = [1.2, 2.0, 1.0, None, 0.5, 2.7]
    expected = []
    for v, lo, hi in zip(values, a, b, strict=True):
        stats = None if lo is None else {"ci_99_a": lo, "ci_99_b": hi}
        expected.append(None if v is None else _stats.get_weight(stats))
    assert asv_weights(values, a, b) == expected


# --- persisting regressions reproduce asv publish's regressions.json ---------------------------------------------


def test_persisting_regressions_reproduce_the_sample_regressions_json():
    published = json.loads((SAMPLE / "dashboard" / "regressions.json").read_text())["regressions"]
    index = json.loads((SAMPLE / "dashboard" / "index.json").read_text())
    commits = [c["commit"] for c in sample_commits()]
    revision = {h: int(r) for r, h in index["revision_to_hash"].items()}
    assert [revision[h] for h in commits] == list(
        range(len(commits))
    )  # linear history, consecutive revisions
    parent = {c["commit"]: c["parent"] for c in sample_commits()}
    benchmarks = json.loads((SAMPLE / "results" / "benchmarks.json").read_text())

    ours = []
    for (name, idx), s in sample_series().items():
        revs = [revision[h] for h in s["commits"]]
        assert revs == sorted(revs)
        last, best, jumps = persisting_regressions(s["values"], s["weights"], revs)
        if last is None:
            continue
        # asv publish: a range that is a single commit in git is reported with a null start
        jumps = [
            [
                None if parent[index["revision_to_hash"][str(b)]] == index["revision_to_hash"][str(a)] else a,
                b,
                va,
                vb,
            ]
            for a, b, va, vb in jumps
        ]
        entry_name = (
            name
            if idx is None
            else f"{name}({', '.join(list(itertools.product(*benchmarks[name]['params']))[idx])})"
        )
        ours.append([entry_name, idx, last, best, jumps])
    assert sorted(ours, key=str) == sorted(([e[0], e[3], e[4], e[5], e[6]] for e in published), key=str)
    assert len(ours) == 1 and ours[0][4] == [[None, 6, 0.00013145917682777508, 0.0020773667000412387]]


# --- the sample's planted changes --------------------------------------------------------------------------------


def test_both_methods_find_exactly_the_planted_changes_of_the_sample():
    truth = json.loads((SAMPLE / "ground_truth.json").read_text())
    position = {c["commit"]: i for i, c in enumerate(truth["commits"])}
    planted = {(c["benchmark"], c["params"]): c for c in truth["changes"]}
    config = DetectionConfig()
    seen = set()
    for (name, idx), s in sample_series().items():
        assert [position[h] for h in s["commits"]] == list(
            range(len(truth["commits"]))
        )  # ordered by commit date
        cps, why = detect(s["values"], s["type"], config, weights=s["weights"], benchmark=name)
        key = (name, param_label(name, idx))
        change = planted.get(key)
        for method in config.methods:
            mine = [c for c in cps if c.method == method]
            qualified = [c for c in mine if c.passes_floor and c.significant]
            if change is None:
                assert not [c for c in qualified if c.direction == "improvement"], (key, method, qualified)
                continue
            at = position[change["commit"]]
            hits = [c for c in mine if c.index_after == at and c.index_before == at - 1]
            assert len(hits) == 1, (key, method, mine)
            hit = hits[0]
            assert hit.direction == change["direction"] and hit.passes_floor and hit.significant, (
                key,
                method,
                hit,
            )
            ratio = hit.speedup if change["direction"] == "improvement" else 1 / hit.speedup
            assert ratio >= change["expected_speedup_at_least"], (key, method, hit)
            others = [c for c in qualified if c is not hit and c.direction == "improvement"]
            assert not others, (key, method, others)
            seen.add(key)
        if name == "bench_core.track_distinct_words":
            assert why is not None and why.startswith("constant")
    assert seen == set(planted)


# --- directions, statistics, many series -------------------------------------------------------------------------


def test_directions():
    config = DetectionConfig(
        track_direction={"m.track_hits": "higher_is_better", "m.track_misses": "lower_is_better"}
    )
    assert better_direction("time", config) == "lower"
    assert better_direction("peakmemory", config) == "lower"
    assert better_direction("memory", config) == "lower"
    assert better_direction("track", config, "m.track_other") is None
    values = [10.0, 10.1, 9.9, 10.0, 10.05, 9.95] * 3 + [20.0, 20.2, 19.8, 20.1, 19.9, 20.0] * 3
    for bench, expected in (
        ("m.track_hits", "improvement"),
        ("m.track_misses", "regression"),
        ("m.track_x", "unknown"),
    ):
        cps, _ = detect(values, "track", config, benchmark=bench)
        assert cps and {c.direction for c in cps} == {expected}
    with pytest.raises(ValueError):
        DetectionConfig(track_direction={"x": "up"})
    with pytest.raises(ValueError):
        DetectionConfig(methods=("rbf", "bocpd"))


def test_mann_whitney_matches_scipy():
    from scipy.stats import mannwhitneyu

    rng = np.random.default_rng(11)
    for trial in range(300):
        a = rng.normal(size=int(rng.integers(1, 25)))
        b = rng.normal(size=int(rng.integers(1, 40))) + rng.choice([0.0, 0.7, 3.0])
        if trial % 3 == 0:
            a, b = np.round(a, 1), np.round(b, 1)
        assert mannwhitney_p(a, b) == pytest.approx(mannwhitneyu(a, b).pvalue, abs=1e-12)


def test_detect_many_in_processes_equals_detect_in_order():
    graphs = fixture_path("dashboards", "django", "graphs")
    paths = sorted(
        p for p in graphs.glob("branch-main/machine-macos-12/python-3.10/*.json") if p.name != "summary.json"
    )
    items = [(p.name, django_series(str(p.relative_to(graphs))), "time", None, p.name) for p in paths]
    items.append(("short", [1.0, 2.0], "time", None, "short"))
    config = DetectionConfig()
    parallel = list(detect_many(items, config, workers=2, chunk_size=5))
    assert [key for key, _, _ in parallel] == [item[0] for item in items]
    for (key, cps, why), item in zip(parallel, items, strict=True):
        assert (cps, why) == detect(item[1], "time", config), key
    assert parallel[-1][2].startswith("too short")


def test_segment_statistics():
    values = [1.0, 1.1, 0.9, 1.0, 1.05, 0.95, 1.0, 1.02] * 2 + [2.0, 2.2, 1.8, 2.0, 2.1, 1.9, 2.0, 2.04] * 2
    (rbf, asv), _ = detect(values, "time", DetectionConfig())
    for c in (rbf, asv):
        before, after = np.asarray(values[:16]), np.asarray(values[16:])
        assert (c.index_before, c.index_after, c.n_before, c.n_after) == (15, 16, 16, 16)
        assert c.value_before == np.median(before) and c.value_after == np.median(after)
        assert c.mean_before == pytest.approx(before.mean()) and c.mean_after == pytest.approx(after.mean())
        q = np.percentile(before, [25, 75])
        assert c.spread_before == pytest.approx(q[1] - q[0])
        assert c.relative_change == pytest.approx(1.0) and c.speedup == pytest.approx(0.5)
        assert c.direction == "regression" and c.significant and c.passes_floor

"""The runner's terminal bar (ingest/progress.py): commits measured of those to measure, rate, ETA."""

from __future__ import annotations

import io
import re

import pytest

from benchmark_runner.runner import Runner
from benchmark_runner.settings import RunSettings
from tests.project.test_progress_bar import FakeTty, drawn
from tests.support.runner_support import REPO, fake_asv, toy_repository


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return toy_repository(tmp_path_factory.mktemp("toy"))


def settings(tmp, toy) -> RunSettings:
    repo, config, _ = toy
    return RunSettings(
        repo=REPO, repository=str(repo), asv_config=config, machine="fake-box", work_dir=tmp / "work",
        results_dir=tmp / "out", jobs=2, cores_per_job=1, timeout_s=60, asv_args=("-a", "rounds=1"),
    )  # fmt: skip


def test_a_run_on_a_terminal_draws_commits_done_of_total_with_rate_and_eta(tmp_path, toy, monkeypatch):
    fake_asv(tmp_path, monkeypatch)
    stream = FakeTty()
    lines: list[str] = []
    report = Runner(settings(tmp_path, toy), lines.append, progress_stream=stream).run(toy[2][:3])
    assert report.counts == {"ok": 3}
    last = drawn(stream)[-1]
    source = re.escape(settings(tmp_path, toy).source_name)
    # rate: commits a second, or seconds a commit when slower than one a second
    rate = r" *[0-9.]+(k|M)?(commits/s|s/commits)"
    assert re.fullmatch(rf"{source} benchmarks: 3/3 commits \|#+\|{rate} ETA 00:00 *", last), last
    # each commit's plain line is still said, above the bar
    assert sum(bool(re.search(r": ok in .* \(\d/3\)$", line)) for line in lines) == 3


def test_a_run_off_a_terminal_writes_no_bar(tmp_path, toy, monkeypatch):
    fake_asv(tmp_path, monkeypatch)
    stream = io.StringIO()
    lines: list[str] = []
    report = Runner(settings(tmp_path, toy), lines.append, progress_stream=stream).run(toy[2][:2])
    assert report.counts == {"ok": 2} and stream.getvalue() == ""
    assert [line for line in lines if re.search(r"\(\d/2\)$", line)][-1].endswith("(2/2)")

"""The shared progress bar (ingest/progress.py): drawn on a terminal, silent elsewhere and inside Dagster."""

from __future__ import annotations

import io
import os
import re
import select

import dagster as dg

from ingest.progress import ProgressBar, bar_wanted, in_dagster_run


class FakeTty(io.StringIO):
    """A terminal as far as a writer can tell."""

    def isatty(self) -> bool:
        return True


def drawn(stream: io.StringIO) -> list[str]:
    """The bar's successive renderings (tqdm redraws in place with a carriage return)."""
    return [part for part in re.split(r"[\r\n]", stream.getvalue()) if part.strip()]


def test_a_terminal_gets_a_bar_with_done_total_rate_and_eta():
    stream = FakeTty()
    with ProgressBar("detection", total=4, unit="series", stream=stream) as bar:
        for done in range(1, 5):
            bar.update(done)
    last = drawn(stream)[-1]
    assert last.startswith("detection: 4/4 series |")
    assert re.search(r"\| *[0-9.]+(k|M)?(series/s|s/series) ETA 00:00$", last), last
    assert stream.getvalue().endswith("\n")  # closed: the bar stays, the next line starts below it


def test_a_total_that_grows_is_redrawn():
    stream = FakeTty()
    with ProgressBar("dashboard crawl", unit="files", stream=stream) as bar:
        bar.update(1, 2)
        bar.update(2, 10)
        bar.update(10)
    assert drawn(stream)[-1].startswith("dashboard crawl: 10/10 files")


def test_lines_are_printed_above_the_bar_and_the_bar_redrawn():
    stream = FakeTty()
    with ProgressBar("x", total=2, unit="items", stream=stream) as bar:
        say = bar.lines(lambda message: stream.write(message + "\n"))
        bar.update(1)
        say("a plain progress line")
        bar.update(2)
    text = stream.getvalue()
    before, after = text.split("a plain progress line\n")
    assert "x: 0/2 items" in before and before.endswith("\r")  # the bar cleared: the line starts on its own
    assert "x: 2/2 items" in after  # and drawn again below it


def test_not_a_terminal_nothing_is_written_and_lines_pass_through():
    stream = io.StringIO()
    said: list[str] = []
    with ProgressBar("detection", total=3, unit="series", stream=stream) as bar:
        say = bar.lines(said.append)
        for done in range(1, 4):
            bar.update(done)
        say("detection: 3/3 series")
        assert not bar.active
    assert stream.getvalue() == ""
    assert said == ["detection: 3/3 series"]


def test_inside_a_dagster_run_nothing_is_drawn_even_on_a_terminal():
    stream = FakeTty()
    seen: dict[str, bool] = {}

    @dg.asset
    def long_work() -> None:
        seen["in_run"] = in_dagster_run()
        with ProgressBar("detection", total=2, unit="series", stream=stream) as bar:
            seen["active"] = bar.active
            bar.update(2)

    assert not in_dagster_run()
    assert bar_wanted(stream)
    assert dg.materialize([long_work]).success
    assert seen == {"in_run": True, "active": False}
    assert stream.getvalue() == ""


def test_a_terminal_that_reports_no_size_still_gets_a_bar():
    """A fresh pseudo-terminal says 0 columns and 0 rows (as under `script`, or an ssh without a size):
    tqdm would draw an empty bar there; the bar takes a fixed width instead."""
    master, slave = os.openpty()
    stream = os.fdopen(slave, "w")
    try:
        assert os.get_terminal_size(slave) == (0, 0) and bar_wanted(stream)
        with ProgressBar("dashboard crawl", total=3, unit="files", stream=stream) as bar:
            bar.update(3)
        stream.flush()
        written = b""
        while select.select([master], [], [], 0.5)[0]:
            chunk = os.read(master, 65536)
            if not chunk:
                break
            written += chunk
    finally:
        stream.close()
        os.close(master)
    assert re.search(r"dashboard crawl: 3/3 files \|.+\| .*files/s ETA 00:00", written.decode()), written

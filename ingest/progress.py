"""A progress bar for long work in a terminal: items done/total, rate and ETA (tqdm, which Dagster
already depends on).

The bar is drawn only when its stream (``sys.stderr`` by default) is a terminal and the code is not
running inside a Dagster run (the run's log, the UI, and ``datasmith materialize`` keep their plain
lines). Otherwise every method is a no-op, so the callers' plain progress lines stay exactly as
they were. Used by the dashboard crawl, the benchmark runner and detection.
"""

from __future__ import annotations

import io
import os
import sys
import threading
from collections.abc import Callable
from typing import TextIO

FALLBACK_COLUMNS = 100
BAR_FORMAT = "{desc}: {n_fmt}/{total_fmt} {unit} |{bar}| {rate_fmt} ETA {remaining}"


def in_dagster_run() -> bool:
    """True inside an op or asset of a Dagster run (without importing Dagster when it is not loaded)."""
    if "dagster" not in sys.modules:
        return False
    try:
        from dagster._core.execution.context.compute import current_execution_context
    except ImportError:  # a Dagster without it: take the safe side, plain lines
        return True
    return current_execution_context.get() is not None


def bar_wanted(stream: TextIO) -> bool:
    """Whether a bar goes to ``stream``: a terminal, outside a Dagster run."""
    isatty = getattr(stream, "isatty", None)
    try:
        tty = bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False
    return tty and not in_dagster_run()


def _columns(stream) -> int:
    """The terminal's width in columns; 0 when it does not say (no file descriptor, a bare pty)."""
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return 0


class ProgressBar:
    """``update(done, total)`` as work goes; ``close()`` (or the ``with`` block) at the end."""

    def __init__(self, description: str, total: int | None = None, unit: str = "items", stream=None):
        stream = sys.stderr if stream is None else stream
        self._bar = None
        self._stream = stream
        self._lock = threading.Lock()
        if not bar_wanted(stream):
            return
        from tqdm import tqdm

        sized = _columns(stream) > 0  # a terminal of zero columns (a bare pty) would get an empty bar
        self._bar = tqdm(
            total=total,
            desc=description,
            unit=unit,
            file=stream,
            bar_format=BAR_FORMAT,
            smoothing=0,  # the rate is items done over the time so far
            mininterval=0.2,
            dynamic_ncols=sized,
            ncols=None if sized else FALLBACK_COLUMNS,
            nrows=None if sized else 24,  # tqdm hides a bar below a screen it takes for 0 rows
            leave=True,
        )

    @property
    def active(self) -> bool:
        return self._bar is not None

    def update(self, done: int, total: int | None = None) -> None:
        """Items done so far (and the total, when it grew)."""
        if self._bar is None:
            return
        with self._lock:
            if total is not None and total != self._bar.total:
                self._bar.total = total
                self._bar.refresh()
            if done != self._bar.n:
                self._bar.update(done - self._bar.n)

    def lines(self, say: Callable[[str], None]) -> Callable[[str], None]:
        """``say`` printing its line above the bar (the bar is cleared and redrawn around it)."""
        if self._bar is None:
            return say

        def above(message: str) -> None:
            with self._lock, self._bar.external_write_mode(file=self._stream):
                say(message)

        return above

    def close(self) -> None:
        if self._bar is not None:
            with self._lock:
                self._bar.close()
            self._bar = None

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()
